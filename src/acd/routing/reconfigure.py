"""Applying a new routing file to a running router without losing a call.

Ops staff add an agent, change a proficiency or a queue's expansion rules while callers
wait; a restart for that would be counted as an outage and would drop every decision in
flight.  :func:`reconfigure` rebuilds the router's indexes from the new configuration and
carries every live call and agent across:

* **Agents** keep their state, reason, time in state, place in line (idle time), pending
  pause or logout, and any ring or wrap-up deadline.  Their queues and proficiencies are
  the new file's.  An agent the new file adds starts logged out, like any agent at start.
* **A removed agent** is logged out (reason ``removed``) at once when idle, paused or in
  wrap-up; a call ringing them is cancelled and goes back to its place in the queue; an
  agent talking finishes the call and is logged out when it ends — the call is never cut.
* **Calls** keep their queue, priority, wait origin (so their place, expansion step and
  reported wait), attached data and ring-time-out override.  A call ringing a kept agent
  keeps ringing; a talking call keeps talking.  Waiting calls are then placed again in
  their order (priority, wait) under the new rules, so an agent the new file qualifies
  for them is rung at once, and a shortened maximum wait takes effect at once.
* **A removed queue** takes no new callers; callers already in it stay until answered,
  abandoned or past its maximum wait (a supervisor can move them with ``acd call move``).
  It is kept, under its old rules, only while it holds calls; its overflow target is
  dropped if the new file removed that queue too.

Outcomes are the ordinary decisions (``RingAgent``, ``CancelRing``, ``CallRequeued``,
``AgentStateChanged``, ``CallOverflowed``, ``CallTimedOut``); applying the same file again
produces none.  :func:`routing_changes` describes what a new file changes, for the event
the engine logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acd.routing.config import QueueConfig, RoutingConfig
from acd.routing.decisions import CancelRing, CallRequeued, Outcome
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState

if TYPE_CHECKING:
    from acd.routing.router import Router

REMOVED = "removed"


def routing_changes(old: RoutingConfig, new: RoutingConfig) -> dict[str, list[str]]:
    """What a new routing file changes: agents and queues added, removed, changed; skills too."""

    def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
        return added, removed, changed

    agents = diff({a.id: a for a in old.agents}, {a.id: a for a in new.agents})
    queues = diff({q.name: q for q in old.queues}, {q.name: q for q in new.queues})
    skills = diff({s: s for s in old.skills}, {s: s for s in new.skills})
    changes = {
        "agents_added": agents[0], "agents_removed": agents[1], "agents_changed": agents[2],
        "queues_added": queues[0], "queues_removed": queues[1], "queues_changed": queues[2],
        "skills_added": skills[0], "skills_removed": skills[1],
    }
    if old.timezone != new.timezone:
        changes["timezone"] = [old.timezone, new.timezone]
    return changes


def _with_retired_queues(router: "Router", config: RoutingConfig) -> tuple[RoutingConfig, frozenset[str]]:
    """The new file plus the removed queues that still hold calls, under their old rules."""
    kept = {queue.name for queue in config.queues}
    holding = {call.queue.name for call in router._calls.values()} - kept
    if not holding:
        return config, frozenset()
    retired: list[QueueConfig] = []
    skills = list(config.skills)
    final = kept | holding  # the queues an overflow may still lead to
    for name in sorted(holding):
        old = router._queues[name].cfg
        expansion = [rule for rule in old.expansion if rule.overflow is None or rule.overflow in final]
        overflow = old.overflow if old.overflow in final else None
        retired.append(old.model_copy(update={"expansion": expansion, "overflow": overflow}))
        skills += [skill for skill in old.skills if skill not in skills]  # nobody may hold it now: they wait
    merged = config.model_copy(update={"queues": [*config.queues, *retired], "skills": skills})
    return merged, frozenset(holding)


def _deadlines(router: "Router") -> dict[int, float]:
    """Each owner's live deadline (ring time-out, wrap-up end), by the owner's identity."""
    return {id(owner): at for at, _seq, token, owner in router._timers.heap if owner.timer_token == token}


def reconfigure(router: "Router", now: float, config: RoutingConfig) -> list[Outcome]:
    """Apply ``config`` to ``router`` at ``now``; see the module docstring for the rules."""
    out: list[Outcome] = []
    now = router._tick(now, out)
    merged, retired = _with_retired_queues(router, config)
    deadlines = _deadlines(router)
    old_agents, old_calls, timers = router._agents, router._calls, router._timers
    seq, tokens, departing = router._seq, router._tokens, router._departing
    router.__init__(merged)  # type: ignore[misc]  # fresh indexes for the new file
    router._retired = retired
    router._seq, router._tokens, router._clock = seq, tokens, now
    timers.heap.clear()  # the same heap list for the router's whole life (Router.deadline_heap)
    timers.stale = 0
    router._timers = timers
    for call in old_calls.values():
        call.queue = router._queues[call.queue.name]
        call.token = call.timer_token = 0
    router._departing = {agent_id for agent_id in departing if agent_id not in router._agents}  # re-added: no longer leaving
    scratch: list[Outcome] = []  # outcomes of rebuilding the pools: nothing happened to anyone
    available: list[AgentRecord] = []
    for agent_id, old in old_agents.items():
        agent = router._agents.get(agent_id)
        if agent is None:
            agent = _retire_agent(router, old, now, out)
            if agent is None:
                continue
        _carry_agent(old, agent)
        if agent_id in router._departing:
            agent.pending = (AgentState.LOGGED_OUT, REMOVED)  # call_completed logs them out and forgets them
        if agent.state is AgentState.AVAILABLE:
            available.append(agent)
        elif agent.state is AgentState.RESERVED or (agent.state is AgentState.WRAP_UP and id(old) in deadlines):
            timers.schedule(deadlines.get(id(old), now), agent)  # a wrap-up waiting for its disposition has none
    for agent in sorted(available, key=lambda a: a.idle_since):  # back in line in their old order
        state, reason, since = agent.state, agent.reason, agent.since
        agent.state = AgentState.LOGGED_OUT
        router._free_agent(agent, now, agent.idle_since, reason, scratch)
        agent.state, agent.reason, agent.since = state, reason, since
    waiting: list[CallRecord] = []
    for call in sorted(old_calls.values(), key=lambda c: c.seq):
        router._calls[call.id] = call
        agent = router._agents.get(call.agent.id) if call.agent is not None else None
        if call.state is CallState.CONNECTED and agent is not None:
            call.agent, agent.call = agent, call
        elif call.state is CallState.RINGING and agent is not None and agent.state is AgentState.RESERVED:
            call.agent, agent.call = agent, call
        else:  # waiting, or its ring was cancelled with the removed agent
            call.agent = None
            call.state = CallState.WAITING
            waiting.append(call)
    for call in sorted(waiting, key=CallRecord.sort_key):
        router._place_call(call, now, out)
    return out


def _carry_agent(old: AgentRecord, agent: AgentRecord) -> None:
    agent.state, agent.reason, agent.since, agent.idle_since = old.state, old.reason, old.since, old.idle_since
    agent.pending = None if old.pending == (AgentState.LOGGED_OUT, REMOVED) else old.pending  # re-added while leaving
    agent.call = old.call if old.state is AgentState.WRAP_UP else None  # ringing/talking calls re-link below


def _retire_agent(router: "Router", old: AgentRecord, now: float, out: list[Outcome]) -> AgentRecord | None:
    """An agent the new file removed: logged out now, or once their call ends."""
    state = old.state
    if state is AgentState.LOGGED_OUT:
        return None
    if state is AgentState.ON_CALL:
        # Kept, in no pool, until the call ends: call_completed logs them out and forgets them.
        keep = AgentRecord(id=old.id, name=old.name, endpoint=old.endpoint, entries=[])
        router._agents[old.id] = keep
        router._departing.add(old.id)
        return keep
    call = old.call
    if state is AgentState.RESERVED and call is not None:
        out.append(CancelRing(call.id, old.id, old.endpoint, "agent-removed", now))
        out.append(CallRequeued(call.id, call.queue.name, "agent-removed", call.wait_origin, now))
    ghost = AgentRecord(id=old.id, name=old.name, endpoint=old.endpoint, entries=[], state=state)
    router._transition(ghost, AgentState.LOGGED_OUT, REMOVED, now, out, call)
    return None
