"""``acd bench ami-small-reads``: does the AMI framer stay linear when bytes trickle in?

Asterisk's bytes reach :class:`acd.asterisk.ami_wire.AmiFramer` in whatever pieces TCP
delivers: whole 64 KiB reads on a busy loopback, a few bytes on a slow or congested link.
A framer that rebuilds its buffer on every read is quadratic in a message's size, which
only shows with big messages (a ``Response: Follows`` with long output) in small pieces.
So this measures two things, without sockets (framing only):

* MB/s of the recorded lab stream (``deploy/ami-recordings``) for several piece sizes;
* time per byte of one big message in small pieces, at a small and a large size: their
  ratio is ~1 for a linear framer and grows with the size for a quadratic one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from acd.asterisk.ami_wire import AmiFramer
from acd.bench.ami_recording import read_recording
from acd.bench.machine import machine_info

PIECES = (1, 7, 64, 1460, 65536)
#: the big message's sizes (bytes) and the piece size it arrives in
SCALING_SIZES = (64 * 1024, 1024 * 1024)
SCALING_PIECE = 16


def recorded_stream(recording: str | Path, events: int) -> tuple[bytes, int]:
    """The first ``events`` events of a recording (fewer if it is shorter), framed as Asterisk
    sent them, and how many there are."""
    blocks = read_recording(recording).events[:events]
    return b"Asterisk Call Manager/9.0.0\r\n" + b"".join(block + b"\r\n\r\n" for block in blocks), len(blocks)


def big_message(size: int) -> bytes:
    """One ``Response: Follows`` of about ``size`` bytes, then its empty line."""
    line = b"Output: a line of a long command output, as CLI commands give\r\n"
    return b"Response: Follows\r\n" + line * max(1, size // len(line)) + b"\r\n"


def frame_seconds(data: bytes, piece: int) -> tuple[float, int]:
    """Seconds to frame ``data`` read ``piece`` bytes at a time, and the blocks it gave."""
    framer = AmiFramer(max_message_bytes=4 << 20)
    chunks = [data[i:i + piece] for i in range(0, len(data), piece)]
    blocks = 0
    started = time.perf_counter()
    for chunk in chunks:
        blocks += len(framer.feed(chunk))
    return time.perf_counter() - started, blocks


def run_small_reads_bench(recording: str | Path, events: int = 5000, repeat: int = 3) -> dict[str, Any]:
    """Best of ``repeat`` runs for each measurement (the least disturbed by other work)."""
    stream, events = recorded_stream(recording, events)
    by_piece = []
    for piece in PIECES:
        seconds, blocks = min(frame_seconds(stream, piece) for _ in range(repeat))
        by_piece.append({"piece_bytes": piece, "mb_per_s": round(len(stream) / seconds / 1e6, 2), "blocks": blocks})
    scaling = []
    for size in SCALING_SIZES:
        message = big_message(size)
        seconds, _ = min(frame_seconds(message, SCALING_PIECE) for _ in range(repeat))
        scaling.append({"message_bytes": len(message), "ns_per_byte": round(seconds / len(message) * 1e9, 1)})
    return {
        "benchmark": "ami-small-reads",
        "recording": str(recording),
        "stream_bytes": len(stream),
        "stream_events": events,
        "by_piece": by_piece,
        "scaling": {
            "piece_bytes": SCALING_PIECE,
            "sizes": scaling,
            "largest_to_smallest_time_per_byte": round(scaling[-1]["ns_per_byte"] / scaling[0]["ns_per_byte"], 2),
            "linear_is_about": 1.0,
        },
        "machine": machine_info(),
    }
