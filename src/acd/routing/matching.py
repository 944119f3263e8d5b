"""The matching mechanics under :class:`acd.routing.router.Router`.

Indexes, timers and the few moves every event handler is built from: put a call where
it belongs (an agent, the next queue, or a pool), free an agent (the best waiting call,
or its pools), ring, and the agent-side transitions.  Each move keeps the one promise
the router makes: no waiting call ever has an eligible agent sitting available.

Cost per decision, independent of the number of agents and calls apart from heap
logarithms: a call scans at most ten proficiency levels of its queue; a freed agent
peeks the head of each expansion step of each queue it serves.
"""

from __future__ import annotations

import math
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
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState, QueueRuntime
from acd.routing.pools import Pool, Timers

Out = list[Outcome]


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

    def _tick(self, now: float, out: Out) -> float:
        if not math.isfinite(now):
            now = self._clock if math.isfinite(self._clock) else 0.0
        elif now < self._clock:
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

    def _next_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def _transition(self, agent: AgentRecord, state: AgentState, reason: str, at: float, out: Out, call: CallRecord | None = None) -> None:
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

    def _place_call(self, call: CallRecord, at: float, out: Out) -> None:
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

    def _ring(self, agent: AgentRecord, call: CallRecord, at: float, out: Out) -> None:
        self._leave_pools(agent)
        call.state = CallState.RINGING
        call.agent = agent
        agent.call = call
        timeout = call.queue.cfg.ring_timeout_s
        self._timers.schedule(at + timeout, agent)
        out.append(RingAgent(call.id, agent.id, agent.endpoint, call.queue.name, at - call.wait_origin, timeout, at))
        self._transition(agent, AgentState.RESERVED, "ring", at, out, call)

    def _free_agent(self, agent: AgentRecord, at: float, idle_since: float, reason: str, out: Out, call: CallRecord | None = None) -> None:
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
        if not reported:
            out.append(CancelRing(call.id, agent.id, agent.endpoint, "ring-timeout", at))
        agent.call = None
        self._transition(agent, AgentState.PAUSED, "no-answer", at, out, call)
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
