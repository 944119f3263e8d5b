"""``agi:…/survey``: after the agent hangs up, the flow named in ``ACD_SURVEY`` runs its ``after_call`` node."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.fastagi import AgiSession
from acd.ivr.channel import CallerHungUp
from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner

log = logging.getLogger("acd.agi_routes.survey")


@dataclass
class SurveyRoute:
    flows: FlowRegistry
    runner: FlowRunner

    async def __call__(self, session: AgiSession) -> None:
        channel = AgiChannel(session)
        try:
            name = await channel.get_variable("ACD_SURVEY")
        except CallerHungUp:
            return
        snapshot = self.flows.snapshot()
        flow = snapshot.get(name or "")
        if flow is None or not getattr(flow, "after_call", None):
            log.warning("survey requested for unknown flow %r (call %s)", name, channel.call_id)
            return
        await self.runner.run(flow, channel, entry=flow.after_call, flows=snapshot)
