"""A recording MQTT subscriber, and a TCP gate that decides when the publisher may connect.

Why the gate: after a broker restart the test's subscriber must be subscribed before the
publisher reconnects and flushes its buffer, or the subscriber would miss messages for
reasons that have nothing to do with the publisher.  The publisher connects through
the gate; closing it stops *new* connections (connection refused, like a dead broker),
opening it lets the publisher's next reconnect attempt through.  Bytes are forwarded
untouched, so the publisher talks to the real mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

import aiomqtt

from acd.lab.mosquitto import free_port


class TcpGate:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = free_port(host)
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)

    async def close(self) -> None:
        """Refuse new connections; connections already through keep working."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def shutdown(self) -> None:
        await self.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink, (writer, up_writer)))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, both: tuple[asyncio.StreamWriter, ...]) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for w in both:  # one side gone: hang up the other, as a dying broker would
                w.close()


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> dict:
        return json.loads(self.payload)


class Subscriber:
    """Collects every message on ``topic`` into ``messages`` from a background task."""

    def __init__(self, port: int, topic: str = "acd/#") -> None:
        self.port, self.topic = port, topic
        self.messages: list[Received] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Subscriber":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def _run(self) -> None:
        with contextlib.suppress(aiomqtt.MqttError):  # the broker may be stopped under us
            async with aiomqtt.Client("127.0.0.1", self.port) as client:
                await client.subscribe(self.topic, qos=1)
                self._ready.set()
                async for message in client.messages:
                    payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                    self.messages.append(Received(str(message.topic), payload, message.qos, message.retain))

    def on(self, part: str) -> list[Received]:
        return [m for m in self.messages if part in m.topic]
