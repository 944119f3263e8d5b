"""The dispatcher on a real AMI stream, without the lab: the recorded runner (tests/replay.py).

``deploy/ami-recordings/helpline`` is 284 calls a real engine routed on Asterisk 22 (three
queues, proficiency expansion, eight agent phones, one of them unreachable).  Replayed
through the real AMI framing and parser, ``translate`` and a fresh dispatcher and router
with the fake call control, the dispatcher must decide what the recorded engine decided:
Asterisk's own ``DialBegin`` events say which agent's phone was dialled for each call.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from acd.asterisk.call_control import AsteriskPicture, DeviceState
from acd.dispatch.testing import FakeCallControl
from tests.replay import RECORDINGS, Replay, recorded_messages, replay, unreachable_at_start

HELPLINE = RECORDINGS / "helpline"
CALLS = 284  # helpline.json's "calls": those that reached a queue


@pytest.fixture(scope="module")
def helpline() -> Replay:
    return asyncio.run(replay(HELPLINE))


def test_every_call_rings_the_agent_the_recorded_engine_had_asterisk_dial(helpline: Replay) -> None:
    decided = dict(helpline.control.rings)
    recorded = dict(helpline.recorded_dials)
    assert len(recorded) == CALLS and len(helpline.control.rings) == CALLS  # one ring per call, none twice
    assert decided == recorded
    assert len(set(decided.values())) >= 5  # the calls were spread over the agents, not one agent's
    assert helpline.control.holds == [] and helpline.control.ended == []  # every first ring was answered


def test_no_fact_of_the_stream_is_ignored_and_every_call_is_closed(helpline: Replay) -> None:
    dispatcher = helpline.dispatcher
    assert len(helpline.facts) == 2354  # as the recording's README counts them
    assert dispatcher.counters.ignored_events == 0 and dispatcher.counters.rings_sent == CALLS
    assert all(dispatcher.router.call(call_id) is None for call_id, _ in helpline.recorded_dials)
    assert {agent.state for agent in dispatcher.router.agents()} <= {"available", "paused"}


def test_each_call_is_recorded_queued_rung_answered_completed_in_that_order(helpline: Replay) -> None:
    by_call: dict[str, list[str]] = defaultdict(list)
    for event in helpline.events:
        if event.type.startswith("call."):
            by_call[event.call_id].append(event.type)
    assert len(by_call) == CALLS
    assert {tuple(types) for types in by_call.values()} == {("call.queued", "call.agent_ringing", "call.answered", "call.completed")}
    answered = [e for e in helpline.events if e.type == "call.answered"]
    assert all(0 <= e.data["waited_s"] < 60 for e in answered)  # recorded waits, not replay wall time


def test_the_unreachable_phone_is_read_from_the_stream_and_its_agent_is_never_rung(helpline: Replay) -> None:
    assert unreachable_at_start(HELPLINE) == (DeviceState("PJSIP/agent8", "UNAVAILABLE"),)
    assert "hugo" not in {agent for _, agent in helpline.control.rings}
    hugo = helpline.dispatcher.router.agent("hugo")
    assert hugo is not None and (hugo.state, hugo.reason) == ("paused", "unreachable")


async def test_without_the_startup_picture_the_replay_disagrees_with_the_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison has teeth: an engine that did not know hugo's phone was gone would have
    rung hugo for the proveedores calls Asterisk gave carla, and paused carla as busy."""
    monkeypatch.setattr("tests.replay.unreachable_at_start", lambda base: ())
    blind = await replay(HELPLINE)
    assert isinstance(blind.control, FakeCallControl) and blind.control.shown == AsteriskPicture((), ())
    wrong = {call: agent for call, agent in blind.control.rings if dict(blind.recorded_dials)[call] != agent}
    assert wrong and set(wrong.values()) == {"hugo"}


def test_the_framing_does_not_depend_on_how_the_bytes_arrive() -> None:
    """The same messages whether the stream comes in 1460-byte segments or 64 KiB reads."""
    small = [(at, dict(message.headers)) for at, message in recorded_messages(HELPLINE, segment=1460)]
    large = [(at, dict(message.headers)) for at, message in recorded_messages(HELPLINE, segment=65536)]
    assert small == large and len(small) == 2354  # each one a fact (translate)
