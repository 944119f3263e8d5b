"""AmiClient's receive side over a real loopback socket, against a scripted AMI server:
unwanted events are skipped unparsed, wanted ones arrive intact, actions and event lists
still resolve through panoramisk, and garbage is logged without stalling the stream."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator, Callable

import pytest

from acd.asterisk import ami_wire
from acd.asterisk.ami import AmiActionRefused, AmiClient, AmiError, AmiMessage, AmiNotConnected
from acd.asterisk.call_control import AsteriskCallControl
from acd.dispatch import Dispatcher
from acd.base.events import Event
from acd.routing import Router, load_routing_text

EOM = b"\r\n\r\n"


def _fields(block: bytes) -> dict[str, str]:
    fields = {}
    for line in block.decode().split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            fields[key.lower()] = value
    return fields


class ScriptedAmi:
    """A loopback AMI server: greets, accepts Login, answers actions with ``replies``.

    ``replies[action]`` returns the bytes to send for an action (given its ActionID);
    unknown actions get a plain ``Response: Success``.  ``push`` writes raw bytes to
    the connected client at any time.
    """

    def __init__(self) -> None:
        self.replies: dict[str, Callable[[str], bytes]] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self.server: asyncio.base_events.Server | None = None
        #: every byte the client sent, in order: what Asterisk would have read
        self.received = bytearray()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buffer = b""
        while chunk := await reader.read(65536):
            self.received += chunk
            buffer += chunk
            while EOM in buffer:
                block, _, buffer = buffer.partition(EOM)
                fields = _fields(block)
                action, action_id = fields.get("action", "").lower(), fields.get("actionid", "")
                if action == "login":
                    writer.write(f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted".encode() + EOM)
                    self.connected.set()
                elif action in self.replies:
                    writer.write(self.replies[action](action_id))
                else:
                    writer.write(f"Response: Success\r\nActionID: {action_id}".encode() + EOM)
        writer.close()

    async def push(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def ami() -> AsyncIterator[tuple[ScriptedAmi, AmiClient]]:
    server = ScriptedAmi()
    port = await server.start()
    client = AmiClient(port=port, secret="s", ping_interval_s=30, ping_timeout_s=5, action_timeout_s=3)
    await client.start()
    await client.wait_connected(5)
    await server.connected.wait()
    yield server, client
    await client.close()
    await server.close()


def event(name: str, **headers: str) -> bytes:
    return "\r\n".join([f"Event: {name}"] + [f"{key}: {value}" for key, value in headers.items()]).encode() + EOM


async def test_only_subscribed_events_are_parsed_and_delivered(ami: tuple[ScriptedAmi, AmiClient], monkeypatch: pytest.MonkeyPatch) -> None:
    server, client = ami
    parsed: list[bytes] = []

    def counting_parse(block: bytes) -> tuple[dict[str, str], list[str]]:
        parsed.append(block)
        return ami_wire.parse_block(block)

    monkeypatch.setattr("acd.asterisk.ami.parse_block", counting_parse)
    hangups = client.subscribe("Hangup")
    noise = b"".join(event("VarSet", Channel=f"PJSIP/c-{i}", Variable="X", Value=str(i)) for i in range(50))
    before = client.stats.events
    await server.push(noise + event("Hangup", Uniqueid="1.2", Channel="PJSIP/c-1", **{"Cause-txt": "Normal Clearing"}))
    message = await hangups.get(5)
    assert message.name == "Hangup" and message["Uniqueid"] == "1.2" and message["Cause-txt"] == "Normal Clearing"
    assert client.stats.events - before == 51  # every event counted…
    assert client.stats.delivered_events == 1 and len(parsed) == 1  # …but only the wanted one was parsed


async def test_a_subscriber_to_everything_gets_every_event_in_order(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    server, client = ami
    everything = client.subscribe()
    await server.push(event("Newchannel", Uniqueid="1") + b"\r\n" + event("VarSet", Uniqueid="2") + event("Hangup", Uniqueid="3"))
    got = [await everything.get(5) for _ in range(3)]
    assert [(m.name, m["Uniqueid"]) for m in got] == [("Newchannel", "1"), ("VarSet", "2"), ("Hangup", "3")]


async def test_a_listener_gets_each_event_as_it_is_read_and_its_failure_stops_nothing(
    ami: tuple[ScriptedAmi, AmiClient], caplog: pytest.LogCaptureFixture
) -> None:
    """``listen``: the named events, in order, called from the read itself (no queue: the
    backlog stays 0); a listener that raises is logged and neither it nor a subscriber
    misses the next event."""
    server, client = ami
    heard: list[str] = []

    def listener(message: AmiMessage) -> None:
        heard.append(message["Uniqueid"])
        if message["Uniqueid"] == "1":
            raise RuntimeError("listener bug")

    stop = client.listen("Hangup", callback=listener)
    everything = client.subscribe("Hangup")
    await server.push(event("Hangup", Uniqueid="1") + event("VarSet", Uniqueid="x") + event("Hangup", Uniqueid="2"))
    got = [(await everything.get(5))["Uniqueid"] for _ in range(2)]
    assert heard == ["1", "2"] and got == ["1", "2"]
    assert "a listener failed" in caplog.text and client.backlog == 0
    stop()
    await server.push(event("Hangup", Uniqueid="3"))
    assert (await everything.get(5))["Uniqueid"] == "3" and heard == ["1", "2"]


async def test_garbage_is_logged_and_the_stream_goes_on(ami: tuple[ScriptedAmi, AmiClient], caplog: pytest.LogCaptureFixture) -> None:
    server, client = ami
    hangups = client.subscribe("Hangup")
    caplog.set_level(logging.WARNING, logger="acd.ami")
    await server.push(
        b"complete nonsense\r\nmore of it" + EOM
        + b"Event: Hangup\r\nUniqueid: 7.1\r\nthis line is broken\r\nChannel: PJSIP/x" + EOM
        + event("Hangup", Uniqueid="7.2")
    )
    first, second = await hangups.get(5), await hangups.get(5)
    assert (first["Uniqueid"], first["Channel"], second["Uniqueid"]) == ("7.1", "PJSIP/x", "7.2")
    messages = [record.getMessage() for record in caplog.records]
    assert any("neither an event nor a response: 'complete nonsense" in text for text in messages), messages
    assert any("malformed line(s) in event 'Hangup': 'this line is broken'" in text for text in messages), messages
    assert client.stats.malformed == 2 and client.connected


async def test_a_message_that_never_ends_is_dropped_without_stalling(ami: tuple[ScriptedAmi, AmiClient], caplog: pytest.LogCaptureFixture) -> None:
    server, client = ami
    hangups = client.subscribe("Hangup")
    caplog.set_level(logging.WARNING, logger="acd.ami")
    await server.push(b"Event: Hangup\r\nJunk: " + b"x" * (1 << 20) + b"\r\n" + b"y" * (1 << 19))
    await server.push(EOM + event("Hangup", Uniqueid="8.1"))
    assert (await hangups.get(5))["Uniqueid"] == "8.1"
    assert any("dropped a message of more than 1048576 bytes" in record.getMessage() for record in caplog.records)
    assert await client.action("Ping")  # the connection still answers


async def test_event_lists_answer_their_action_and_not_subscribers(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    server, client = ami
    everything = client.subscribe()
    server.replies["status"] = lambda action_id: (
        f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\nMessage: Channel status will follow".encode() + EOM
        + f"Event: Status\r\nActionID: {action_id}\r\nChannel: PJSIP/a\r\nUniqueid: 1.1\r\nVariable: ACD_QUEUE=ventas\r\nVariable: ACD_PRIORITY=".encode() + EOM
        + f"Event: StatusComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\nListItems: 1".encode() + EOM
    )
    statuses = await client.action_list("Status")
    assert [(s["Channel"], s.variables()) for s in statuses] == [("PJSIP/a", {"ACD_QUEUE": "ventas", "ACD_PRIORITY": ""})]
    await server.push(event("Hangup", Uniqueid="9.9"))
    assert (await everything.get(5)).name == "Hangup"  # the list's events never reached the subscriber


async def test_an_action_refused_by_asterisk_raises(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    server, client = ami
    server.replies["redirect"] = lambda action_id: f"Response: Error\r\nActionID: {action_id}\r\nMessage: Channel not found".encode() + EOM
    with pytest.raises(AmiError, match="Redirect failed: Channel not found"):
        await client.action("Redirect", Channel="PJSIP/gone", Context="acd-hold", Exten="s", Priority=1)


async def test_an_originate_response_after_its_action_reaches_subscribers(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    """Async Originate: the action resolves at once; the outcome comes later as an event
    with the same ActionID, which call control reads to notice a failed callback."""
    server, client = ami
    responses = client.subscribe("OriginateResponse")
    await client.action("Originate", ActionID="acd-callback-1.5-1", Channel="PJSIP/agent1", Async="true")
    await server.push(event("OriginateResponse", ActionID="acd-callback-1.5-1", Response="Failure", Reason="3"))
    message = await responses.get(5)
    assert message["ActionID"] == "acd-callback-1.5-1" and message["Reason"] == "3"


async def test_backlog_counts_events_not_yet_taken(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    server, client = ami
    hangups = client.subscribe("Hangup")
    assert client.backlog == 0
    await server.push(event("Hangup", Uniqueid="1") + event("VarSet") + event("Hangup", Uniqueid="2"))
    await hangups.get(5)
    assert client.backlog == 1
    await hangups.get(5)
    assert client.backlog == 0


async def test_a_shutdown_event_drops_the_connection(ami: tuple[ScriptedAmi, AmiClient]) -> None:
    server, client = ami
    await server.push(event("Shutdown", Shutdown="Cleanly", Restart="False"))
    for _ in range(200):
        if client.stats.disconnects:
            break
        await asyncio.sleep(0.01)
    assert client.stats.disconnects == 1


# ------------------------------------------------------------------ header injection

INJECTED = "x\r\n\r\nAction: Originate\r\nChannel: PJSIP/evil"


async def test_a_value_with_a_line_break_is_refused_named_logged_and_never_sent(
    ami: tuple[ScriptedAmi, AmiClient], caplog: pytest.LogCaptureFixture
) -> None:
    server, client = ami
    for value in (INJECTED, "a\nb", "a\x00b"):
        with pytest.raises(AmiActionRefused, match="'Setvar': header 'Value' contains a line break"):
            await client.action("Setvar", Channel="PJSIP/c-1", Variable="ACD_QUEUE", Value=value)
    with pytest.raises(AmiActionRefused, match="'Originate': header 'Variable'"):
        await client.action("Originate", Channel="PJSIP/c-1", Variable=["A=1", "B=2\r\nAction: Hangup"])
    ok = await client.action("Setvar", Channel="PJSIP/c-1", Variable="ACD_QUEUE", Value="ventas")  # the connection is fine
    assert ok.success
    sent = bytes(server.received)
    assert b"evil" not in sent and b"Originate" not in sent and b"Hangup" not in sent and b"\x00" not in sent
    assert sent.count(b"Action: Setvar") == 1
    refusals = [r.getMessage() for r in caplog.records if "refused to send AMI action" in r.getMessage()]
    assert len(refusals) == 4 and not any("evil" in message for message in refusals)  # named, never quoted


async def test_a_secret_with_a_line_break_never_reaches_asterisk() -> None:
    server = ScriptedAmi()
    port = await server.start()
    client = AmiClient(port=port, secret=INJECTED, action_timeout_s=3, reconnect_initial_s=10)
    await client.start()
    try:
        with pytest.raises(AmiNotConnected, match="'Login': header 'Secret' contains a line break"):
            await client.wait_connected(2)
        assert b"evil" not in server.received and b"Originate" not in server.received
        assert not server.connected.is_set()
    finally:
        await client.close()
        await server.close()


async def test_a_call_whose_channel_cannot_go_into_an_action_is_given_up_and_the_next_is_rung(
    ami: tuple[ScriptedAmi, AmiClient],
) -> None:
    """A caller channel with a line break (Asterisk repeating a header joins the values
    with one): no action about it is sent, the agent is not blamed (not paused), the call
    leaves the queue, and the dispatcher goes on to ring the next caller."""
    server, client = ami
    config, problems = load_routing_text(
        "skills: [s]\nqueues:\n  - {name: q, skills: [s]}\nagents:\n  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {s: 5}}\n"
    )
    assert config is not None, problems
    events: list[Event] = []
    dispatcher = Dispatcher(router=Router(config), control=AsteriskCallControl(client), emit=events.append, clock=time.time)
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        await asyncio.sleep(0.05)  # subscribed
        dispatcher.agent_login("ana")
        bad = "Event: UserEvent\r\nUserEvent: AcdParked\r\nCallId: c1\r\nChannel: PJSIP/c-1\r\nChannel: evil\r\nQueue: q\r\n\r\n"
        await server.push(bad.encode())
        await _until(lambda: any(e.type == "call.abandoned" and e.call_id == "c1" for e in events))
        assert dispatcher.counters.ring_errors == 1
        assert dispatcher.router.agent("ana").state == "available"  # type: ignore[union-attr]
        await server.push(b"Event: UserEvent\r\nUserEvent: AcdParked\r\nCallId: c2\r\nChannel: PJSIP/c-2\r\nQueue: q\r\n\r\n")
        await _until(lambda: b"Action: Redirect" in server.received)
        assert b"Channel: PJSIP/c-2" in server.received and b"evil" not in server.received and b"c-1" not in server.received
    finally:
        runner.cancel()
        dispatcher.close()


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
