"""A tiny AMI server that replays a recording, for the ingest benchmark.

It runs in a process of its own (``python -m acd.bench.ami_replay RECORDING`` prints
its port, then serves; its work does not share the client's event loop or core)
and speaks just enough AMI for :class:`acd.asterisk.ami.AmiClient`: the greeting,
``Login`` (answered ``Success`` and followed by ``FullyBooted``, as Asterisk does),
``Ping``, and a plain ``Success`` for any other action, so a call-control action that
slips through is harmless.

The replay starts on the client's ``ReplayStart`` action (after it has subscribed, so
nothing is lost), with ``Loops`` passes of the recording (:func:`looped_events`) and
either ``Rate: 0`` — as fast as the socket takes them: write a batch, wait for the
transport to drain, repeat — or ``Rate: N`` events per second.

Two headers are added, only to the events the ACD acts on (``EVENT_NAMES``), so the rest
of the stream stays byte for byte as recorded:

* ``AcdReplayAt``: the event's time on the recorded timeline (UNIX s), which the
  benchmark's dispatcher uses as its clock, so the router sees the recorded pace even
  when the bytes come a hundred times faster;
* ``AcdReplaySentNs``: ``time.perf_counter_ns()`` just before the batch holding the
  event is written (CLOCK_MONOTONIC, comparable across processes on one machine).

A final ``Event: ReplayDone`` says how many events were sent and when sending started
and ended.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Iterable

from acd.asterisk.call_control import EVENT_NAMES
from acd.bench.ami_recording import EOM, event_name, looped_events, read_recording

GREETING = b"Asterisk Call Manager/9.0.0\r\n"
SENT_HEADER = b"AcdReplaySentNs"
AT_HEADER = b"AcdReplayAt"
BATCH = 256  # events per write when streaming as fast as possible
TICK_S = 0.001  # pacing granularity

Prepared = list[tuple[bytes, bool]]  # (bytes up to the stamp or the whole event, needs a stamp)


def prepare(blocks: Iterable[tuple[bytes, float]]) -> Prepared:
    """Pre-render every event so sending only joins bytes (and formats one stamp per batch)."""
    stamped = {name.encode() for name in EVENT_NAMES}
    prepared: Prepared = []
    for block, at in blocks:
        if event_name(block).encode() in stamped:
            prepared.append((block + b"\r\n%s: %.6f\r\n%s: " % (AT_HEADER, at, SENT_HEADER), True))
        else:
            prepared.append((block + EOM, False))
    return prepared


def _batch(prepared: Prepared, start: int, stop: int) -> tuple[bytes, int]:
    stamp = b"%d\r\n\r\n" % time.perf_counter_ns()
    parts = []
    for head, needs in prepared[start:stop]:
        parts.append(head)
        if needs:
            parts.append(stamp)
    return b"".join(parts), stop - start


async def _stream(writer: asyncio.StreamWriter, prepared: Prepared, rate: float) -> tuple[int, int]:
    """Send everything; returns the perf_counter_ns at which sending started and ended."""
    started = time.perf_counter_ns()
    total = len(prepared)
    sent = 0
    if rate <= 0:
        while sent < total:
            data, count = _batch(prepared, sent, min(total, sent + BATCH))
            writer.write(data)
            sent += count
            await writer.drain()
    else:
        begin = time.perf_counter()
        while sent < total:
            due = min(total, int((time.perf_counter() - begin) * rate) + 1)
            if due > sent:
                data, count = _batch(prepared, sent, due)
                writer.write(data)
                sent += count
                await writer.drain()
            await asyncio.sleep(TICK_S)
    return started, time.perf_counter_ns()


def _response(fields: dict[bytes, bytes], *extra: bytes) -> bytes:
    action_id = fields.get(b"actionid")
    lines = [b"Response: Success"] + ([b"ActionID: " + action_id] if action_id is not None else []) + list(extra)
    return b"\r\n".join(lines) + EOM


def _fields(block: bytes) -> dict[bytes, bytes]:
    fields = {}
    for line in block.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields


class ReplayServer:
    """Serves one recording; each connection may ask for one replay."""

    def __init__(self, recording_path: str) -> None:
        self.recording = read_recording(recording_path)
        self._prepared: dict[int, Prepared] = {}

    def prepared(self, loops: int) -> Prepared:
        if loops not in self._prepared:
            self._prepared[loops] = prepare(looped_events(self.recording, loops))
        return self._prepared[loops]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(GREETING)
        streaming: asyncio.Task[None] | None = None
        buffer = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while EOM in buffer:
                    block, _, buffer = buffer.partition(EOM)
                    fields = _fields(block)
                    action = fields.get(b"action", b"").lower()
                    if action == b"login":
                        writer.write(_response(fields, b"Message: Authentication accepted"))
                        writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1\r\nLastReload: 1\r\nStatus: Fully Booted" + EOM)
                    elif action == b"ping":
                        writer.write(_response(fields, b"Ping: Pong", b"Timestamp: %.6f" % time.time()))
                    elif action == b"replaystart":
                        loops = int(fields.get(b"loops", b"1"))
                        rate = float(fields.get(b"rate", b"0"))
                        prepared = self.prepared(loops)
                        writer.write(_response(fields, b"Events: %d" % len(prepared)))
                        streaming = asyncio.ensure_future(self._replay(writer, prepared, rate))
                    elif action == b"logoff":
                        writer.write(b"Response: Goodbye" + EOM)
                        await writer.drain()
                        return
                    else:
                        writer.write(_response(fields))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if streaming is not None and not streaming.done():
                streaming.cancel()
            writer.close()

    async def _replay(self, writer: asyncio.StreamWriter, prepared: Prepared, rate: float) -> None:
        try:
            started, ended = await _stream(writer, prepared, rate)
            writer.write(b"Event: ReplayDone\r\nEvents: %d\r\nStartNs: %d\r\nEndNs: %d" % (len(prepared), started, ended) + EOM)
            await writer.drain()
        except ConnectionError:
            pass


async def _serve(recording_path: str) -> None:
    replay = ReplayServer(recording_path)
    server = await asyncio.start_server(replay.handle, "127.0.0.1", 0)
    sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """``python -m acd.bench.ami_replay RECORDING``: print the port, then serve until killed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m acd.bench.ami_replay PATH/NAME[.ami]\n")
        return 2
    try:
        asyncio.run(_serve(args[0]))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # tell the parent instead of dying silently
        sys.stdout.write(f"error: {exc}\n")
        sys.stdout.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
