"""The pure ACD core: events in, decisions out.

No sockets, no asyncio, no clock: every method takes ``now`` (float seconds, e.g. UNIX
time) so a test can replay any scenario with a fake clock and get the same answer every
time.  Each method first applies every timer that fell due up to ``now`` (expansion
steps, ring time-outs, wrap-up ends, max-wait exits) in deadline order, then handles its
own event, and returns everything that happened as :mod:`acd.routing.decisions`.  The
engine arms one timer for :meth:`Router.next_deadline` and calls :meth:`Router.advance`
when it fires, so nothing ever polls.  Time never runs backwards: an earlier ``now`` is
treated as the latest time already seen.

Matching rule (checked after every change that could create a match, so no waiting call
ever has an eligible agent sitting idle):

* a call meets the best eligible available agent: the highest proficiency for the
  queue (the agent's weakest required skill), then the longest idle;
* a freed agent takes the best eligible waiting call across every queue it serves: the
  highest priority, then the longest wait (``wait_origin``), then arrival order;
* eligibility is "has all the queue's skills at or above the call's current expansion
  step's ``min_proficiency``".

Contradicting inputs (an answer for a call that is not ringing that agent, unknown ids)
never raise: they return :class:`~acd.routing.decisions.Ignored`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from acd.routing.config import RoutingConfig
from acd.routing.decisions import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOverflowed,
    CallQueued,
    CallRequeued,
    CallTimedOut,
    CancelRing,
    Ignored,
    Outcome,
    RingAgent,
    RingNoAnswer,
)
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState, QueueRuntime
from acd.routing.pools import Pool, Timers

_Out = list[Outcome]


@dataclass(frozen=True, slots=True)
class AgentView:
    """Read-only picture of an agent for the control API and tests."""

    id: str
    name: str
    endpoint: str
    state: str
    reason: str
    since: float
    idle_since: float
    call_id: str | None  # the call ringing, talking or being wrapped up
    pending: str | None  # "paused:<reason>" or "logged_out:<reason>" waiting for the call to end


@dataclass(frozen=True, slots=True)
class CallView:
    """Read-only picture of a routed call."""

    id: str
    queue: str
    state: str
    priority: int
    wait_origin: float
    entered_queue_at: float
    min_proficiency: int
    agent_id: str | None
    attached: Mapping[str, Any]


class Router:
    """Skills-based routing state for one ACD; see the module docstring for the rules."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._queues: dict[str, QueueRuntime] = {cfg.name: QueueRuntime.compile(cfg) for cfg in config.queues}
        self._agents: dict[str, AgentRecord] = {}
        self._calls: dict[str, CallRecord] = {}
        self._timers: Timers[Any] = Timers()
        self._clock = float("-inf")
        self._tokens = 0
        self._seq = 0
        self._index_agents()

    def _index_agents(self) -> None:
        """Skill index -> per-queue proficiency pools, so no decision ever scans all agents."""
        by_skill: dict[str, dict[str, int]] = {skill: {} for skill in self.config.skills}
        for agent in self.config.agents:
            for skill, level in agent.skills.items():
                by_skill[skill][agent.id] = level
        entries: dict[str, list[tuple[QueueRuntime, int, Pool[Any]]]] = {agent.id: [] for agent in self.config.agents}
        for queue in self._queues.values():
            holders = sorted((by_skill[skill] for skill in queue.skills), key=len)
            levels: dict[str, int] = dict(holders[0])
            for other in holders[1:]:
                levels = {agent_id: min(level, other[agent_id]) for agent_id, level in levels.items() if agent_id in other}
            pools: dict[int, Pool[Any]] = {level: Pool() for level in sorted(set(levels.values()), reverse=True)}
            queue.agent_pools = list(pools.items())
            for agent_id, level in levels.items():
                entries[agent_id].append((queue, level, pools[level]))
        for agent in self.config.agents:
            self._agents[agent.id] = AgentRecord(id=agent.id, name=agent.name, endpoint=agent.endpoint, entries=entries[agent.id])

    # --- time ------------------------------------------------------------------------

    def advance(self, now: float) -> list[Outcome]:
        """Apply every deadline up to ``now``: expansion, overflow, ring time-out, wrap-up end."""
        out: _Out = []
        self._tick(now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`advance` would change something, or None."""
        return self._timers.next_at()

    def _tick(self, now: float, out: _Out) -> float:
        if not now >= self._clock:  # also rejects NaN
            now = self._clock
        while (due := self._timers.pop_due(now)) is not None:
            at, owner = due
            self._clock = max(self._clock, at)
            if isinstance(owner, CallRecord):
                self._unwait(owner)
                self._place_call(owner, at, out)
            elif owner.state is AgentState.RESERVED:
                self._ring_no_answer(owner, at, out, reported=False)
            elif owner.state is AgentState.WRAP_UP:
                self._end_wrap_up(owner, at, out)
        self._clock = now
        return now

    # --- calls -----------------------------------------------------------------------

    def call_arrived(
        self,
        now: float,
        call_id: str,
        queue: str,
        priority: int | None = None,
        attached: Mapping[str, Any] | None = None,
        wait_origin: float | None = None,
    ) -> list[Outcome]:
        """A caller joins ``queue``.

        ``priority`` defaults to the queue's.  ``wait_origin`` is when the caller's wait
        began; pass it when re-queuing a call after an engine restart so its place, its
        expansion step and its reported wait all survive.
        """
        out: _Out = []
        now = self._tick(now, out)
        runtime = self._queues.get(queue)
        if runtime is None:
            out.append(Ignored(f"call {call_id!r} arrived for unknown queue {queue!r}", now, call_id=call_id))
            return out
        if call_id in self._calls:
            out.append(Ignored(f"call {call_id!r} is already being routed", now, call_id=call_id))
            return out
        origin = now if wait_origin is None or not wait_origin <= now else wait_origin
        self._seq += 1
        call = CallRecord(
            id=call_id,
            queue=runtime,
            priority=runtime.cfg.priority if priority is None else priority,
            wait_origin=origin,
            entered=origin,
            seq=self._seq,
            attached=dict(attached or {}),
        )
        self._calls[call_id] = call
        out.append(CallQueued(call_id, queue, call.priority, runtime.skills, origin, now, dict(call.attached)))
        self._place_call(call, now, out)
        return out

    def caller_abandoned(self, now: float, call_id: str) -> list[Outcome]:
        """The caller hung up before talking to an agent (while waiting or while an agent rang)."""
        out: _Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None:
            out.append(Ignored(f"abandon for unknown call {call_id!r}", now, call_id=call_id))
            return out
        if call.state is CallState.CONNECTED:
            out.append(Ignored(f"abandon for call {call_id!r} which is talking to an agent; expected call_completed", now, call_id=call_id))
            return out
        del self._calls[call_id]
        out.append(CallAbandoned(call_id, call.queue.name, now - call.wait_origin, now))
        if call.state is CallState.WAITING:
            self._unwait(call)
        else:
            self._release_ringing_agent(call, now, "caller-abandoned", out)
        return out

    def call_completed(self, now: float, call_id: str, hold_s: float = 0.0) -> list[Outcome]:
        """The conversation ended (either side hung up or the bridge ended): the agent goes to wrap-up."""
        out: _Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None or call.state is not CallState.CONNECTED or call.agent is None:
            what = "unknown call" if call is None else f"call in state {call.state.value}"
            out.append(Ignored(f"completion for {what} {call_id!r}", now, call_id=call_id))
            return out
        del self._calls[call_id]
        agent = call.agent
        out.append(CallCompleted(call_id, agent.id, call.queue.name, now - call.answered_at, hold_s, now))
        if agent.pending is not None and agent.pending[0] is AgentState.LOGGED_OUT:
            reason = agent.pending[1]
            agent.pending = None
            agent.call = None
            self._transition(agent, AgentState.LOGGED_OUT, reason, now, out, call)
        elif call.queue.cfg.wrap_up_s > 0:
            self._transition(agent, AgentState.WRAP_UP, "call-completed", now, out, call)
            self._timers.schedule(now + call.queue.cfg.wrap_up_s, agent)
        else:
            self._end_wrap_up(agent, now, out, reason="call-completed")
        return out

    def set_priority(self, now: float, call_id: str, priority: int) -> list[Outcome]:
        """Supervisor: change a call's priority; a waiting call takes its new place at once."""
        out: _Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.CONNECTED:
            what = "unknown call" if call is None else "call already answered"
            out.append(Ignored(f"set_priority: {what} {call_id!r}", now, call_id=call_id))
            return out
        if call.state is CallState.WAITING:
            pool = call.queue.call_pools[call.step]
            pool.forget_one()
            call.priority = priority
            call.token = self._next_token()
            pool.push(call.sort_key(), call)
        else:
            call.priority = priority  # applies if the ringing agent does not answer
        return out

    def move_call(self, now: float, call_id: str, queue: str) -> list[Outcome]:
        """Supervisor: move a waiting (or ringing) call to another queue, keeping its wait."""
        out: _Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        target = self._queues.get(queue)
        if call is None or target is None:
            what = f"unknown call {call_id!r}" if call is None else f"unknown queue {queue!r}"
            out.append(Ignored(f"move_call: {what}", now, call_id=call_id))
            return out
        if call.state is CallState.CONNECTED or target is call.queue:
            what = "is already answered" if call.state is CallState.CONNECTED else f"is already in {queue!r}"
            out.append(Ignored(f"move_call: call {call_id!r} {what}", now, call_id=call_id))
            return out
        if call.state is CallState.WAITING:
            self._unwait(call)
        else:
            self._release_ringing_agent(call, now, "call-moved", out)
        out.append(CallOverflowed(call_id, call.queue.name, queue, now - call.wait_origin, "supervisor", now))
        call.queue = target
        call.entered = now
        self._place_call(call, now, out)
        return out

    # --- agents ----------------------------------------------------------------------

    def agent_login(self, now: float, agent_id: str) -> list[Outcome]:
        out: _Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        if agent.state is AgentState.LOGGED_OUT:
            self._free_agent(agent, now, now, "login", out)
        elif agent.pending is not None and agent.pending[0] is AgentState.LOGGED_OUT:
            agent.pending = None  # changed their mind before the call ended
        else:
            out.append(Ignored(f"agent {agent_id!r} is already logged in ({agent.state.value})", now, agent_id=agent_id))
        return out

    def agent_logout(self, now: float, agent_id: str, reason: str = "logout") -> list[Outcome]:
        """Log out now, or when the current call ends (the call itself is never cut)."""
        return self._take_away(now, agent_id, AgentState.LOGGED_OUT, reason, "agent-logout")

    def agent_pause(self, now: float, agent_id: str, reason: str = "pause") -> list[Outcome]:
        """Pause now (ending a wrap-up early), or after the current call's wrap-up."""
        return self._take_away(now, agent_id, AgentState.PAUSED, reason, "agent-paused")

    def agent_unpause(self, now: float, agent_id: str) -> list[Outcome]:
        out: _Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        if agent.state is AgentState.PAUSED:
            self._free_agent(agent, now, now, "unpause", out)
        elif agent.pending is not None and agent.pending[0] is AgentState.PAUSED:
            agent.pending = None
        else:
            out.append(Ignored(f"unpause for agent {agent_id!r} which is {agent.state.value}", now, agent_id=agent_id))
        return out

    def agent_answered(self, now: float, agent_id: str, call_id: str) -> list[Outcome]:
        out: _Out = []
        now = self._tick(now, out)
        agent = self._ringing_pair(agent_id, call_id, now, "answer", out)
        if agent is None or agent.call is None:
            return out
        call = agent.call
        self._timers.cancel(agent)
        call.state = CallState.CONNECTED
        call.answered_at = now
        out.append(CallAnswered(call_id, agent_id, call.queue.name, now - call.wait_origin, now))
        self._transition(agent, AgentState.ON_CALL, "answered", now, out, call)
        return out

    def ring_no_answer(self, now: float, agent_id: str, call_id: str) -> list[Outcome]:
        """Asterisk reports the agent's phone rang out, was busy or rejected the call."""
        out: _Out = []
        now = self._tick(now, out)
        agent = self._ringing_pair(agent_id, call_id, now, "ring-no-answer", out)
        if agent is not None:
            self._timers.cancel(agent)
            self._ring_no_answer(agent, now, out, reported=True)
        return out

    # --- views -----------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentView | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        pending = f"{agent.pending[0].value}:{agent.pending[1]}" if agent.pending else None
        call_id = agent.call.id if agent.call is not None else None
        return AgentView(agent.id, agent.name, agent.endpoint, agent.state.value, agent.reason, agent.since, agent.idle_since, call_id, pending)

    def agents(self) -> list[AgentView]:
        return [view for agent_id in self._agents if (view := self.agent(agent_id)) is not None]

    def call(self, call_id: str) -> CallView | None:
        call = self._calls.get(call_id)
        if call is None:
            return None
        queue = call.queue
        step = queue.step_at(call.entered, self._clock) if call.state is not CallState.WAITING else call.step
        return CallView(
            call.id,
            queue.name,
            call.state.value,
            call.priority,
            call.wait_origin,
            call.entered,
            queue.step_min[step],
            call.agent.id if call.agent is not None else None,
            dict(call.attached),
        )

    def waiting_count(self, queue: str | None = None) -> int:
        """Calls waiting (not ringing) in ``queue``, or in all queues; O(1) per queue."""
        if queue is not None:
            runtime = self._queues.get(queue)
            return runtime.waiting if runtime is not None else 0
        return sum(runtime.waiting for runtime in self._queues.values())

    def waiting(self, queue: str) -> list[CallView]:
        """Calls waiting in ``queue``, head first (for position announcements); O(n log n)."""
        runtime = self._queues.get(queue)
        if runtime is None:
            return []
        calls = sorted((call for pool in runtime.call_pools for call in pool.live()), key=CallRecord.sort_key)
        return [view for call in calls if (view := self.call(call.id)) is not None]

    def check_invariants(self) -> list[str]:
        """Internal consistency problems (empty when healthy); for tests and a debug endpoint."""
        from acd.routing.invariants import check_router

        return check_router(self)

    # --- internals -------------------------------------------------------------------

    def _next_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def _agent_or_ignore(self, agent_id: str, now: float, out: _Out) -> AgentRecord | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            out.append(Ignored(f"unknown agent {agent_id!r}", now, agent_id=agent_id))
        return agent

    def _ringing_pair(self, agent_id: str, call_id: str, now: float, what: str, out: _Out) -> AgentRecord | None:
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return None
        if agent.state is not AgentState.RESERVED or agent.call is None or agent.call.id != call_id:
            ringing = agent.call.id if agent.state is AgentState.RESERVED and agent.call is not None else None
            detail = f"it is ringing for {ringing!r}" if ringing else f"it is {agent.state.value}"
            out.append(Ignored(f"{what} from agent {agent_id!r} for call {call_id!r}, but {detail}", now, call_id=call_id, agent_id=agent_id))
            return None
        return agent

    def _transition(self, agent: AgentRecord, state: AgentState, reason: str, at: float, out: _Out, call: CallRecord | None = None) -> None:
        out.append(
            AgentStateChanged(
                agent.id,
                state.value,
                agent.state.value,
                reason,
                at,
                call.id if call is not None else None,
                call.queue.name if call is not None else None,
            )
        )
        agent.state = state
        agent.reason = reason
        agent.since = at

    def _take_away(self, now: float, agent_id: str, state: AgentState, reason: str, requeue_reason: str) -> list[Outcome]:
        out: _Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        current = agent.state
        if current is AgentState.LOGGED_OUT:
            out.append(Ignored(f"agent {agent_id!r} is logged out", now, agent_id=agent_id))
        elif current is AgentState.ON_CALL:
            if not (agent.pending is not None and agent.pending[0] is AgentState.LOGGED_OUT and state is AgentState.PAUSED):
                agent.pending = (state, reason)
        elif current is AgentState.RESERVED and agent.call is not None:
            call = agent.call
            self._timers.cancel(agent)
            out.append(CancelRing(call.id, agent.id, agent.endpoint, requeue_reason, now))
            agent.call = None
            self._transition(agent, state, reason, now, out, call)
            call.agent = None
            out.append(CallRequeued(call.id, call.queue.name, requeue_reason, call.wait_origin, now))
            self._place_call(call, now, out)
        elif current is AgentState.PAUSED and state is AgentState.PAUSED and agent.reason == reason:
            pass  # already paused for this reason
        else:  # available, paused or wrap-up
            agent.pending = None
            self._leave_pools(agent)
            self._timers.cancel(agent)
            wrapped = agent.call if current is AgentState.WRAP_UP else None
            agent.call = None
            self._transition(agent, state, reason, now, out, wrapped)
        return out

    def _leave_pools(self, agent: AgentRecord) -> None:
        if agent.token:
            agent.token = 0
            for _queue, _level, pool in agent.entries:
                pool.forget_one()

    def _unwait(self, call: CallRecord) -> None:
        """Take a waiting call out of its pool and cancel its expansion timer."""
        if call.token:
            call.token = 0
            call.queue.call_pools[call.step].forget_one()
            call.queue.waiting -= 1
        self._timers.cancel(call)

    def _best_agent(self, queue: QueueRuntime, min_level: int) -> AgentRecord | None:
        for level, pool in queue.agent_pools:
            if level < min_level:
                return None
            entry = pool.top()
            if entry is not None:
                agent: AgentRecord = entry[-1]
                return agent
        return None

    def _best_call_for(self, agent: AgentRecord) -> CallRecord | None:
        best: tuple[Any, ...] | None = None
        for queue, level, _pool in agent.entries:
            if not queue.waiting:
                continue
            mins = queue.step_min
            pools = queue.call_pools
            step = len(mins) - 1
            # Steps only widen, so the steps this agent qualifies for are a suffix.
            while step >= 0 and mins[step] <= level:
                entry = pools[step].top()
                if entry is not None and (best is None or entry < best):
                    best = entry
                step -= 1
        if best is None:
            return None
        call: CallRecord = best[-1]
        return call

    def _place_call(self, call: CallRecord, at: float, out: _Out) -> None:
        """Put a call that is in no pool where it belongs: an agent, the next queue, or a pool."""
        while True:
            queue = call.queue
            if queue.exit_due(call.entered, at):
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
            step = queue.step_at(call.entered, at)
            agent = self._best_agent(queue, queue.step_min[step])
            if agent is not None:
                self._ring(agent, call, at, out)
                return
            call.state = CallState.WAITING
            call.step = step
            call.token = self._next_token()
            queue.call_pools[step].push(call.sort_key(), call)
            queue.waiting += 1
            deadline = queue.next_change(call.entered, step)
            if deadline is not None:
                self._timers.schedule(deadline, call)
            return

    def _ring(self, agent: AgentRecord, call: CallRecord, at: float, out: _Out) -> None:
        self._leave_pools(agent)
        call.state = CallState.RINGING
        call.agent = agent
        agent.call = call
        timeout = call.queue.cfg.ring_timeout_s
        self._timers.schedule(at + timeout, agent)
        out.append(RingAgent(call.id, agent.id, agent.endpoint, call.queue.name, at - call.wait_origin, timeout, at))
        self._transition(agent, AgentState.RESERVED, "ring", at, out, call)

    def _free_agent(self, agent: AgentRecord, at: float, idle_since: float, reason: str, out: _Out, call: CallRecord | None = None) -> None:
        """The agent can take a call: give it the best waiting one, or put it in its pools."""
        agent.call = None
        agent.idle_since = idle_since
        self._transition(agent, AgentState.AVAILABLE, reason, at, out, call)
        best = self._best_call_for(agent)
        if best is not None:
            self._unwait(best)
            self._ring(agent, best, at, out)
            return
        agent.token = self._next_token()
        key = (idle_since,)
        for _queue, _level, pool in agent.entries:
            pool.push(key, agent)

    def _release_ringing_agent(self, call: CallRecord, at: float, reason: str, out: _Out) -> None:
        """The call stopped ringing through no fault of the agent: it keeps its place in line."""
        agent = call.agent
        call.agent = None
        if agent is None:
            return
        self._timers.cancel(agent)
        out.append(CancelRing(call.id, agent.id, agent.endpoint, reason, at))
        self._free_agent(agent, at, agent.idle_since, reason, out, call)

    def _ring_no_answer(self, agent: AgentRecord, at: float, out: _Out, *, reported: bool) -> None:
        call = agent.call
        if call is None:
            return
        out.append(RingNoAnswer(call.id, agent.id, call.queue.name, at - agent.since, at))
        if not reported:
            out.append(CancelRing(call.id, agent.id, agent.endpoint, "ring-timeout", at))
        agent.call = None
        self._transition(agent, AgentState.PAUSED, "no-answer", at, out, call)
        call.agent = None
        out.append(CallRequeued(call.id, call.queue.name, "ring-no-answer", call.wait_origin, at))
        self._place_call(call, at, out)

    def _end_wrap_up(self, agent: AgentRecord, at: float, out: _Out, reason: str = "wrap-up-ended") -> None:
        call = agent.call
        agent.call = None
        if agent.pending is not None:
            state, pending_reason = agent.pending
            agent.pending = None
            self._transition(agent, state, pending_reason, at, out, call)
            return
        self._free_agent(agent, at, at, reason, out, call)
