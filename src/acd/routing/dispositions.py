"""A disposition entered during wrap-up: recorded, and the wrap-up ends at once.

Rules (:meth:`acd.routing.router.Router.disposition`): only an agent in wrap-up may code,
and only the call it is wrapping up (``call_id``, when given, must be that call, so a late
click for an earlier call is refused, not misfiled); the code must be one of that call's
queue's ``dispositions``.  A refusal is :class:`~acd.routing.decisions.Ignored`, as
everywhere in the router.  A queue whose codes are ``required`` gives the wrap-up no
deadline at all (``Router.call_completed``): this is what ends it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.routing.decisions import CallDispositioned, Ignored, Outcome
from acd.routing.model import AgentState

if TYPE_CHECKING:
    from acd.routing.router import Router


def code_call(router: "Router", now: float, agent_id: str, code: str, call_id: str | None, by: str) -> list[Outcome]:
    out: list[Outcome] = []
    now = router._tick(now, out)
    agent = router._agent_or_ignore(agent_id, now, out)
    if agent is None:
        return out
    call = agent.call
    if agent.state is not AgentState.WRAP_UP or call is None:
        out.append(Ignored(f"disposition from agent {agent_id!r}, which is {agent.state.value}, not in wrap-up", now, agent_id=agent_id))
        return out
    if call_id is not None and call_id != call.id:
        out.append(Ignored(f"disposition for call {call_id!r}, but agent {agent_id!r} is wrapping up {call.id!r}", now, call_id=call_id, agent_id=agent_id))
        return out
    codes = call.queue.cfg.dispositions
    item = codes.find(code) if codes is not None else None
    if item is None:
        out.append(Ignored(f"queue {call.queue.name!r} has no disposition {code!r}", now, call_id=call.id, agent_id=agent_id))
        return out
    out.append(CallDispositioned(call.id, agent_id, call.queue.name, item.code, item.outcome, by, now))
    router._timers.cancel(agent)
    router._end_wrap_up(agent, now, out, reason="disposition")
    return out
