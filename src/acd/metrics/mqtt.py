"""Live event stream over MQTT (aiomqtt 2.x), for wallboards and the client's own systems.

Topic tree (``<prefix>`` = ``mqtt.topic_prefix``, default ``acd``; ``<site>`` = ``site``)::

    <prefix>/<site>/status                              "online" / "offline", retained
                                                        (the broker publishes "offline"
                                                        as our last will if we vanish)
    <prefix>/<site>/calls/<call_id>/<event type>        every event that has a call_id
                                                        (call.*, ivr.*, survey.answer,
                                                        callback.*, recording.*), e.g.
                                                        acd/stgo/calls/1712.44/call.answered
    <prefix>/<site>/agents/<agent_id>/state             agent.state
    <prefix>/<site>/agents/<agent_id>/<event type>      other agent events without a call
    <prefix>/<site>/engine/<event type>                 engine.started/stopped,
                                                        ami.connected/disconnected
    <prefix>/<site>/queues/<queue>/<event type>         queue events without call or agent
    <prefix>/<site>/events/<event type>                 anything else
    <prefix>/<site>/queues/<queue>/stats                retained JSON snapshot passed to
                                                        publish_stats(queue, dict)

Payloads are ``Event.to_json()`` (includes ``id`` and ``schema_version``), QoS 1:
delivery is at-least-once, so a consumer may see an event twice after a reconnect and
should de-duplicate on ``id``.  A topic level never contains ``/``, ``+`` or ``#``
(they are replaced by ``_``).

Why the design: the routing core must never wait for a broker.  ``publish()`` is
synchronous and only appends to a bounded in-memory buffer (``buffer_limit``); one
background task keeps a connection, reconnects with exponential backoff and drains the
buffer in order.  When the buffer is full the **oldest** event is dropped (a live stream
values what is happening now) and counted in ``dropped``.  Stats snapshots are not
buffered: only the latest per queue is kept and sent once connected.  The durable
record is the SQLite event log, not MQTT.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import aiomqtt

from acd.base.events import Event

log = logging.getLogger(__name__)

ENGINE_TYPES = frozenset({"engine.started", "engine.stopped", "ami.connected", "ami.disconnected"})


def topic_level(value: str) -> str:
    """One safe topic level: MQTT wildcards and separators become ``_``."""
    cleaned = "".join("_" if ch in "/+#\x00" else ch for ch in value)
    return cleaned or "_"


def event_topic(prefix: str, site: str, event: Event) -> str:
    """The topic an event is published under (see the module docstring)."""
    base = f"{prefix}/{topic_level(site)}"
    if event.call_id is not None:
        return f"{base}/calls/{topic_level(event.call_id)}/{event.type}"
    if event.type == "agent.state" and event.agent_id is not None:
        return f"{base}/agents/{topic_level(event.agent_id)}/state"
    if event.type in ENGINE_TYPES:
        return f"{base}/engine/{event.type}"
    if event.agent_id is not None:
        return f"{base}/agents/{topic_level(event.agent_id)}/{event.type}"
    if event.queue is not None:
        return f"{base}/queues/{topic_level(event.queue)}/{event.type}"
    return f"{base}/events/{event.type}"


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: str
    retain: bool = False
    stats_queue: str | None = None


class MqttPublisher:
    """Publishes events and queue stats; never blocks or raises on the caller's path.

    ``publish``/``publish_stats`` are meant to be called from the event loop's thread
    (the engine's), like everything else in ``acd``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        site: str = "default",
        topic_prefix: str = "acd",
        username: str | None = None,
        password: str | None = None,
        buffer_limit: int = 10000,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        timeout_s: float = 10.0,
        window: int = 50,
        keepalive_s: int = 15,
    ) -> None:
        if buffer_limit < 1:
            raise ValueError("buffer_limit must be at least 1")
        self.host, self.port = host, port
        self.site, self.prefix = site, topic_prefix.rstrip("/")
        self.username, self.password = username, password
        self.buffer_limit = buffer_limit
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.timeout_s, self.window, self.keepalive_s = timeout_s, window, keepalive_s
        self.status_topic = f"{self.prefix}/{topic_level(site)}/status"
        self.published = 0  # events acknowledged by the broker
        self.stats_published = 0
        self.dropped = 0
        self.connects = 0
        self.connected = False
        self.last_error: str | None = None
        self._buffer: collections.deque[_Message] = collections.deque()
        self._inflight: list[_Message] = []
        self._stats: dict[str, _Message] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- caller side: synchronous, O(1), never raises ------------------------------------

    @property
    def buffered(self) -> int:
        """Events accepted but not yet acknowledged by the broker (queued or in flight)."""
        return len(self._buffer) + sum(1 for m in self._inflight if m.stats_queue is None)

    def counters(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "stats_published": self.stats_published,
            "dropped": self.dropped,
            "buffered": self.buffered,
            "connected": self.connected,
            "connects": self.connects,
        }

    def topic_for(self, event: Event) -> str:
        return event_topic(self.prefix, self.site, event)

    def publish(self, event: Event) -> None:
        """Queue ``event`` for the broker; drops the oldest queued event when the buffer is full."""
        try:
            message = _Message(self.topic_for(event), event.to_json())
        except Exception:  # noqa: BLE001 - a bad event must not break the caller
            log.exception("cannot serialise event %s for MQTT", getattr(event, "id", "?"))
            self.dropped += 1
            return
        self._buffer.append(message)
        self._trim()
        self._wake.set()

    def append(self, event: Event) -> None:
        """``publish`` under the name the engine's ``EventBus`` sinks use (like ``EventStore.append``)."""
        self.publish(event)

    def publish_stats(self, queue: str, stats: Mapping[str, Any]) -> None:
        """Replace the retained stats snapshot of ``queue`` (only the latest is ever sent)."""
        try:
            payload = json.dumps(dict(stats), sort_keys=True, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            log.exception("cannot serialise stats for queue %s", queue)
            return
        topic = f"{self.prefix}/{topic_level(self.site)}/queues/{topic_level(queue)}/stats"
        self._stats[queue] = _Message(topic, payload, retain=True, stats_queue=queue)
        self._wake.set()

    def _trim(self) -> None:
        while len(self._buffer) > self.buffer_limit:
            self._buffer.popleft()
            self.dropped += 1

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background connection (call from the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mqtt-publisher")

    async def close(self, drain_timeout_s: float = 2.0) -> None:
        """Deliver what can be delivered within ``drain_timeout_s``, then disconnect."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), drain_timeout_s)
        except asyncio.TimeoutError:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self.buffered:
            log.warning("MQTT publisher closed with %d events undelivered", self.buffered)

    async def __aenter__(self) -> "MqttPublisher":
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- background -----------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.backoff_initial_s
        while True:
            connects_before = self.connects
            try:
                await self._session()
                return  # closed cleanly
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
            except Exception as exc:  # noqa: BLE001 - a bug here must not stop the stream for good
                log.exception("MQTT publisher session failed")
                self.last_error = repr(exc)
            finally:
                self.connected = False
            if self._closing:
                return
            if self.connects > connects_before:
                backoff = self.backoff_initial_s  # we were connected: start over quickly
            log.info("MQTT broker %s:%d unavailable (%s); retry in %.1f s", self.host, self.port, self.last_error, backoff)
            try:
                await asyncio.wait_for(self._closed.wait(), backoff)
                return
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, self.backoff_max_s)

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=f"acd-{topic_level(self.site)}-{uuid.uuid4().hex[:8]}",
            keepalive=self.keepalive_s,
            timeout=self.timeout_s,
            will=aiomqtt.Will(self.status_topic, "offline", qos=1, retain=True),
        )

    async def _session(self) -> None:
        async with self._client() as client:
            self.connected = True
            self.connects += 1
            self.last_error = None
            await client.publish(self.status_topic, "online", qos=1, retain=True)
            watcher = asyncio.create_task(self._watch(client))
            drainer = asyncio.create_task(self._drain(client))
            try:
                done, _ = await asyncio.wait({watcher, drainer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (watcher, drainer):
                    task.cancel()
                await asyncio.gather(watcher, drainer, return_exceptions=True)
            for task in done:
                task.result()  # re-raise MqttError from whichever failed
            await client.publish(self.status_topic, "offline", qos=1, retain=True)

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Returns (by raising MqttError) as soon as the connection is lost, even when idle."""
        async for _ in client.messages:
            pass

    def _take(self) -> list[_Message]:
        batch: list[_Message] = list(self._stats.values())
        self._stats.clear()
        while self._buffer and len(batch) < self.window:
            batch.append(self._buffer.popleft())
        return batch

    def _requeue(self, messages: list[_Message]) -> None:
        events = [m for m in messages if m.stats_queue is None]
        for message in messages:
            if message.stats_queue is not None:
                self._stats.setdefault(message.stats_queue, message)  # a newer snapshot wins
        self._buffer.extendleft(reversed(events))
        self._trim()

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._buffer and not self._stats:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._take()
            self._inflight = batch
            try:
                results = await asyncio.gather(
                    *(client.publish(m.topic, m.payload, qos=1, retain=m.retain, timeout=self.timeout_s) for m in batch),
                    return_exceptions=True,
                )
            except asyncio.CancelledError:
                self._inflight = []
                self._requeue(batch)
                raise
            self._inflight = []
            failed = [m for m, result in zip(batch, results) if isinstance(result, BaseException)]
            for message, result in zip(batch, results):
                if not isinstance(result, BaseException):
                    if message.stats_queue is None:
                        self.published += 1
                    else:
                        self.stats_published += 1
            if failed:
                self._requeue(failed)
                error = next(r for r in results if isinstance(r, BaseException))
                raise error if isinstance(error, aiomqtt.MqttError) else aiomqtt.MqttError(str(error))


__all__ = ["MqttPublisher", "event_topic", "topic_level"]
