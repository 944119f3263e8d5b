"""Record a live AMI stream byte for byte, on a connection of its own.

Deliberately not :class:`acd.asterisk.ami.AmiClient`: the point is to keep what
Asterisk sends *before* any parser touches it, so the replay feeds our client the same
bytes, split wherever TCP happens to split them.  A plain socket logs in with
``Events: on`` (everything the AMI user may read), and from the login response on every
byte is kept, with the wall-clock time at which each event was complete.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from acd.bench.ami_recording import EOM


class RecorderError(Exception):
    """The recorder could not connect or log in."""


@dataclass
class Capture:
    """What was received: raw bytes after login and one wall time per complete event."""

    raw: bytearray = field(default_factory=bytearray)
    times: list[float] = field(default_factory=list)
    pending: bytes = b""

    def feed(self, data: bytes, now: float) -> int:
        """Keep ``data``; stamp every event it completes with ``now``; returns how many."""
        self.raw += data
        blocks = (self.pending + data).split(EOM)
        self.pending = blocks.pop()
        complete = sum(1 for block in blocks if block.strip())
        self.times.extend([now] * complete)
        return complete

    @property
    def started_at(self) -> float:
        return self.times[0] if self.times else 0.0

    def offsets(self) -> list[float]:
        first = self.started_at
        return [t - first for t in self.times]


async def _login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, username: str, secret: str, timeout_s: float) -> bytes:
    """Log in; returns whatever arrived after the login response (already events)."""
    greeting = await asyncio.wait_for(reader.readline(), timeout_s)
    if not greeting.startswith(b"Asterisk Call Manager"):
        raise RecorderError(f"not an AMI server (greeting {greeting[:60]!r})")
    writer.write(f"Action: Login\r\nActionID: acd-recorder\r\nUsername: {username}\r\nSecret: {secret}\r\nEvents: on\r\n\r\n".encode())
    await writer.drain()
    buffer = b""
    while EOM not in buffer:
        chunk = await asyncio.wait_for(reader.read(65536), timeout_s)
        if not chunk:
            raise RecorderError("Asterisk closed the connection during login")
        buffer += chunk
    response, _, rest = buffer.partition(EOM)
    if b"Response: Success" not in response:
        raise RecorderError(f"login refused: {response.decode(errors='replace').strip()}")
    return rest


async def record(host: str, port: int, username: str, secret: str, stop: asyncio.Event, *, timeout_s: float = 10.0) -> Capture:
    """Record until ``stop`` is set (or Asterisk closes the connection)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, asyncio.TimeoutError) as exc:
        raise RecorderError(f"cannot connect to AMI at {host}:{port}: {exc}") from None
    capture = Capture()
    try:
        rest = await _login(reader, writer, username, secret, timeout_s)
        if rest:
            capture.feed(rest, time.time())
        stopping = asyncio.ensure_future(stop.wait())
        while True:
            reading = asyncio.ensure_future(reader.read(1 << 20))
            done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if reading not in done:
                reading.cancel()
                break
            data = reading.result()
            if not data:
                break
            capture.feed(data, time.time())
        stopping.cancel()
    finally:
        writer.close()
    return capture
