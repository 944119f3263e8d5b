"""An in-memory call control for tests and replays: the one fake of :class:`acd.dispatch.CallControl`.

It remembers every action the dispatcher sends and reports only the facts it is given
(:meth:`FakeCallControl.put`, or ``facts`` directly); ``picture()`` is what Asterisk would
show on a resync (``shown`` plus bare ``channels``).  A ``Hangup`` of a channel it does not
have fails like Asterisk's "No such channel", so the dispatcher's retry is exercised.
Like :mod:`acd.ivr.testing`, it lives with the code it stands in for, so tests, the
recorded-stream replays and benchmarks share it instead of keeping private copies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from acd.asterisk.call_control import AsteriskPicture, ChannelStatus, ControlEvent, ring_extension


def picture_of(channels: dict[str, str]) -> AsteriskPicture:
    """Asterisk with these channels (uniqueid -> state), none of them a caller's."""
    return AsteriskPicture(
        channels=tuple(
            ChannelStatus(uniqueid, f"PJSIP/x-{uniqueid}", state, "", "", "", "", "", None, None, "", None) for uniqueid, state in channels.items()
        ),
        devices=(),
    )


@dataclass
class FakeCallControl:
    """Records actions; reports the facts put into it.

    * ``rings``: (call id, agent id) per ring (``dialled``: its endpoint); ``holds``: channels sent back to hold;
      ``ended``: channels whose wait was ended (time-out);
    * ``originated``: one dict per callback ``Originate`` (``mode`` "customer-first" or
      "agent-first", ``call_id``, ``agent_id``, ``endpoint``, ``dial``, ``leg_id``,
      ``labels`` and the ring times); ``hangups``: channels hung up; ``actions``: the
      callback legs' ``originate LEG`` / ``hangup LEG`` in the order they were sent;
    * ``shown`` and ``channels`` (uniqueid -> state): what ``picture()`` returns, after
      ``delay_s`` (to let facts arrive during a resync).
    """

    shown: AsteriskPicture = field(default_factory=lambda: AsteriskPicture((), ()))
    channels: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    rings: list[tuple[str, str]] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)  # the endpoint of each ring, in order
    holds: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    originated: list[dict[str, Any]] = field(default_factory=list)
    hangups: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    facts: asyncio.Queue[ControlEvent] = field(default_factory=asyncio.Queue)

    async def put(self, fact: ControlEvent) -> None:
        await self.facts.put(fact)

    async def events(self) -> AsyncIterator[ControlEvent]:
        while True:
            yield await self.facts.get()

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None:
        self.rings.append((call_id, agent_id))
        self.dialled.append(endpoint)

    async def return_to_hold(self, channel: str) -> None:
        self.holds.append(channel)

    async def end_waiting(self, channel: str) -> None:
        self.ended.append(channel)

    async def originate_customer_first(self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str,
                                       agent_ring_s: float, customer_ring_s: float, leg_id: str, labels: dict[str, str]) -> None:
        self.originated.append(dict(mode="customer-first", call_id=call_id, agent_id=agent_id, endpoint=endpoint, dial=customer_dial,
                                    agent_ring_s=agent_ring_s, customer_ring_s=customer_ring_s, leg_id=leg_id, labels=labels))
        self.actions.append(f"originate {leg_id}")

    async def originate_callback(self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str,
                                 ring_s: float, customer_ring_s: float, leg_id: str, labels: dict[str, str]) -> None:
        self.originated.append(dict(mode="agent-first", call_id=call_id, agent_id=agent_id, endpoint=endpoint, dial=customer_dial,
                                    agent_ring_s=ring_s, customer_ring_s=customer_ring_s, leg_id=leg_id, labels=labels))
        self.actions.append(f"originate {leg_id}")

    async def hang_up(self, channel: str) -> None:
        if channel not in {p["leg_id"] for p in self.originated} | set(self.channels):
            raise RuntimeError("Hangup failed: No such channel")
        self.hangups.append(channel)
        self.actions.append(f"hangup {channel}")

    async def picture(self) -> AsteriskPicture:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.channels:
            return self.shown
        return AsteriskPicture(self.shown.channels + picture_of(self.channels).channels, self.shown.devices)


@dataclass
class RingingFakeCallControl(FakeCallControl):
    """A fake that can also ring from the IVR's hand-off (``prepare_ring``), as the real
    control does: ``prepared`` lists (call id, agent id, extension); ``refuse_prepare``
    makes it fail (the caller is then parked and rung by ``Redirect``)."""

    prepared: list[tuple[str, str, str]] = field(default_factory=list)
    refuse_prepare: bool = False

    async def prepare_ring(self, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> str | None:
        if self.refuse_prepare:
            raise RuntimeError("Setvar failed: AMI gone")
        exten = ring_extension(agent_id, timeout_s)
        self.prepared.append((call_id, agent_id, exten))
        return exten
