"""An agent phone takes a retransmitted INVITE before its ACK in its stride.

Under load Asterisk retransmits an INVITE it saw no answer to within T1 (500 ms); when the
copy reaches sipp after the phone's 200 OK, sipp aborted the call ("unexpected message
while expecting ACK") and Asterisk's side stayed bridged: a lost call that was the
harness's fault.  The XML check is quick; the other drives the real sipp with a script
that plays Asterisk's part (INVITE, the same INVITE again, ACK once the 200 OK is in).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import pytest

from acd.lab.sipp import SippRunner, agent_scenario, free_udp_port


@pytest.mark.parametrize("variant", [{}, {"answers_options": True}, {"cancel_ok": True}, {"audio": True}])
def test_an_optional_invite_sits_between_the_answer_and_the_ack(variant: dict[str, bool]) -> None:
    xml = agent_scenario(answer_after_s=0.1, talk_s=0.5, **variant)
    answer = xml.index("SIP/2.0 200 OK\n[last_Via:]")
    ack = xml.index('<recv request="ACK" rtd="true"')
    between = xml[answer:ack]
    assert re.search(r'<recv request="INVITE" optional="true"/>\s*$', between), between[-200:]
    assert "next=" not in between.split("</send>")[-1]  # no jump: nothing the ACK could race with


def test_a_phone_that_never_answers_has_no_such_step() -> None:
    assert 'optional="true"' not in agent_scenario(answer=False)


def _invite(port: int, mine: int) -> bytes:
    return (
        f"INVITE sip:agent1@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{mine};branch=z9hG4bK-r1\r\n"
        f"From: <sip:56900000001@127.0.0.1>;tag=ast1\r\nTo: <sip:agent1@127.0.0.1>\r\nContact: <sip:asterisk@127.0.0.1:{mine}>\r\n"
        f"Call-ID: retrans-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _play_asterisk(port: int, retransmit_after_s: float) -> list[str]:
    """INVITE, then the same INVITE again after the phone answered, then ACK; answer its BYE."""
    seen = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        mine = sock.getsockname()[1]
        invite = _invite(port, mine)
        sock.sendto(invite, ("127.0.0.1", port))
        time.sleep(retransmit_after_s)
        sock.sendto(invite, ("127.0.0.1", port))
        sock.sendto(invite, ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65535).decode()
            except socket.timeout:
                break
            first = data.split("\r\n", 1)[0]
            seen.append(first)
            headers = [line for line in data.split("\r\n") if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
            if first.startswith("SIP/2.0 200") and "INVITE" in next(h for h in headers if h.lower().startswith("cseq")):
                to = next(h for h in headers if h.lower().startswith("to:"))
                sock.sendto((
                    f"ACK sip:agent1@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{mine};branch=z9hG4bK-r2\r\n"
                    f"From: <sip:56900000001@127.0.0.1>;tag=ast1\r\n{to}\r\nCall-ID: retrans-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                ).encode(), ("127.0.0.1", port))
            elif first.startswith("BYE "):
                sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(headers) + "\r\nContent-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))
                break
    return seen


@pytest.mark.lab
async def test_real_sipp_phone_completes_a_call_whose_invite_came_twice_after_its_answer(tmp_path: Path) -> None:
    runner = SippRunner(log_dir=tmp_path)
    port = free_udp_port()
    phone = await runner.start_agent("agent1", port, calls=1, answer_after_s=0.2, talk_s=0.3, timeout_s=20)
    try:
        await asyncio.sleep(0.3)
        seen = await asyncio.to_thread(_play_asterisk, port, 0.35)  # the copies arrive after the 200 OK
        result = await phone.wait(10)
    finally:
        await runner.stop_all()
    assert any(line.startswith("SIP/2.0 200") for line in seen) and seen[-1].startswith("BYE "), seen
    assert result.returncode == 0 and result.successful == 1 and result.failed == 0, result.describe()
