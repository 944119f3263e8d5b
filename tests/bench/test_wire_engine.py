"""The parity bench's wire side (``acd.bench.wire_engine``): the acd side's conversation
with Asterisk, on in-memory transports.  The lab test (tests/lab/test_parity_e2e.py) runs
it against the real Asterisk with callers waiting, so it parks and redirects for real."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.bench.wire_engine import AgiSide, AmiSide, FreeAgents, main


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def agents() -> FreeAgents:
    return FreeAgents({"a1": "PJSIP/agent1", "a2": "PJSIP/agent2"}, ring_timeout_s=10)


HEADER = b"agi_network: yes\nagi_request: agi://127.0.0.1/ivr?answered=yes\nagi_channel: PJSIP/callers-1\nagi_uniqueid: 1700.1\n\n"


def session(free: FreeAgents) -> tuple[AgiSide, Transport]:
    side, transport = AgiSide(free), Transport()
    side.connection_made(transport)  # type: ignore[arg-type]
    return side, transport


def test_a_call_hears_the_prompt_then_is_sent_to_the_agent_free_longest_and_the_session_ends() -> None:
    free = agents()
    side, transport = session(free)
    side.data_received(HEADER[:30])
    assert transport.written == []
    side.data_received(HEADER[30:])
    assert transport.written == [b'STREAM FILE "beep" ""\n']
    side.data_received(b"200 result=0 endpos=8000\n")
    assert transport.written[1] == b'EXEC "MSet" "ACD_QUEUE=parity,ACD_CALL_ID=1700.1,ACD_RING=012a1,ACD_ACTION=agent"\n'
    assert free.busy == {"a1"} and list(free.free) == ["a2"]
    side.data_received(b"200 result=0\n")
    assert transport.closed


def test_with_every_agent_busy_the_caller_is_queued_and_rung_by_redirect_when_a_phone_frees() -> None:
    free = agents()
    free.take(), free.take()
    side, transport = session(free)
    side.data_received(HEADER + b"200 result=0 endpos=8000\n")
    assert transport.written[-1].endswith(b'ACD_CALL_ID=1700.1,ACD_ACTION=queue"\n')

    lost: asyncio.Future[str] = asyncio.new_event_loop().create_future()
    ami, wire = AmiSide(free, "acd", "s3cret", lost), Transport()
    ami.connection_made(wire)  # type: ignore[arg-type]
    login = wire.written[0].decode()
    assert login.startswith("Action: Login\r\nActionID: wire-1\r\nUsername: acd\r\nSecret: s3cret\r\n")
    assert any(b"Variable: ACD_AGENT_ENDPOINT_a2\r\nValue: PJSIP/agent2" in data for data in wire.written)
    wire.written.clear()
    ami.data_received(b"Asterisk Call Manager/9.0\r\nEvent: UserEvent\r\nChannel: PJSIP/callers-1\r\nUserEvent: AcdParked\r\n\r\n")
    assert wire.written == [] and list(free.parked) == ["PJSIP/callers-1"]
    ami.data_received(b"Event: DeviceStateChange\r\nDevice: PJSIP/agent2\r\nState: INUSE\r\n\r\n")
    assert wire.written == []
    ami.data_received(b"Event: DeviceStateChange\r\nDevice: PJSIP/agent2\r\nState: NOT_INUSE\r\n\r\n")
    redirect = wire.written[0].decode()
    assert "Action: Redirect\r\n" in redirect and "Channel: PJSIP/callers-1\r\n" in redirect and "Exten: 012a2\r\n" in redirect
    assert free.busy == {"a1", "a2"} and not free.parked
    # Asterisk refused it (the caller hung up meanwhile): the agent is free again, first in line
    action_id = redirect.split("ActionID: ")[1].split("\r\n")[0]
    ami.data_received(f"Response: Error\r\nActionID: {action_id}\r\nMessage: Channel not found\r\n\r\n".encode())
    assert list(free.free) == ["a2"] and free.busy == {"a1"}
    ami.data_received(b"Event: DeviceStateChange\r\nDevice: PJSIP/agent1\r\nState: NOT_INUSE\r\n\r\n")
    assert list(free.free) == ["a2", "a1"] and not free.busy


def test_a_refused_login_and_a_lost_connection_say_why() -> None:
    loop = asyncio.new_event_loop()
    lost: asyncio.Future[str] = loop.create_future()
    ami = AmiSide(agents(), "acd", "bad", lost)
    ami.connection_made(Transport())  # type: ignore[arg-type]
    ami.data_received(b"Response: Error\r\nActionID: wire-1\r\nMessage: Authentication failed\r\n\r\n")
    assert lost.result() == "AMI login refused: Authentication failed"
    gone: asyncio.Future[str] = loop.create_future()
    AmiSide(agents(), "acd", "s", gone).connection_lost(None)
    assert gone.result() == "AMI connection lost (closed by Asterisk)"
    loop.close()


def test_garbage_from_asterisk_on_fastagi_closes_that_session_only() -> None:
    side, transport = session(agents())
    side.data_received(HEADER + b"this is not an answer\n")
    assert transport.closed


def test_bad_settings_are_named_not_a_traceback(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["-c", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    (tmp_path / "routing.yaml").write_text("skills: [s]\nqueues:\n  - {name: q, skills: [s]}\nagents:\n  - {id: a1, name: A, endpoint: PJSIP/agent1, skills: {s: 5}}\n")
    (tmp_path / "acd.yaml").write_text(f"routing:\n  config: {tmp_path / 'routing.yaml'}\n  auto_login: [zz]\n")
    assert main(["-c", str(tmp_path / "acd.yaml")]) == 2
    assert "routing.auto_login names none of the routing file's agents" in capsys.readouterr().err
