"""Agents' sign-ins kept across an engine restart: who was logged in, and who was paused why.

Why: the router starts with every agent logged out.  Agents who logged themselves in
(feature code, agent page, API) were logged out by any restart — a kill -9, an upgrade —
and stopped receiving calls without knowing it, while the wallboard showed them gone.
The record already knows better: the last ``agent.state`` event of each agent.

The rule, per agent still in the routing file, from its last ``agent.state`` no older than
``keep_s`` (a shift; an agent who left yesterday is not signed in this morning):

* ``logged_out`` — stays logged out;
* ``paused`` for a person's reason (``lunch``, ``no-answer``…) — logged in and paused again
  with that reason (a ring-no-answer pause still waits for its agent);
* ``paused`` because of the phone (``unreachable``, ``phone-busy``) — logged in only: those
  pauses are the phone's, and the resync re-applies them from the phone's state now;
* anything else (available, ringing, talking, wrap-up) — logged in; a call still on the
  agent is rebuilt by the resync from Asterisk, before anyone is rung.

What it cannot know: a change made in the previous engine's last unwritten batch (at most
``metrics.batch_interval_s`` before a kill -9).  Pure: events in, sign-ins out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from acd.base.events import Event
from acd.dispatch.devices import PHONE_BUSY_REASON, UNREACHABLE_REASON

#: Pauses the engine derives from the phone, re-applied by the resync rather than restored.
PHONE_PAUSES = frozenset({UNREACHABLE_REASON, PHONE_BUSY_REASON})


@dataclass(frozen=True)
class SignIn:
    agent_id: str
    paused: str | None = None  # the pause reason to apply again, or None: logged in and free


def sign_ins_to_restore(last_states: Iterable[Event], agents: Iterable[str], now: float, keep_s: float) -> list[SignIn]:
    """The agents to log in again (and pause again), from each agent's last ``agent.state``."""
    known = set(agents)
    latest: dict[str, Event] = {}
    for event in last_states:
        if event.type != "agent.state" or event.agent_id not in known:
            continue
        if event.agent_id not in latest or event.ts >= latest[event.agent_id].ts:
            latest[event.agent_id] = event
    restored = []
    for agent_id, event in sorted(latest.items()):
        if keep_s <= 0 or now - event.ts > keep_s:
            continue
        state = str(event.data.get("state", ""))
        reason = str(event.data.get("reason", "") or "pause")
        if state == "logged_out" or not state:
            continue
        if state == "paused" and reason not in PHONE_PAUSES:
            restored.append(SignIn(agent_id, paused=reason))
        else:
            restored.append(SignIn(agent_id))
    return restored
