"""AmiClient's receive side over a real loopback socket, against a scripted AMI server:
unwanted events are skipped unparsed, wanted ones arrive intact, actions and event lists
still resolve through panoramisk, and garbage is logged without stalling the stream."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Callable

import pytest

from acd.asterisk import ami_wire
from acd.asterisk.ami import AmiClient, AmiError

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

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buffer = b""
        while chunk := await reader.read(65536):
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
