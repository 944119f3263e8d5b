"""Consistency checks over the router's internal indexes.

The hot path trusts its indexes (token-stamped pools, one timer per owner) instead of
re-deriving them; these checks re-derive everything the slow way.  Property tests run
them after every random event, and a debug endpoint can run them on a live engine.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from acd.routing.model import AgentState, CallState

if TYPE_CHECKING:
    from acd.routing.router import Router


def _live(entries: Any) -> list[Any]:
    """The owners of the live entries of a pool's heap or line."""
    return [entry[-1] for entry in entries if entry[-1].token == entry[-2]]


def check_router(router: "Router") -> list[str]:
    problems: list[str] = []
    clock = router._clock
    calls = router._calls
    call_places: Counter[str] = Counter()
    for queue in router._queues.values():
        live_in_queue = 0
        for step, pool in enumerate(queue.call_pools):
            live = _live(pool.heap)
            if len(live) != len(pool):
                problems.append(f"queue {queue.name} step {step}: {len(pool)} counted, {len(live)} live")
            live_in_queue += len(live)
            for pooled in live:
                call_places[pooled.id] += 1
                record = calls.get(pooled.id)
                if record is None or record is not pooled:
                    problems.append(f"queue {queue.name}: pool holds call {pooled.id} the router no longer routes")
                elif record.queue is not queue or record.step != step or record.state is not CallState.WAITING:
                    problems.append(f"call {record.id} sits in {queue.name} step {step} but says {record.queue.name} step {record.step} {record.state.value}")
        if live_in_queue != queue.waiting:
            problems.append(f"queue {queue.name}: waiting={queue.waiting} but {live_in_queue} calls in its pools")
        if bool(router._waiting_bits & queue.bit) != bool(queue.waiting):
            problems.append(f"queue {queue.name}: waiting={queue.waiting} but its waiting bit is {'set' if queue.waiting == 0 else 'clear'}")
        for level, pool in queue.agent_pools:
            live_agents = _live(pool.line)  # agent pools count nothing (lazy deletion): bound their size instead
            line = pool.line
            if len(line) > 2 * router._sweep_every * max(1, len(router._agent_pools)) + 2 * len(router._agents) + 64:
                problems.append(f"queue {queue.name} level {level}: {len(line)} entries for {len(live_agents)} live agents (not swept)")
            if any(line[index] >= line[index + 1] for index in range(len(line) - 1)):
                problems.append(f"queue {queue.name} level {level}: the agent pool is out of order")
            elif line and line[-1][0] > router._newest_idle:
                problems.append(f"queue {queue.name} level {level}: an entry is newer than the newest idle time")
            for agent in live_agents:
                if agent.state is not AgentState.AVAILABLE:
                    problems.append(f"agent {agent.id} is {agent.state.value} but still in {queue.name}'s pool")
    for call in calls.values():
        places = call_places.get(call.id, 0)
        if call.state is CallState.WAITING:
            if places != 1:
                problems.append(f"waiting call {call.id} is in {places} pools (expected exactly one)")
            if call.agent is not None:
                problems.append(f"waiting call {call.id} still points at agent {call.agent.id}")
            if call.queue.exit_due(call.entered, clock):
                problems.append(f"waiting call {call.id} is past its queue's exit time")
            elif call.step != call.queue.step_at(call.entered, clock):
                problems.append(f"waiting call {call.id} is at step {call.step}, due step {call.queue.step_at(call.entered, clock)}")
            elif (agent := router._best_agent(call.queue, call.queue.step_min[call.step])) is not None:
                problems.append(f"waiting call {call.id} has eligible agent {agent.id} sitting available")
        else:
            if places:
                problems.append(f"{call.state.value} call {call.id} is still in a pool")
            agent = call.agent
            expected = AgentState.RESERVED if call.state is CallState.RINGING else AgentState.ON_CALL
            if agent is None or agent.call is not call or agent.state is not expected:
                problems.append(f"{call.state.value} call {call.id} is not held by a {expected.value} agent")
    holders: Counter[str] = Counter()
    for agent in router._agents.values():
        in_pools = sum(1 for _queue, _level, pool in agent.entries if agent.token and any(e[-1] is agent and e[-2] == agent.token for e in pool.line))
        if agent.state is AgentState.AVAILABLE:
            if not agent.token or in_pools != len(agent.entries):
                problems.append(f"available agent {agent.id} is in {in_pools} of its {len(agent.entries)} pools")
            if agent.call is not None:
                problems.append(f"available agent {agent.id} still holds call {agent.call.id}")
        elif agent.token:
            problems.append(f"{agent.state.value} agent {agent.id} still has an availability token")
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL):
            if agent.call is None or calls.get(agent.call.id) is not agent.call:
                problems.append(f"{agent.state.value} agent {agent.id} holds no routed call")
            else:
                holders[agent.call.id] += 1
        waits_for_code = agent.state is AgentState.WRAP_UP and agent.call is not None and agent.call.queue.disposition_required
        if agent.state in (AgentState.RESERVED, AgentState.WRAP_UP) and not agent.timer_token and not waits_for_code:
            problems.append(f"{agent.state.value} agent {agent.id} has no deadline")
        if agent.state in (AgentState.LOGGED_OUT, AgentState.PAUSED) and agent.call is not None:
            problems.append(f"{agent.state.value} agent {agent.id} still holds call {agent.call.id}")
    for call_id, count in holders.items():
        if count > 1:
            problems.append(f"call {call_id} is held by {count} agents")
    return problems
