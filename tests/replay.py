"""The recorded runner: a recorded AMI stream through the real AMI parser into the real dispatcher.

Cacofonisk-style: the dispatcher does not know whether its facts come live or from a
file.  Live, :class:`acd.asterisk.call_control.AsteriskCallControl` reads them from an AMI
connection; here :func:`recorded_messages` cuts the recording's bytes with the client's own
framing (:class:`acd.asterisk.ami_wire.AmiFramer`, fed in TCP-segment-sized pieces), keeps
the events call control subscribes to (``EVENT_NAMES``), parses them (``parse_block``) and
``translate`` turns them into facts.  The dispatcher and router are the engine's own; the
call control's *actions* go to :class:`acd.dispatch.testing.FakeCallControl`, and time is
the recording's: each fact is handled at the moment it arrived, and a router deadline
(ring time-out, wrap-up end, overflow) that falls between two facts is fired at its own
time, as the engine's timer would have.

A recording was made by a real engine on a real Asterisk, so what that engine decided is
in the stream too (``DialBegin``: which agent's phone was dialled for which call): a
replay can be checked against it (tests/test_dispatch_replay.py).
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from acd.asterisk.ami import AmiMessage
from acd.asterisk.ami_wire import AmiFramer, event_name_of, parse_block
from acd.asterisk.call_control import EVENT_NAMES, AsteriskPicture, ControlEvent, DeviceState, translate
from acd.base.events import Event
from acd.dispatch import Dispatcher
from acd.dispatch.testing import FakeCallControl
from acd.routing import Router, RoutingConfig, load_routing_config

RECORDINGS = Path(__file__).resolve().parents[1] / "deploy" / "ami-recordings"
SEGMENT = 1460  # bytes per read: a TCP segment's payload, so messages straddle reads as they do live


def recorded_messages(base: Path, names: Iterable[str] = EVENT_NAMES, segment: int = SEGMENT) -> Iterator[tuple[float, AmiMessage]]:
    """(arrival time, message) for each event of ``base`` (``NAME``) named in ``names``
    (by default those call control subscribes to)."""
    meta = json.loads(base.with_suffix(".json").read_text())
    packed = base.parent / f"{base.name}.ami.gz"
    raw = gzip.decompress(packed.read_bytes()) if packed.exists() else base.with_suffix(".ami").read_bytes()
    offsets, started_at = meta["offsets"], float(meta["started_at"])
    wanted = set(names)
    framer, index = AmiFramer(), 0
    for start in range(0, len(raw), segment):
        for block in framer.feed(raw[start : start + segment]):
            at = started_at + offsets[index]
            index += 1
            if event_name_of(block) in wanted:
                headers, _ = parse_block(block)
                yield at, AmiMessage(headers)
    assert not framer.problems, framer.problems
    assert index == len(offsets), f"the framer found {index} messages, the recording lists {len(offsets)}"


class ReplayDispatcher(Dispatcher):
    """The engine's dispatcher on the recorded clock: no loop timer (the runner fires deadlines)."""

    def _arm_timer(self) -> None:
        return None


@dataclass
class Replay:
    dispatcher: ReplayDispatcher
    control: FakeCallControl
    events: list[Event] = field(default_factory=list)
    facts: list[ControlEvent] = field(default_factory=list)
    #: what the recorded engine did: (call id, agent id) of each ``DialBegin``, in order
    recorded_dials: list[tuple[str, str]] = field(default_factory=list)


def routing_of(base: Path) -> RoutingConfig:
    meta = json.loads(base.with_suffix(".json").read_text())
    config, problems = load_routing_config(base.parent / meta["routing"])
    assert config is not None, problems
    return config


def unreachable_at_start(base: Path) -> tuple[DeviceState, ...]:
    """Phones Asterisk reported ``Unreachable`` (``ContactStatus``) before any state change of
    theirs: UNAVAILABLE when the recorded engine started.  Its startup resync read the
    devices' states over AMI actions, before the recording began, so the stream itself
    only shows them this way."""
    changed: set[str] = set()
    unreachable: dict[str, None] = {}
    for _, message in recorded_messages(base, ("ContactStatus", "DeviceStateChange")):
        if message.name == "DeviceStateChange":
            changed.add(message.get("Device"))
        elif message.get("ContactStatus") == "Unreachable" and f"PJSIP/{message.get('EndpointName')}" not in changed:
            unreachable[f"PJSIP/{message.get('EndpointName')}"] = None
    return tuple(DeviceState(device, "UNAVAILABLE") for device in unreachable)


async def replay(base: Path, config: RoutingConfig | None = None) -> Replay:
    """Every fact of the recording through a fresh dispatcher, as the engine that recorded it
    ran: every agent logged in, then a resync of the phones' states at the start."""
    config = config or routing_of(base)
    meta = json.loads(base.with_suffix(".json").read_text())
    now = [float(meta["started_at"])]
    control = FakeCallControl(shown=AsteriskPicture((), unreachable_at_start(base)))
    result = Replay(ReplayDispatcher(router=Router(config), control=control, emit=lambda e: None, clock=lambda: now[0]), control)
    dispatcher, router = result.dispatcher, result.dispatcher.router
    dispatcher.emit = result.events.append
    agent_of = {agent.endpoint: agent.id for agent in config.agents}
    for agent in config.agents:  # the recorded engine ran with auto_login for every agent
        dispatcher.agent_login(agent.id)
    await dispatcher.resync()
    for at, message in recorded_messages(base):
        while (deadline := router.next_deadline()) is not None and deadline <= at:
            now[0] = deadline
            dispatcher._on_timer()
            if router.next_deadline() == deadline:
                break  # nothing due after all: the fact below advances time
        now[0] = at
        if message.name == "DialBegin":
            endpoint = message.get("DestChannel").rsplit("-", 1)[0]
            result.recorded_dials.append((message.get("Uniqueid"), agent_of.get(endpoint, endpoint)))
        fact = translate(message)
        if fact is not None:
            result.facts.append(fact)
            dispatcher.handle(fact)
            for _ in range(3):  # the fake's actions (tasks) run, as AMI actions would be sent
                await asyncio.sleep(0)
    while (deadline := router.next_deadline()) is not None and deadline > now[0]:  # the stream ends; time runs on
        now[0] = deadline
        dispatcher._on_timer()
    dispatcher.close()
    return result
