"""The console's live feed: one stream from the engine, fanned out to every open browser.

Why one upstream: the engine caps its streams (:data:`acd.api.stream.MAX_SUBSCRIBERS`)
and must never spend its loop on wall screens; 50 wallboards cost it one connection.

* :class:`LiveFeed` keeps one ``GET /api/stream?personal=1`` open, reconnecting with
  exponential backoff (0.5 s doubling to 10 s, with jitter so restarted consoles do not
  reconnect in step).  A read timeout longer than the engine's heartbeat notices an
  engine that froze without closing the socket.
* While the engine is away the last snapshot stays, marked **stale** (browsers grey it
  out and say since when) — a wall screen must never show old figures as if live.
* Each browser is a :class:`LiveClient` with a small bounded queue; one that stops
  reading is dropped (its EventSource reconnects and starts from the latest snapshot),
  so a slow tab never delays the others or grows memory.
* What a browser receives depends on who looks (:func:`shape`): calls only with
  ``view_calls``; numbers and IVR data in clear only with ``view_personal_data``.  The
  encoded message is cached per (snapshot, shape), so 50 screens cost 1-4 encodings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from acd.privacy import mask_number, mask_text
from acd.base.lagging import DropWhenLagging

log = logging.getLogger("acd.web.live")

#: Browsers streaming at once from one console.
MAX_CLIENTS = 500
#: Messages a browser may lag behind before it is dropped.
CLIENT_QUEUE = 4
_END = None


@dataclass(frozen=True)
class Shape:
    """What one viewer may receive: the calls at all, personal data in clear, and the
    figures and agents (``live``: a QA reviewer may see calls but not the wallboard)."""

    calls: bool
    personal: bool
    live: bool = True
    #: an agent's own page: that agent whole (with its wrap-up codes) and the call it handles, in clear
    agent: str | None = None


def mask_call(call: dict[str, Any]) -> dict[str, Any]:
    """A call as a viewer without ``view_personal_data`` sees it: number and IVR data masked."""
    out = {key: value for key, value in call.items() if key != "number"}
    number = call.get("number") or ""
    out["caller"] = mask_number(number) if number else call.get("caller", "")
    out["attached"] = {key: mask_text(str(value)) for key, value in (call.get("attached") or {}).items()}
    return out


#: What a screen shows of an agent (skills and queues stay out: they are most of the bytes).
AGENT_FIELDS = ("id", "name", "state", "reason", "since", "call_id", "pending", "handled_today")


def shape(snapshot: dict[str, Any], how: Shape) -> dict[str, Any]:
    """``snapshot`` cut to what ``how`` allows (never mutates it: it is shared)."""
    out = {key: value for key, value in snapshot.items() if key not in ("calls", "agents", "stats")}
    if how.live:
        out["stats"] = snapshot.get("stats")
        out["agents"] = [{key: agent.get(key) for key in AGENT_FIELDS} for agent in snapshot.get("agents") or []]
    if how.calls:
        calls = snapshot.get("calls") or []
        out["calls"] = calls if how.personal else [mask_call(call) for call in calls]
    if how.agent is not None:
        out["me"] = next((agent for agent in snapshot.get("agents") or [] if agent.get("id") == how.agent), None)
        out["my_call"] = next((call for call in snapshot.get("calls") or [] if call.get("agent_id") == how.agent), None)
    return out


class LiveClient(DropWhenLagging[bytes | None]):
    """One browser stream: a bounded queue of encoded SSE messages."""

    def __init__(self, how: Shape, size: int = CLIENT_QUEUE) -> None:
        super().__init__(size, _END)
        self.how = how


class LiveFeed:
    """One upstream SSE connection to the engine, N browsers downstream."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        max_clients: int = MAX_CLIENTS,
        client_queue: int = CLIENT_QUEUE,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 10.0,
        read_timeout_s: float = 40.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.max_clients = max_clients
        self.client_queue = client_queue
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.read_timeout_s = read_timeout_s
        self._transport = transport
        self.clock = clock
        self.clients: set[LiveClient] = set()
        self.latest: dict[str, Any] | None = None
        self.latest_at = 0.0  # when the console received it
        self.connected = False
        self.stale_since: float | None = clock()
        self.problem = "not connected yet"
        self.dropped = 0
        self.connects = 0
        self._cache: dict[Shape, bytes] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the upstream task once (idempotent: pages call it on first use)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="console-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in list(self.clients):
            client.end()
        self.clients.clear()

    async def run(self) -> None:
        delay = self.backoff_min_s
        timeout = httpx.Timeout(5.0, read=self.read_timeout_s)
        async with httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout, transport=self._transport) as http:
            while True:
                try:
                    await self._follow(http)
                    problem = "the engine closed the stream"
                except httpx.HTTPError as exc:
                    problem = f"engine not reachable at {self.url}: {type(exc).__name__}"
                except _Refused as exc:
                    problem = str(exc)
                if self.connected:
                    delay = self.backoff_min_s  # it was up: retry soon
                self._went_away(problem)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(self.backoff_max_s, delay * 2)

    async def _follow(self, http: httpx.AsyncClient) -> None:
        async with http.stream("GET", "/api/stream", params={"personal": "1"}) as response:
            if response.status_code != 200:
                raise _Refused(_refusal(response.status_code))
            event, data = "", []
            async for line in response.aiter_lines():
                if line == "":
                    if event == "snapshot" and data:
                        self._received(json.loads("\n".join(data)))
                    event, data = "", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))

    def _received(self, snapshot: dict[str, Any]) -> None:
        if not self.connected:
            self.connects += 1
            log.info("live feed: following the engine at %s", self.url)
        self.connected = True
        self.stale_since = None
        self.problem = ""
        self.latest = snapshot
        self.latest_at = self.clock()
        self._broadcast()

    def _went_away(self, problem: str) -> None:
        if self.connected or self.problem != problem:
            log.warning("live feed: %s; retrying", problem)
        if self.connected or self.stale_since is None:
            self.stale_since = self.clock()
        self.connected = False
        self.problem = problem
        self._broadcast()

    # ------------------------------------------------------------------ browsers
    def subscribe(self, how: Shape) -> LiveClient | None:
        """A new browser stream, starting with the current picture; None when full."""
        if len(self.clients) >= self.max_clients:
            return None
        client = LiveClient(how, self.client_queue)
        self.clients.add(client)
        client.offer(self.message(how))
        return client

    def unsubscribe(self, client: LiveClient) -> None:
        self.clients.discard(client)

    def message(self, how: Shape) -> bytes:
        """The current picture for ``how`` as one SSE message (cached until the next change)."""
        cached = self._cache.get(how)
        if cached is None:
            status = {"stale": not self.connected, "stale_since": self.stale_since, "problem": self.problem, "relayed": self.clock()}
            if self.latest is None:
                body: dict[str, Any] = {"status": status}
            else:
                body = dict(shape(self.latest, how), status=status)
            data = json.dumps(body, separators=(",", ":"), default=str)
            cached = self._cache[how] = f"event: snapshot\ndata: {data}\n\n".encode()
        return cached

    def _broadcast(self) -> None:
        self._cache.clear()
        for client in list(self.clients):
            if not client.offer(self.message(client.how)):
                self.dropped += 1
                self.unsubscribe(client)
                client.end()

    async def messages(self, client: LiveClient, *, heartbeat_s: float = 15.0, max_s: float | None = None) -> Any:
        """What a browser's route streams; ends after ``max_s`` so the browser reconnects
        (and so proves its session is still valid: an expired one gets the login page)."""
        deadline = None if max_s is None else time.monotonic() + max_s
        try:
            yield b"retry: 2000\n\n"
            while True:
                wait = heartbeat_s if deadline is None else min(heartbeat_s, deadline - time.monotonic())
                if wait <= 0:
                    return
                try:
                    message = await asyncio.wait_for(client.queue.get(), wait)
                except asyncio.TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if message is _END:
                    return
                yield message
        finally:
            self.unsubscribe(client)


class _Refused(Exception):
    """The engine answered the stream request with an error status."""


def _refusal(status: int) -> str:
    if status == 401:
        return "the engine refused the console's token (web.engine_token / ACD_API_TOKEN)"
    if status == 503:
        return "the engine has no stream slot free (too many consoles?)"
    return f"the engine answered {status} to /api/stream"


def feed_of(app: Any) -> LiveFeed:
    """The console's one feed (``app.state.live``), created and started on first use.

    Lazily, from the first page that streams: the console process itself needs no change,
    and a console nobody watches live keeps no connection to the engine.
    """
    feed: LiveFeed | None = getattr(app.state, "live", None)
    if feed is None:
        settings = app.state.settings
        engine = getattr(app.state, "engine", None)
        url = engine.base_url if engine is not None else settings.web.engine_url or f"http://{settings.api.host}:{settings.api.port}"
        secret = settings.web.engine_token or settings.api.token
        feed = LiveFeed(url, secret.get_secret_value() if secret is not None else "")
        app.state.live = feed
    feed.start()
    return feed
