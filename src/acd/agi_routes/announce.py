"""``agi:…/announce``: the hold context asks, every few seconds, what to tell a waiting caller."""

from __future__ import annotations

from dataclasses import dataclass

from acd.asterisk.fastagi import AgiSession
from acd.features.waiting import WaitingService


@dataclass
class AnnounceRoute:
    waiting: WaitingService

    async def __call__(self, session: AgiSession) -> None:
        await self.waiting.announce_route(session)
