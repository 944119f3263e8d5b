"""The lab's RTP probe: it counts speech, not silence, and the silent tail continues the stream."""

from __future__ import annotations

import os

import asyncio
import socket
import struct
from pathlib import Path

import pytest

from acd.lab.rtp_probe import RtpProbe, speech_then_silence
from acd.lab.sipp import AUDIO_PCAP, PCAP_DIR


def rtp(seq: int, payload: bytes, payload_type: int = 8) -> bytes:
    return bytes([0x80, payload_type]) + struct.pack(">HII", seq, seq * 160, 1234) + payload


async def test_the_probe_counts_speech_and_not_silence_nor_other_traffic() -> None:
    probe = await RtpProbe.open()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for packet in (rtp(1, b"\xd5" * 160), rtp(2, bytes(range(160))), rtp(3, bytes(range(160)), payload_type=96), b"hello"):
                sender.sendto(packet, ("127.0.0.1", probe.port))
        await asyncio.sleep(0.2)
        assert probe.count(0.0) == 1 and probe.count(0.0, speech=False) == 2
    finally:
        probe.close()


def packets(path: Path) -> list[bytes]:
    data, offset, found = path.read_bytes(), 24, []
    while offset < len(data):
        length = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        found.append(data[offset + 16:offset + 16 + length])
        offset += 16 + length
    return found


def test_speech_then_silence_continues_the_recordings_sequence_with_silent_frames(tmp_path: Path) -> None:
    source = PCAP_DIR / AUDIO_PCAP
    if not source.exists():
        if os.environ.get("CI"):  # as the browser and PostgreSQL tests: missing in CI is a failure, not a skip
            pytest.fail(f"{source} missing: deploy/install-deps.sh installs Debian's sip-tester")
        pytest.skip(f"{source} missing (Debian's sip-tester; deploy/install-deps.sh installs it)")
    original = packets(source)
    longer = packets(speech_then_silence(source, tmp_path / "x.pcap", silence_s=3))
    assert longer[: len(original)] == original and len(longer) == len(original) + 100  # 30 ms frames
    last, first_silent = original[-1][42:], longer[len(original)][42:]
    assert struct.unpack(">H", first_silent[2:4])[0] == (struct.unpack(">H", last[2:4])[0] + 1) & 0xFFFF
    assert set(first_silent[12:]) == {0xD5}
