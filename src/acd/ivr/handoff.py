"""What a ``queue`` node hands to the ACD.

The IVR does not know how calls are routed: it describes the call (queue or skills,
priority, data collected from the caller) and lets whatever implements ``QueueHandoff``
take over.  The dialplan then parks the caller (``ACD_ACTION=queue``).
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
    async def enqueue(self, channel: Channel, request: QueueRequest) -> None:
        """Register the call with the ACD; raising makes the flow take the node's ``fallback``."""
        ...
