"""A sipp phone whose media ports were taken between our check and its bind starts again.

Seen in CI: another lab's sipp took the ports ``free_media_port`` had found free, the
phone exited at once ("Unable to bind ... errno = 98") and every call rung to that agent
went unanswered for the whole test.  The real sipp is started on a media port this test
holds; the runner notices the bind failure and starts it again on fresh ports.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import acd.lab.sipp as sipp_module
from acd.lab.sipp import SippRunner, _with_media_port, free_udp_port


def test_the_media_port_is_replaced_and_nothing_else() -> None:
    args = ["sipp", "-p", "5070", "-mp", "40000", "-nostdin"]
    assert _with_media_port(args, 41000) == ["sipp", "-p", "5070", "-mp", "41000", "-nostdin"]
    assert args[4] == "40000"  # the original is left alone


async def test_a_phone_whose_media_port_is_taken_is_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    real = sipp_module.free_media_port
    try:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        offered = iter([busy])
        monkeypatch.setattr(sipp_module, "free_media_port", lambda: next(offered, None) or real())
        runner = SippRunner(tmp_path / "sipp", sip_port=free_udp_port())
        phone = await runner.start_agent("agent1", free_udp_port(), calls=1, timeout_s=5)
        try:
            assert phone.process.returncode is None, "the phone died instead of being started again"
            command = (phone.log_dir / "command.txt").read_text().split()
            assert int(command[command.index("-mp") + 1]) != busy
        finally:
            await runner.stop_all()
    finally:
        taken.close()
