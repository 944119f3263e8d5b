"""``agi:…/agent``: a feature code dialled from an agent's own phone (``[from-agents]``)."""

from __future__ import annotations

from dataclasses import dataclass

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.fastagi import AgiSession
from acd.features.agent_phone import AgentPhoneCodes


@dataclass
class AgentRoute:
    codes: AgentPhoneCodes

    async def __call__(self, session: AgiSession) -> None:
        await self.codes.handle(AgiChannel(session), session.request.args)
