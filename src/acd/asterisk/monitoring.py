"""Supervisor monitoring of an agent's live call with Asterisk's ChanSpy.

The engine asks Asterisk (AMI ``Originate``) to ring the supervisor's phone; once it is
answered, ``ChanSpy`` attaches to the agent's channel: ``listen`` hears both sides,
``whisper`` also speaks to the agent only, ``barge`` speaks to both.  ``E`` ends the spy
when the agent's call ends, ``q`` skips ChanSpy's beeps and channel-name announcement.

Both endpoints are checked against a strict dial-string pattern before they go into the
action (an endpoint comes from the routing file or an API request): nothing else reaches
``Data``.  The spied channel is given as ``<agent endpoint>-`` so ``PJSIP/agent2`` never
matches ``PJSIP/agent20``'s channels.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.asterisk.ami import AmiClient

MODES = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.+-]{1,64}$")
RING_S = 20


def check_endpoint(endpoint: str) -> str:
    if not _ENDPOINT.match(endpoint):
        raise ValueError(f"{endpoint!r} is not a phone's dial string like PJSIP/agent6")
    return endpoint


async def start_monitor(ami: "AmiClient", *, supervisor: str, agent_endpoint: str, mode: str, label: str) -> None:
    """Ring ``supervisor``; once answered, spy on ``agent_endpoint``'s call in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    check_endpoint(supervisor)
    check_endpoint(agent_endpoint)
    caller_id = re.sub(r"[^A-Za-z0-9 _.-]", "", label)[:40] or "acd"
    await ami.action(
        "Originate",
        Channel=supervisor,
        Application="ChanSpy",
        Data=f"{agent_endpoint}-,{MODES[mode]}",
        CallerID=f"{mode} {caller_id} <monitor>",
        Timeout=str(RING_S * 1000),
        Async="true",
    )


__all__ = ["MODES", "check_endpoint", "start_monitor"]
