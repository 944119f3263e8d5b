"""Keep slow or silent clients from denying the control API to the token holder.

uvicorn alone has no deadline for a request's headers, and its ``limit_concurrency``
counts *connections*: about 70 sockets that connect and send nothing (or half a request
line) made every real request get 503 for as long as they stayed open.  Here:

* **A request must arrive whole within** ``api.header_timeout_s`` (default 5 s) of the
  connection opening, or of the previous response on a keep-alive connection; otherwise
  the connection is closed.  So an idle keep-alive connection, a half-open one and one
  trickling a request byte by byte all go away after that long.
* **The busy limit counts requests in progress**, never connections (:class:`RequestLimit`,
  503 ``busy``); a connection waiting for its request costs no request slot.
* **Connections are capped** (``api.max_connections``) to protect the engine's file
  descriptors, and a new connection over the cap closes the *oldest connection without a
  request in progress*: a flood of silent sockets keeps replacing itself while a real
  client, which sends its request at once, gets through.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Requests being handled at once before new ones get 503 (the API's handlers are quick).
MAX_REQUESTS_IN_PROGRESS = 64
_WHOLE = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and eviction of idle connections."""

    header_timeout_s: float = 5.0
    max_connections: int = 512

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self.opened_at = self.loop.time()
        super().connection_made(transport)
        self._evict_over_cap()
        self._arm_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in _WHOLE:
            self._disarm_deadline()  # the request is in; the handler may take its time

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_deadline()  # the next request on this keep-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    @property
    def waiting_for_request(self) -> bool:
        """No request in progress: nothing is lost by closing this connection."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._request_too_slow)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state not in _WHOLE and not self.transport.is_closing():
            self.transport.close()

    def _evict_over_cap(self) -> None:
        if len(self.connections) <= self.max_connections:
            return
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol) and c.waiting_for_request]
        if idle:
            oldest = min(idle, key=lambda c: c.opened_at)
            oldest.connections.discard(oldest)  # counted out now; connection_lost follows
            oldest.transport.close()
        else:
            self.connections.discard(self)  # every slot has a request in progress: refuse this one
            self.transport.close()


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` (uvicorn builds it with fixed arguments)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s, "max_connections": max_connections})


class RequestLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in progress; more get 503 ``busy``."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUESTS_IN_PROGRESS) -> None:
        self.app = app
        self.limit = limit
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.limit:
            await _busy(send, self.limit)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1


async def _busy(send: Send, limit: int) -> None:
    body = json.dumps({"error": "busy", "detail": f"{limit} requests already in progress; retry shortly"}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
