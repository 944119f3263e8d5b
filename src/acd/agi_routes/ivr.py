"""``agi:…/ivr``: a caller arrives; the dialled number (or ``?flow=``) picks the flow it hears."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.fastagi import AgiSession
from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner
from acd.privacy import Pseudonyms

log = logging.getLogger("acd.agi_routes.ivr")


@dataclass
class IvrRoute:
    """``call.started`` (number masked and pseudonymised, never clear), then the flow."""

    flows: FlowRegistry
    runner: FlowRunner
    emit: Callable[..., None]
    pseudonyms: Callable[[], Pseudonyms | None]  # the install's key, loaded once the engine starts
    caller_number: Callable[[], Callable[[str, str], None] | None]  # the API's live view of clear numbers (memory only)

    async def __call__(self, session: AgiSession) -> None:
        channel = AgiChannel(session)
        dialed = session.request.params.get("number") or channel.dialed
        snapshot = self.flows.snapshot()
        flow = snapshot.get(session.request.params["flow"]) if "flow" in session.request.params else snapshot.for_number(dialed)
        caller = (self.pseudonyms() or Pseudonyms.ephemeral()).caller(channel.caller)
        self.emit("call.started", call_id=channel.call_id, data={**caller, "dialed": dialed, "channel": channel.channel_name})
        remember = self.caller_number()
        if remember is not None:
            remember(channel.call_id, channel.caller)
        if flow is None:
            log.warning("no IVR flow answers number %r (call %s)", dialed, channel.call_id)
            self.emit("ivr.error", call_id=channel.call_id, data={"message": f"no flow for number {dialed}"})
            await self.runner.refuse(channel)
            return
        await self.runner.run(flow, channel, flows=snapshot)
