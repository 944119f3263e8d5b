"""A UDP socket that records the RTP a sipp phone is sent (the phone's SDP points here).

sipp plays audio but cannot say what it received, so a lab test that must prove media
flowed (a supervisor hears a call, a caller hears a barging supervisor) offers this
socket's port in the phone's SDP (``rtp_to`` in :mod:`acd.lab.sipp`) and counts what
arrives.  Only RTP version 2 packets with a G.711 or telephone-event payload type count;
``speech`` excludes G.711 packets that are pure silence, so a stream of comfort frames is
not mistaken for someone speaking.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

#: payload types the lab offers (acd.lab.sipp's SDP): 0 PCMU, 8 PCMA, 101 telephone-event
PAYLOAD_TYPES = frozenset({0, 8, 101})
#: G.711 silence: PCMU 0xFF/0x7F, PCMA 0xD5/0x55 (and their neighbours, the quietest levels)
_SILENT = {0: frozenset(b"\xff\x7f\xfe\x7e"), 8: frozenset(b"\xd5\x55\xd4\x54")}


@dataclass(frozen=True)
class RtpPacket:
    at: float  # time.monotonic() when it arrived
    payload_type: int
    ssrc: int
    speech: bool


@dataclass
class RtpProbe(asyncio.DatagramProtocol):
    packets: list[RtpPacket] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0

    @classmethod
    async def open(cls) -> "RtpProbe":
        probe = cls()
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: probe, local_addr=("127.0.0.1", 0))
        return probe

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.port = int(transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        payload_type = data[1] & 0x7F
        if payload_type not in PAYLOAD_TYPES:
            return
        body = data[12 + 4 * (data[0] & 0x0F):]
        silent = _SILENT.get(payload_type)
        speech = payload_type == 101 or (silent is not None and any(byte not in silent for byte in body))
        self.packets.append(RtpPacket(time.monotonic(), payload_type, int.from_bytes(data[8:12], "big"), speech))

    def count(self, since: float, until: float | None = None, *, speech: bool = True) -> int:
        """Packets that arrived in ``[since, until)`` (monotonic times); only speech by default."""
        end = float("inf") if until is None else until
        return sum(1 for p in self.packets if since <= p.at < end and (p.speech or not speech))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def speech_then_silence(source: Path, target: Path, silence_s: float) -> Path:
    """``source`` (a pcap of G.711 RTP, e.g. sipp's ``g711a.pcap``) followed by ``silence_s`` of silent frames.

    A phone that stops speaking but keeps sending RTP, as real phones do: Asterisk mixes a
    whisper or barge only into frames that flow, so a silent-but-sending agent lets a test
    hear the supervisor (and nothing else) on the caller's side.  Packets are copied with
    their link, IP and UDP headers (sipp rewrites addresses); the silent ones continue the
    last packet's sequence number, RTP timestamp and capture time.
    """
    data = source.read_bytes()
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        raise ValueError(f"{source}: not a little-endian microsecond pcap")
    out = bytearray(data[:24])
    offset, last = 24, None
    while offset + 16 <= len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + length]
        out += data[offset:offset + 16 + length]
        offset += 16 + length
        last = (seconds * 1_000_000 + micros, packet)
    if last is None:
        raise ValueError(f"{source}: no packets")
    when, packet = last
    rtp_at = len(packet) - _payload_length(packet) - 12
    payload_type = packet[rtp_at + 1] & 0x7F
    frame = _payload_length(packet)
    step_us = frame * 1_000_000 // 8000  # G.711: one byte per sample at 8 kHz
    silent = b"\xd5" if payload_type == 8 else b"\xff"
    sequence = int.from_bytes(packet[rtp_at + 2:rtp_at + 4], "big")
    stamp = int.from_bytes(packet[rtp_at + 4:rtp_at + 8], "big")
    for index in range(1, int(silence_s * 1_000_000 // step_us) + 1):
        header = bytes([packet[rtp_at], payload_type]) + ((sequence + index) & 0xFFFF).to_bytes(2, "big")
        header += ((stamp + index * frame) & 0xFFFFFFFF).to_bytes(4, "big") + packet[rtp_at + 8:rtp_at + 12]
        body = packet[:rtp_at] + header + silent * frame
        at = when + index * step_us
        out += struct.pack("<IIII", at // 1_000_000, at % 1_000_000, len(body), len(body)) + body
    target.write_bytes(bytes(out))
    return target


def _payload_length(packet: bytes) -> int:
    """The RTP payload's length in an Ethernet/IPv4/UDP frame (UDP length minus headers)."""
    udp_length = int.from_bytes(packet[14 + 20 + 4:14 + 20 + 6], "big")
    return udp_length - 8 - 12
