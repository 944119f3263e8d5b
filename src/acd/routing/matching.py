"""The matching mechanics under :class:`acd.routing.router.Router`.

Indexes, timers and the few moves every event handler is built from: put a call where
it belongs (an agent, the next queue, or a pool), free an agent (the best waiting call,
or its pools), ring, and the agent-side transitions.  Each move keeps the one promise
the router makes: no waiting call ever has an eligible agent sitting available.

Cost per decision, independent of the number of agents and calls apart from heap
logarithms: a call scans at most ten proficiency levels of its queue; a freed agent
peeks the head of each expansion step of each queue it serves.

This is the hot path of both the engine and the simulator (a million simulated calls
are a few million passes through here), so it is written for CPython's sake: enum
members are bound to module constants (``AgentState.AVAILABLE`` is a slow class
attribute lookup on 3.11), state strings are read from ``_value_`` rather than the
``value`` property, heap entries are built inline, a freed agent appends one shared
entry to all its pools (sorted deques: agents are freed in time order), and a busy
agent's pool entries are left to go stale with nothing recorded
(:class:`acd.routing.pools.AgentPool`).
"""

from __future__ import annotations

from heapq import heappush
from typing import Any

from acd.routing.config import RoutingConfig
from acd.routing.decisions import (
    AgentStateChanged,
    CallOverflowed,
    CallRequeued,
    CallTimedOut,
    CancelRing,
    Outcome,
    RingAgent,
    RingNoAnswer,
)
from acd.routing.decisions import positional_constructor
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState, QueueRuntime
from acd.routing.pools import AgentPool, Timers, join_in_order

Out = list[Outcome]

# The outcomes every routed call makes, built without going through ``type.__call__``
# (decisions.positional_constructor: the same objects, for less); every field is given.
new_ring_agent = positional_constructor(RingAgent)
new_agent_state_changed = positional_constructor(AgentStateChanged)

_INF = float("inf")
_AVAILABLE = AgentState.AVAILABLE
_RESERVED = AgentState.RESERVED
_WRAP_UP = AgentState.WRAP_UP
_PAUSED = AgentState.PAUSED
_WAITING = CallState.WAITING
_RINGING = CallState.RINGING
_SWEEP_MIN = 8  # agent-pool pushes between two pool sweeps, at least
# Each agent pool is swept once every ``_SWEEP_ROUNDS * places`` pushes.  A sweep costs a
# fixed ~0.5 µs plus a little per entry, and a pool is small (places / pools entries), so
# sweeping after every ``places`` pushes spent 3 % of a simulation (``acd bench
# simulate``, sampled) mostly on that fixed part; with eight rounds it is under 2 %, and
# memory stays O(places) all the same.
_SWEEP_ROUNDS = 8


class MatchingCore:
    """State and matching moves; the public event API lives in the Router subclass."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._queues: dict[str, QueueRuntime] = {cfg.name: QueueRuntime.compile(cfg) for cfg in config.queues}
        self._agents: dict[str, AgentRecord] = {}
        self._calls: dict[str, CallRecord] = {}
        self._timers: Timers[Any] = Timers()
        self._clock = float("-inf")
        self._tokens = 0
        self._seq = 0
        self._agent_pools: list[AgentPool] = []
        self._swept = 0  # index in _agent_pools of the pool swept last
        self._newest_idle = -_INF  # the latest idle_since any agent pool entry has (see _free_agent)
        # One bit per queue (QueueRuntime.bit), set while the queue has a waiting call: a
        # freed agent whose queues' bits (AgentRecord.queue_bits) miss all of them has no
        # call to look for, which is most frees, and one ``&`` says so.
        self._waiting_bits = 0
        self._pushes_left = self._sweep_every = _SWEEP_MIN  # agent-pool pushes until the next sweep
        # After a new routing file (acd.routing.reconfigure): agents it removed who are
        # still talking (forgotten when their call ends), and queues it removed that still
        # hold callers (they take no new ones).
        self._departing: set[str] = set()
        self._retired: frozenset[str] = frozenset()
        self._index_agents()

    def _index_agents(self) -> None:
        """Skill index -> per-queue proficiency pools, so no decision ever scans all agents."""
        by_skill: dict[str, dict[str, int]] = {skill: {} for skill in self.config.skills}
        for agent in self.config.agents:
            for skill, level in agent.skills.items():
                by_skill[skill][agent.id] = level
        entries: dict[str, list[tuple[QueueRuntime, int, AgentPool]]] = {agent.id: [] for agent in self.config.agents}
        for index, queue in enumerate(self._queues.values()):
            queue.bit = 1 << index
            holders = sorted((by_skill[skill] for skill in queue.skills), key=len)
            levels: dict[str, int] = dict(holders[0])
            for other in holders[1:]:
                levels = {agent_id: min(level, other[agent_id]) for agent_id, level in levels.items() if agent_id in other}
            pools: dict[int, AgentPool] = {level: AgentPool() for level in sorted(set(levels.values()), reverse=True)}
            queue.agent_pools = list(pools.items())
            for agent_id, level in levels.items():
                entries[agent_id].append((queue, level, pools[level]))
        places = 0
        for agent in self.config.agents:
            mine = entries[agent.id]
            places += len(mine)
            self._agents[agent.id] = AgentRecord(
                id=agent.id, name=agent.name, endpoint=agent.endpoint, entries=mine, lines=tuple(pool.line for _q, _l, pool in mine),
                queue_bits=sum(queue.bit for queue, _l, _p in mine),
            )
        self._agent_pools = [pool for queue in self._queues.values() for _level, pool in queue.agent_pools]
        # One pool is swept every ``rounds * places / pools`` pushes, so each pool is swept
        # once every ``rounds * places`` pushes: at most that many entries can go stale in
        # between, which bounds the pools' memory to O(places) at O(1) amortised per push,
        # and no single decision pays for more than one pool (unlike sweeping all at once).
        self._sweep_every = self._pushes_left = max(_SWEEP_MIN, _SWEEP_ROUNDS * places // max(1, len(self._agent_pools)))

    def _sweep_next_pool(self) -> None:
        """Drop the stale entries busy agents left in the next agent pool (see AgentPool)."""
        pools = self._agent_pools
        if pools:
            self._swept = (self._swept + 1) % len(pools)
            pools[self._swept].compact()
        self._pushes_left = self._sweep_every

    def _tick(self, now: float, out: Out) -> float:
        if not -_INF < now < _INF:  # also catches NaN
            now = self._clock if -_INF < self._clock < _INF else 0.0
        elif now < self._clock:
            now = self._clock
        heap = self._timers.heap
        if heap and heap[0][0] <= now:
            pop_due = self._timers.pop_due
            while (due := pop_due(now)) is not None:
                at, owner = due
                if at > self._clock:
                    self._clock = at
                if owner.__class__ is CallRecord:
                    self._unwait(owner)
                    self._place_call(owner, at, out)
                elif owner.state is _RESERVED:
                    self._ring_no_answer(owner, at, out, reported=False)
                elif owner.state is _WRAP_UP:
                    self._end_wrap_up(owner, at, out)
        self._clock = now
        return now

    def _next_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def _transition(self, agent: AgentRecord, state: AgentState, reason: str, at: float, out: Out, call: CallRecord | None = None) -> None:
        if call is None:
            out.append(new_agent_state_changed(agent.id, state._value_, agent.state._value_, reason, at, None, None))
        else:
            out.append(new_agent_state_changed(agent.id, state._value_, agent.state._value_, reason, at, call.id, call.queue.name))
        agent.state = state
        agent.reason = reason
        agent.since = at

    def _leave_pools(self, agent: AgentRecord) -> None:
        """Out of every pool at once: the entries go stale and are swept later (AgentPool)."""
        agent.token = 0

    def _unwait(self, call: CallRecord) -> None:
        """Take a waiting call out of its pool and cancel its expansion timer."""
        if call.token:
            call.token = 0
            queue = call.queue
            queue.call_pools[call.step].forget_one()
            queue.waiting = waiting = queue.waiting - 1
            if not waiting:
                self._waiting_bits ^= queue.bit
        if call.timer_token:
            self._timers.cancel(call)

    def _best_agent(self, queue: QueueRuntime, min_level: int) -> AgentRecord | None:
        for level, pool in queue.agent_pools:
            if level < min_level:
                return None
            line = pool.line
            while line:
                entry = line[0]
                agent: AgentRecord = entry[2]
                if agent.token == entry[1]:
                    return agent
                line.popleft()
        return None

    def _place_call(self, call: CallRecord, at: float, out: Out) -> None:
        """Put a call that is in no pool where it belongs: an agent, the next queue, or a pool."""
        while True:
            queue = call.queue
            exit_after = queue.exit_after
            if exit_after is not None and call.entered + exit_after <= at:  # queue.exit_due, inline
                waited = at - call.wait_origin
                if queue.exit_to is None:
                    del self._calls[call.id]
                    out.append(CallTimedOut(call.id, queue.name, waited, at))
                    return
                target = self._queues[queue.exit_to]
                out.append(CallOverflowed(call.id, queue.name, target.name, waited, queue.exit_reason, at))
                call.queue = target
                call.entered = at
                continue
            after = queue.step_after  # queue.step_at, inline
            step = len(after) - 1
            entered = call.entered
            while step > 0 and entered + after[step] > at:
                step -= 1
            min_level = queue.step_min[step]
            for level, agent_pool in queue.agent_pools:  # self._best_agent, inline
                if level < min_level:
                    break
                line = agent_pool.line
                while line:
                    entry = line[0]
                    agent: AgentRecord = entry[2]
                    if agent.token == entry[1]:
                        self._ring(agent, call, at, out)
                        return
                    line.popleft()
            call.state = _WAITING
            call.step = step
            self._tokens += 1
            call.token = token = self._tokens
            pool = queue.call_pools[step]
            heappush(pool.heap, (-call.priority, call.wait_origin, call.seq, token, call))  # Pool.push of sort_key()
            if not queue.waiting:
                self._waiting_bits |= queue.bit
            queue.waiting += 1
            deadline = queue.next_change(call.entered, step)
            if deadline is not None:
                self._timers.schedule(deadline, call)
            return

    def _ring(self, agent: AgentRecord, call: CallRecord, at: float, out: Out) -> None:
        agent.token = 0  # _leave_pools
        call.state = _RINGING
        call.agent = agent
        agent.call = call
        # An override (a customer-first callback's) holds until a ring goes unanswered
        # (_ring_no_answer) or the engine ends it; a ring cancelled because the agent was
        # paused or logged out keeps it for the next agent.
        timeout = call.ring_timeout_s or call.queue.ring_timeout_s
        timers = self._timers  # Timers.schedule, inline
        if agent.timer_token:
            timers.cancel(agent)
        timers.seq = seq = timers.seq + 1
        agent.timer_token = seq
        heappush(timers.heap, (at + timeout, seq, seq, agent))
        queue_name = call.queue.name
        out.append(new_ring_agent(call.id, agent.id, agent.endpoint, queue_name, at - call.wait_origin, timeout, at))
        out.append(new_agent_state_changed(agent.id, "reserved", agent.state._value_, "ring", at, call.id, queue_name))  # _transition
        agent.state = _RESERVED
        agent.reason = "ring"
        agent.since = at

    def _free_agent(self, agent: AgentRecord, at: float, idle_since: float, reason: str, out: Out, call: CallRecord | None = None) -> None:
        """The agent can take a call: give it the best waiting one, or put it in its pools."""
        agent.call = None
        agent.idle_since = idle_since
        if call is None:  # _transition, inline
            out.append(new_agent_state_changed(agent.id, "available", agent.state._value_, reason, at, None, None))
        else:
            out.append(new_agent_state_changed(agent.id, "available", agent.state._value_, reason, at, call.id, call.queue.name))
        agent.state = _AVAILABLE
        agent.reason = reason
        agent.since = at
        if agent.queue_bits & self._waiting_bits:  # some queue of the agent's has a waiting call
            best: tuple[Any, ...] | None = None  # the best waiting call's pool entry
            for queue, level, _pool in agent.entries:
                if not queue.waiting:
                    continue
                mins = queue.step_min
                pools = queue.call_pools
                step = len(mins) - 1
                # Steps only widen, so the steps this agent qualifies for are a suffix.
                while step >= 0 and mins[step] <= level:
                    head = pools[step].top()
                    if head is not None and (best is None or head < best):
                        best = head
                    step -= 1
            if best is not None:
                waiting: CallRecord = best[-1]
                self._unwait(waiting)
                self._ring(agent, waiting, at, out)
                return
        self._tokens += 1
        agent.token = token = self._tokens
        entry = (idle_since, token, agent)  # one tuple shared by all the agent's pools
        lines = agent.lines
        if idle_since >= self._newest_idle:
            # The usual case: freed now, so later than (or as late as, with a newer token)
            # every entry in every pool: the end of each line is its place.
            self._newest_idle = idle_since
            for line in lines:
                line.append(entry)
        else:  # an agent whose ring was cancelled keeps its older place in line
            for line in lines:
                join_in_order(line, entry)
        self._pushes_left -= len(lines)
        if self._pushes_left <= 0:
            self._sweep_next_pool()

    def _release_ringing_agent(self, call: CallRecord, at: float, reason: str, out: Out) -> None:
        """The call stopped ringing through no fault of the agent: it keeps its place in line."""
        agent = call.agent
        call.agent = None
        if agent is None:
            return
        self._timers.cancel(agent)
        out.append(CancelRing(call.id, agent.id, agent.endpoint, reason, at))
        self._free_agent(agent, at, agent.idle_since, reason, out, call)

    def _ring_no_answer(self, agent: AgentRecord, at: float, out: Out, *, reported: bool) -> None:
        call = agent.call
        if call is None:
            return
        out.append(RingNoAnswer(call.id, agent.id, call.queue.name, at - agent.since, at))
        call.ring_timeout_s = None  # the next ring is an ordinary one
        if not reported:
            out.append(CancelRing(call.id, agent.id, agent.endpoint, "ring-timeout", at))
        agent.call = None
        self._transition(agent, _PAUSED, "no-answer", at, out, call)
        call.agent = None
        out.append(CallRequeued(call.id, call.queue.name, "ring-no-answer", call.wait_origin, at))
        self._place_call(call, at, out)

    def _end_wrap_up(self, agent: AgentRecord, at: float, out: Out, reason: str = "wrap-up-ended") -> None:
        call = agent.call
        agent.call = None
        if agent.pending is not None:
            state, pending_reason = agent.pending
            agent.pending = None
            self._transition(agent, state, pending_reason, at, out, call)
            return
        self._free_agent(agent, at, at, reason, out, call)
