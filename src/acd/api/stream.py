"""``GET /api/stream``: the live picture pushed as server-sent events.

Why a push: a wallboard polling ``/api/stats``, ``/api/agents`` and ``/api/calls`` every
second from 50 screens costs the engine 150 snapshots a second and still shows a change
up to a second late.  Here the engine builds **one** snapshot per burst of changes and
sends the same bytes to every subscriber (in practice one: the ``acd web`` console, which
fans it out to the browsers).

How:

* :class:`StreamHub` is an event-bus sink: every event (a call queued, an agent paused, a
  priority changed ...) marks the picture dirty; nothing else runs on the event path.
* One task waits for "dirty", then ``debounce_s`` (a few tens of ms) so a burst of events
  (a call answered = ringing + answered + agent state) becomes one snapshot, builds it
  and offers the encoded message to every subscriber.  With no change it still sends a
  fresh snapshot every ``refresh_s`` (interval boundaries, ages) and a heartbeat comment
  in between, so a proxy keeps the connection and a client notices a dead engine.
* Each subscriber has a small bounded queue.  A client that does not read (its queue is
  full) is **dropped**: the engine never waits for a socket, and a dropped client
  reconnects and starts from a fresh snapshot, which is all it needs.
* Subscribers are capped (:data:`MAX_SUBSCRIBERS`): each stream is a request in progress
  for :class:`~acd.api.guard.RequestLimit`, which must keep room for ordinary requests.

Personal data: by default a call carries its caller number masked (as ``call.started``
logged it) and its attached data masked.  ``?personal=1`` adds the clear number and
attached data for a client that decides per viewer (the console masks them again for
roles that may not see them, and audits those who may).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from acd.base.events import Event
from acd.privacy import Personal, mask_number, masked_data
from acd.base.lagging import DropWhenLagging

#: Streams open at once; each is a request in progress (``RequestLimit`` allows 64).
MAX_SUBSCRIBERS = 8
#: Messages a subscriber may lag behind before it is dropped.
QUEUE_SIZE = 4
#: Calls whose caller/IVR path we remember (a missed ``call.ended`` must not grow memory).
MAX_TRACKED_CALLS = 5000
#: IVR nodes kept per call (a looping menu must not grow memory either).
MAX_PATH = 24
#: A call leaves the live view when the IVR ends it or its queue stay ends: a queued call
#: gets no ``call.ended`` (issue 13's lab soak: every served call's trace stayed until the
#: 5,000 limit, ~1.5 KB a call over the help line's first days).
FORGET_AT = ("call.ended", "call.completed", "call.abandoned", "call.timed_out")

_CLOSE = b""


@dataclass
class CallTrace:
    """What the router does not keep about a call: who called and the IVR path it took."""

    caller: str = ""  # masked, as logged
    caller_ref: str = ""
    number: str = ""  # clear; only from the engine's own hook, never from an event
    path: list[str] = field(default_factory=list)


class CallTraces:
    """Per call caller and IVR path, from the event bus (bounded, forgotten when the call ends: :data:`FORGET_AT`)."""

    def __init__(self, limit: int = MAX_TRACKED_CALLS) -> None:
        self.limit = limit
        self._calls: OrderedDict[str, CallTrace] = OrderedDict()

    def get(self, call_id: str) -> CallTrace | None:
        return self._calls.get(call_id)

    def _trace(self, call_id: str) -> CallTrace:
        trace = self._calls.get(call_id)
        if trace is None:
            trace = self._calls[call_id] = CallTrace()
            while len(self._calls) > self.limit:
                self._calls.popitem(last=False)
        return trace

    def number(self, call_id: str, number: str) -> None:
        """The engine's hook at call start: the caller's number in clear (kept in memory only)."""
        self._trace(call_id).number = number

    def append(self, event: Event) -> None:
        if event.call_id is None:
            return
        if event.type == "call.started":
            trace = self._trace(event.call_id)
            trace.caller = str(event.data.get("caller") or "")
            trace.caller_ref = str(event.data.get("caller_ref") or "")
        elif event.type == "ivr.node":
            path = self._trace(event.call_id).path
            node = str(event.data.get("node") or "")
            if node and len(path) < MAX_PATH:
                path.append(node)
        elif event.type in FORGET_AT:
            self._calls.pop(event.call_id, None)


class Subscriber(DropWhenLagging[bytes]):
    """One open stream: a bounded queue of encoded messages."""

    def __init__(self, personal: bool, size: int = QUEUE_SIZE) -> None:
        super().__init__(size, _CLOSE)
        self.personal = personal


Snapshot = Callable[[], dict[str, Any]]


class StreamHub:
    """Event-bus sink + the task that turns bursts of events into one snapshot message."""

    def __init__(
        self,
        *,
        debounce_s: float = 0.03,
        refresh_s: float = 5.0,
        heartbeat_s: float = 15.0,
        max_subscribers: int = MAX_SUBSCRIBERS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.debounce_s = debounce_s
        self.refresh_s = refresh_s
        self.heartbeat_s = heartbeat_s
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self.traces = CallTraces()
        self.subscribers: set[Subscriber] = set()
        self.snapshot: Snapshot | None = None  # set by create_api (it owns the views)
        self.seq = 0
        self.dropped = 0
        self._dirty = asyncio.Event()
        self._dirty_since: float | None = None
        self._closed = False

    # ------------------------------------------------------------------ event bus sink
    def append(self, event: Event) -> None:
        """Called for every event; cheap on purpose (the router waits for it)."""
        self.traces.append(event)
        if self._dirty_since is None:
            self._dirty_since = event.ts
        self._dirty.set()

    def changed(self) -> None:
        """Something changed without an event (a hand-made test, a reload)."""
        self._dirty.set()

    # ------------------------------------------------------------------ subscribers
    def subscribe(self, personal: bool) -> Subscriber | None:
        if self._closed or len(self.subscribers) >= self.max_subscribers:
            return None
        subscriber = Subscriber(personal, self.queue_size)
        self.subscribers.add(subscriber)
        if self.snapshot is not None:
            subscriber.offer(self._message(personal, self.snapshot(), time.time()))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def messages(self, subscriber: Subscriber) -> AsyncIterator[bytes]:
        """What the route streams: queued messages, a heartbeat comment when idle."""
        try:
            while True:
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), self.heartbeat_s)
                except asyncio.TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if message == _CLOSE:
                    return
                yield message
        finally:
            self.unsubscribe(subscriber)

    # ------------------------------------------------------------------ the publishing task
    async def run(self) -> None:
        """Forever: one snapshot per burst of changes, or per ``refresh_s`` when quiet."""
        while not self._closed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.refresh_s)
            if self._dirty.is_set():
                await asyncio.sleep(self.debounce_s)  # gather the rest of the burst
            self._dirty.clear()
            self._dirty_since = None
            self.publish()

    def publish(self) -> None:
        if self.snapshot is None or not self.subscribers:
            return
        picture = self.snapshot()
        sent = time.time()
        encoded: dict[bool, bytes] = {}
        for subscriber in list(self.subscribers):
            message = encoded.get(subscriber.personal)
            if message is None:
                message = encoded[subscriber.personal] = self._message(subscriber.personal, picture, sent)
            if not subscriber.offer(message):
                self.dropped += 1
                self.unsubscribe(subscriber)
                subscriber.end()

    def end(self) -> None:
        """Engine stopping: every stream ends (so uvicorn's graceful stop does not wait)."""
        self._closed = True
        self._dirty.set()
        for subscriber in list(self.subscribers):
            self.unsubscribe(subscriber)
            subscriber.end()

    def _message(self, personal: bool, picture: dict[str, Any], sent: float) -> bytes:
        self.seq += 1
        body = dict(picture, seq=self.seq, sent=sent, calls=[self._call(call, personal) for call in picture["calls"]])
        data = json.dumps(body, separators=(",", ":"), default=str)
        return f"id: {self.seq}\nevent: snapshot\ndata: {data}\n\n".encode()

    def _call(self, call: dict[str, Any], personal: bool) -> dict[str, Any]:
        """Adds caller, IVR path and attached data to the API's call (clear only if ``personal``)."""
        trace = self.traces.get(call["id"]) or CallTrace()
        attached: dict[str, Any] = call.get("_attached") or {}
        out = {key: value for key, value in call.items() if key != "_attached"}
        out.update(caller=trace.caller, caller_ref=trace.caller_ref, ivr_path=list(trace.path))
        out["personal_fields"] = sorted(key for key, value in attached.items() if isinstance(value, Personal))
        if personal:
            out["number"] = trace.number
            out["attached"] = {key: str(value) for key, value in attached.items()}
        else:
            out["attached"] = masked_data(attached)
            if not trace.caller and trace.number:
                out["caller"] = mask_number(trace.number)
        return out
