"""Fewer AGI round trips per call: the hold labels and the next step in one ``EXEC MSet``,
no ANSWER when the dialplan answered, no language set that the channel already has, and
(the session) no Task per command.

Each round trip costs the engine a write, a read and a wake-up, and Asterisk the same;
a caller through IVR and queue made about nine of them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.agi_protocol import AgiProtocolError, AgiRequest, AgiResponse
from acd.asterisk.fastagi import AgiHangup, AgiSession, AgiTimeout
from acd.ivr.handoff import QueueRequest
from acd.ivr.loader import load_flow_file
from acd.ivr.runner import FlowRunner


class RecordingSession:
    """Stands in for the session: records each command, answers ``200 result=<result>``."""

    def __init__(self, language: str = "es", result: str = "0", params: dict[str, str] | None = None) -> None:
        env = {"agi_uniqueid": "1.1", "agi_channel": "PJSIP/c-1", "agi_language": language, "agi_callerid": "5691", "agi_extension": "300"}
        self.request = AgiRequest(env=env, route="ivr", params=params or {}, args=())
        self.sent: list[tuple[str, ...]] = []
        self.result = result

    async def command(self, command: str, *args: str, timeout_s: float | None = None) -> AgiResponse:
        self.sent.append((command, *args))
        return AgiResponse(code=200, result=self.result)


def channel(session: RecordingSession) -> AgiChannel:
    return AgiChannel(session)  # type: ignore[arg-type]


async def test_labels_go_in_one_mset_and_an_empty_value_on_its_own() -> None:
    session = RecordingSession()
    await channel(session).set_variables({"ACD_CALL_ID": "1796.12", "ACD_QUEUE": "ventas-2", "ACD_WAIT_ORIGIN": "1796.500", "ACD_PRIORITY": ""})
    assert session.sent == [
        ("EXEC", "MSet", "ACD_CALL_ID=1796.12,ACD_QUEUE=ventas-2,ACD_WAIT_ORIGIN=1796.500"),
        ("SET VARIABLE", "ACD_PRIORITY", ""),
    ]


@pytest.mark.parametrize("value", ["a,b", "a=b", 'say "hi"', "back\\slash", "${EVIL}", "two words"])
def test_a_value_mset_would_misread_is_set_on_its_own(value: str) -> None:
    session = RecordingSession()
    asyncio.run(channel(session).set_variables({"ACD_CALL_ID": "1.1", "ACD_QUEUE": value}))
    assert session.sent == [("SET VARIABLE", "ACD_CALL_ID", "1.1"), ("SET VARIABLE", "ACD_QUEUE", value)]


async def test_without_mset_every_variable_is_still_set() -> None:
    session = RecordingSession(result="-2")  # "no such application"
    await channel(session).set_variables({"ACD_CALL_ID": "1.1", "ACD_QUEUE": "q"})
    assert session.sent[1:] == [("SET VARIABLE", "ACD_CALL_ID", "1.1"), ("SET VARIABLE", "ACD_QUEUE", "q")]


async def test_the_language_the_channel_already_has_is_not_set_again() -> None:
    session = RecordingSession(language="es")
    agi = channel(session)
    await agi.set_language("es")
    assert session.sent == []
    await agi.set_language("en")
    await agi.set_language("en")
    await agi.set_language("es")
    assert session.sent == [("SET VARIABLE", "CHANNEL(language)", "en"), ("SET VARIABLE", "CHANNEL(language)", "es")]


class FakeTransport:
    """What an AgiSession writes to and closes: the socket, as the tests see it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def fed_session(read_timeout_s: float = 1) -> tuple[AgiSession, FakeTransport]:
    transport = FakeTransport()
    request = AgiRequest(env={}, route="ivr", params={}, args=())
    return AgiSession(request, transport, read_timeout_s=read_timeout_s), transport  # type: ignore[arg-type]


async def test_a_silent_asterisk_still_times_a_command_out() -> None:
    session, transport = fed_session(read_timeout_s=0.05)
    with pytest.raises(AgiTimeout, match="no answer to ANSWER within 0.1 s"):
        await session.command("ANSWER")
    session.feed(b"200 result=0\n")  # late: read by the next command, as from a socket
    assert (await session.command("ANSWER", timeout_s=1)).result_int == 0
    assert transport.writes == [b"ANSWER\n", b"ANSWER\n"]


async def test_answers_split_anywhere_and_a_hangup_notice_between_commands_are_read_in_order() -> None:
    session, _ = fed_session()
    for piece in (b"20", b"0 result=1 (x", b"y)\n200 res", b"ult=0\n"):
        session.feed(piece)
    assert (await session.command("GET VARIABLE", "A")).data == "xy"
    assert (await session.command("ANSWER")).result_int == 0
    session.feed(b"HANGUP\n")  # the caller hung up between commands
    session.feed(b"200 result=-1\n")
    with pytest.raises(AgiHangup):
        await session.command("STREAM FILE", "beep", "")
    assert session.hung_up


async def test_a_response_line_without_end_is_cut_off_in_bounded_memory() -> None:
    session, transport = fed_session()
    waiting = asyncio.ensure_future(session.command("ANSWER"))
    await asyncio.sleep(0)
    for _ in range(100):
        session.feed(b"x" * 4096)
    with pytest.raises(AgiProtocolError, match="too long"):
        await waiting
    assert transport.closed and len(session._partial) == 0


async def test_a_peer_answering_what_nobody_asked_is_cut_off_in_bounded_memory() -> None:
    session, transport = fed_session()
    for _ in range(10_000):
        session.feed(b"200 result=0\n")  # no command waits for these
    assert transport.closed and len(session._lines) == 0
    with pytest.raises(AgiHangup):
        await session.command("ANSWER")


async def test_a_channel_the_dialplan_answered_is_not_answered_again() -> None:
    answered = RecordingSession(params={"answered": "yes"})
    await channel(answered).answer()
    assert answered.sent == []
    unanswered = RecordingSession()
    agi = channel(unanswered)
    await agi.answer()
    await agi.answer()
    assert unanswered.sent == [("ANSWER",)]


async def test_writes_in_a_batch_go_together_when_it_ends() -> None:
    session = RecordingSession()
    agi = channel(session)
    async with agi.batched():
        await agi.set_variables({"ACD_CALL_ID": "1.1", "ACD_QUEUE": "q", "ACD_PRIORITY": ""})
        await agi.set_variable("ACD_ACTION", "queue")
        assert session.sent == []
    assert session.sent == [("EXEC", "MSet", "ACD_CALL_ID=1.1,ACD_QUEUE=q,ACD_ACTION=queue"), ("SET VARIABLE", "ACD_PRIORITY", "")]


async def test_a_batch_that_fails_writes_nothing() -> None:
    session = RecordingSession()
    agi = channel(session)
    with pytest.raises(ValueError):
        async with agi.batched():
            await agi.set_variable("ACD_QUEUE", "q")
            raise ValueError("refused")
    assert session.sent == []
    await agi.set_variable("ACD_QUEUE", "r")  # after the batch: at once again
    assert session.sent == [("SET VARIABLE", "ACD_QUEUE", "r")]


async def test_a_command_inside_a_batch_comes_after_the_writes_before_it() -> None:
    session = RecordingSession(result="1")
    agi = channel(session)
    async with agi.batched():
        await agi.set_variable("ACD_QUEUE", "q")
        await agi.get_variable("ACD_QUEUE")
        await agi.set_variable("ACD_ACTION", "queue")
    assert session.sent == [("SET VARIABLE", "ACD_QUEUE", "q"), ("GET VARIABLE", "ACD_QUEUE"), ("SET VARIABLE", "ACD_ACTION", "queue")]


class LabellingHandoff:
    """The dispatcher's part of the hand-off: the call's labels in one write."""

    async def enqueue(self, channel: AgiChannel, request: QueueRequest) -> None:
        await channel.set_variables({"ACD_CALL_ID": channel.call_id, "ACD_QUEUE": request.queue or "", "ACD_PRIORITY": ""})


def _beep_then_queue(tmp_path: Path):  # noqa: ANN202 - a flow model
    """The parity bench's flow: a prompt, then the queue ``ventas``."""
    (tmp_path / "f.yaml").write_text(
        "name: f\nnumbers: ['300']\nentry: hi\nnodes:\n  hi: {type: play, prompt: beep, next: q}\n"
        "  q: {type: queue, queue: ventas, fallback: bye}\n  bye: {type: hangup}\n"
    )
    loaded = load_flow_file(tmp_path / "f.yaml")
    assert loaded.flow is not None, loaded.problems
    return loaded.flow


async def test_a_caller_through_prompt_and_queue_costs_three_round_trips(tmp_path: Path) -> None:
    session = RecordingSession(params={"answered": "yes"})
    result = await FlowRunner(handoff=LabellingHandoff()).run(_beep_then_queue(tmp_path), channel(session))
    assert result.action == "queue"
    assert session.sent == [
        ("STREAM FILE", "beep", ""),
        ("EXEC", "MSet", "ACD_CALL_ID=1.1,ACD_QUEUE=ventas,ACD_ACTION=queue"),
        ("SET VARIABLE", "ACD_PRIORITY", ""),
    ]


async def test_a_caller_to_a_free_agent_costs_two_round_trips_past_the_key_with_the_real_dispatcher(tmp_path: Path) -> None:
    """The prompt, then one MSet: the labels (the queue's priority, never an empty value
    that would go on its own), CEL's queued mark, the ring and the next step."""
    from acd.dispatch import Dispatcher
    from acd.dispatch.testing import RingingFakeCallControl
    from acd.routing import Router, load_routing_text

    config, problems = load_routing_text(
        "skills: [s]\nagents: [{id: ana, name: Ana, endpoint: PJSIP/ana, skills: {s: 5}}]\n"
        "queues: [{name: ventas, skills: [s], priority: 3, ring_timeout_s: 12}]\n"
    )
    assert config is not None, problems
    dispatcher = Dispatcher(router=Router(config), control=RingingFakeCallControl(), emit=lambda event: None, clock=lambda: 1796.5)
    dispatcher.agent_login("ana")
    session = RecordingSession(params={"answered": "yes"})
    result = await FlowRunner(handoff=dispatcher).run(_beep_then_queue(tmp_path), channel(session))
    assert result.action == "queue"
    assert session.sent == [
        ("STREAM FILE", "beep", ""),
        (
            "EXEC",
            "MSet",
            "ACD_CALL_ID=1.1,ACD_QUEUE=ventas,ACD_WAIT_ORIGIN=1796.500,ACD_PRIORITY=3,"
            "ACD_RING=014ana,CHANNEL(userfield)=ventas|1796.500,ACD_ACTION=agent",
        ),
    ]


async def test_a_refused_hand_off_writes_no_next_step(tmp_path: Path) -> None:
    class Refusing:
        async def enqueue(self, channel: AgiChannel, request: QueueRequest) -> None:
            await channel.set_variables({"ACD_CALL_ID": channel.call_id, "ACD_QUEUE": "ventas"})
            raise ValueError("unknown queue")

    (tmp_path / "f.yaml").write_text(
        "name: f\nnumbers: ['300']\nentry: q\nnodes:\n  q: {type: queue, queue: ventas, fallback: bye}\n  bye: {type: hangup}\n"
    )
    loaded = load_flow_file(tmp_path / "f.yaml")
    assert loaded.flow is not None, loaded.problems
    session = RecordingSession(params={"answered": "yes"})
    await FlowRunner(handoff=Refusing()).run(loaded.flow, channel(session))
    # the labels the hand-off wrote before it refused are dropped with the batch; the
    # fallback's own next step is written at once
    assert session.sent == [("SET VARIABLE", "ACD_ACTION", "hangup"), ("HANGUP",)]
