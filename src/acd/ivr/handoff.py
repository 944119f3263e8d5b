"""What a ``queue`` node hands to the ACD.

The IVR does not know how calls are routed: it describes the call (queue or skills,
priority, data collected from the caller) and lets whatever implements ``QueueHandoff``
take over.  The dialplan then parks the caller (``ACD_ACTION=queue``), unless the
hand-off names another next step: the ACD that has an agent free for the caller at once
rings it straight from here (``agent``), without parking it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from acd.ivr.channel import Channel


@dataclass(frozen=True)
class QueueRequest:
    queue: str | None
    skills: tuple[str, ...] = ()
    priority: int = 0
    attached: dict[str, str] = field(default_factory=dict)
    flow: str = ""
    flow_version: str = ""


class QueueHandoff(Protocol):
    async def enqueue(self, channel: Channel, request: QueueRequest) -> str | None:
        """Register the call with the ACD; raising makes the flow take the node's ``fallback``.

        Returns the dialplan's next step (``ACD_ACTION``) when it is not ``queue``; the
        variables that step needs are written through ``channel`` like the labels.  The
        writes may be held back until the flow has named the step (one round trip): when
        they then fail, the flow calls ``hand_off_failed(call_id, reason)`` (if the
        hand-off has one) before taking the fallback, so the ACD does not route a call
        that never reached the dialplan."""
        ...
