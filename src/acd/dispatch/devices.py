"""What an agent's phone state means for the agent: the device rules, without side effects.

An unreachable phone pauses its agent, and so does a busy phone of an agent the router
has free (app_queue's ``ringinuse=no``: the ACD never rings a phone in use, e.g. for a
personal call or a call from before a restart it could not rebuild); idle again, the
pause these rules made is lifted, and only that one (a supervisor's or the agent's own
pause, or a ring-no-answer pause, is never lifted by a phone coming back).
"""

from __future__ import annotations

UNREACHABLE_DEVICE_STATES = ("UNAVAILABLE",)
UNREACHABLE_REASON = "unreachable"
#: A phone in one of these states is on a call, ringing or holding one.
BUSY_DEVICE_STATES = ("INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD")
PHONE_BUSY_REASON = "phone-busy"
#: The pauses the device rules make, and so may lift.
DEVICE_PAUSES = (UNREACHABLE_REASON, PHONE_BUSY_REASON)

PAUSE = "pause"
UNPAUSE = "unpause"


def device_rule(device_state: str, agent_state: str, agent_reason: str | None) -> tuple[str, str] | None:
    """(``PAUSE``, reason) or (``UNPAUSE``, "") for a logged-in agent whose phone is now in
    ``device_state``; None when nothing changes.

    A busy phone is expected while the agent rings, talks or wraps up an ACD call: only an
    *available* agent is paused for it.
    """
    if device_state in UNREACHABLE_DEVICE_STATES:
        if agent_state != "paused" or agent_reason == PHONE_BUSY_REASON:
            return PAUSE, UNREACHABLE_REASON
        return None
    if device_state in BUSY_DEVICE_STATES:
        return (PAUSE, PHONE_BUSY_REASON) if agent_state == "available" else None
    if agent_state == "paused" and agent_reason in DEVICE_PAUSES:
        return UNPAUSE, ""
    return None
