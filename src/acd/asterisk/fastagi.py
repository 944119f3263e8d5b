"""Our FastAGI server: asyncio streams around the sans-IO parser in ``agi_protocol``.

Why not panoramisk's: its server freezes the whole event loop when a peer disconnects
before the header block ends, and its synchronous routes fail on Python 3.11.  Here
every read has a deadline, the header has a size cap, each connection is its own task,
and a handler that raises is logged and closed — one misbehaving peer never stalls the
other calls.

Routes: ``AGI(agi://127.0.0.1:4573/ivr?x=1,arg1)`` reaches the handler registered for
``ivr`` with ``request.params == {"x": "1"}`` and ``request.args == ("arg1",)``.  With a
``guard`` (:mod:`acd.asterisk.agi_key`), each session is first asked for Asterisk's
``ACD_AGI_KEY``: one that cannot show the install's key reaches no route.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from acd.asterisk.agi_key import ASTERISK_VARIABLE, AgiKeyGuard
from acd.asterisk.agi_protocol import (
    AgiHangupNotice,
    AgiProtocolError,
    AgiRequest,
    AgiRequestParser,
    AgiResponse,
    AgiResponseParser,
    encode_command,
)

log = logging.getLogger("acd.fastagi")


class AgiHangup(Exception):
    """The channel hung up (``HANGUP`` notice, 511 dead channel, or the socket closed)."""


class AgiTimeout(Exception):
    """Asterisk did not answer a command in time."""


class AgiSession:
    """One AGI conversation: send a command, wait for its single response."""

    def __init__(
        self,
        request: AgiRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        read_timeout_s: float,
    ) -> None:
        self.request = request
        self._reader = reader
        self._writer = writer
        self._parser = AgiResponseParser()
        self._read_timeout_s = read_timeout_s
        self._lock = asyncio.Lock()
        self.hung_up = False
        self.closing = False

    async def command(self, command: str, *args: str, timeout_s: float | None = None) -> AgiResponse:
        """Send one command; raise ``AgiHangup`` when the channel is gone.

        ``timeout_s`` must cover commands that legitimately take long (playing a file,
        waiting for a digit): the caller passes the command's own duration plus margin.
        """
        if self.hung_up:
            raise AgiHangup("channel already hung up")
        async with self._lock:
            try:
                self._writer.write(encode_command(command, *args))
                await self._writer.drain()
            except (ConnectionError, RuntimeError) as exc:
                self.hung_up = True
                raise AgiHangup(f"connection lost while sending {command}") from exc
            deadline = self._read_timeout_s if timeout_s is None else timeout_s
            try:
                # asyncio.timeout, not wait_for: no Task per command (a call makes a dozen).
                async with asyncio.timeout(deadline):
                    return await self._read_response(command)
            except asyncio.TimeoutError as exc:
                raise AgiTimeout(f"no answer to {command} within {deadline:.1f} s") from exc

    async def _read_response(self, command: str) -> AgiResponse:
        saw_hangup_notice = False
        while True:
            raw = await self._reader.readline()
            if not raw:
                self.hung_up = True
                raise AgiHangup(f"connection closed while waiting for {command}")
            if not raw.endswith(b"\n") and len(raw) > 65536:
                raise AgiProtocolError("response line too long")
            try:
                response = self._parser.feed_line(raw.decode("utf-8", errors="replace"))
            except AgiHangupNotice:
                # Asterisk sends HANGUP, then still answers the pending command (often -1).
                saw_hangup_notice = True
                self.hung_up = True
                continue
            if response is None:
                continue
            if response.code == 511 or (saw_hangup_notice and response.result_int < 0):
                self.hung_up = True
                raise AgiHangup(f"channel hung up during {command}")
            return response

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 2)


Handler = Callable[[AgiSession], Awaitable[None]]


@dataclass
class RouteRegistry:
    """Maps the path of ``agi://host:port/<route>`` to a handler."""

    _routes: dict[str, Handler] = field(default_factory=dict)

    def add(self, route: str, handler: Handler) -> None:
        route = route.strip("/")
        if route in self._routes:
            raise ValueError(f"route {route!r} is already registered")
        self._routes[route] = handler

    def route(self, route: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.add(route, handler)
            return handler

        return decorator

    def resolve(self, route: str) -> Handler | None:
        """Exact match first, then the longest registered prefix (``ivr/help`` → ``ivr``)."""
        route = route.strip("/")
        if route in self._routes:
            return self._routes[route]
        parts = route.split("/")
        for cut in range(len(parts) - 1, 0, -1):
            handler = self._routes.get("/".join(parts[:cut]))
            if handler is not None:
                return handler
        return None

    @property
    def names(self) -> list[str]:
        return sorted(self._routes)


@dataclass
class FastAgiStats:
    accepted: int = 0
    active: int = 0
    protocol_errors: int = 0
    header_timeouts: int = 0
    unknown_routes: int = 0
    handler_errors: int = 0
    rejected_over_capacity: int = 0
    #: sessions that could not show the install's AGI key (not from our Asterisk): never routed
    refused_without_key: int = 0


class FastAgiServer:
    """asyncio FastAGI listener with per-connection tasks and graceful shutdown."""

    def __init__(
        self,
        routes: RouteRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        header_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_header_bytes: int = 16384,
        max_connections: int = 1000,
        guard: AgiKeyGuard | None = None,
    ) -> None:
        self.routes = routes
        self.host = host
        self.port = port
        self.header_timeout_s = header_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        #: when set, only sessions carrying the AGI key reach a route (the engine always sets it)
        self.guard = guard
        self.stats = FastAgiStats()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: set[AgiSession] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=65536)
        sockets = self._server.sockets or []
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d (routes: %s)", self.host, self.port, ", ".join(self.routes.names))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.accepted += 1
        self.stats.active += 1
        peer = writer.get_extra_info("peername")
        try:
            if len(self._tasks) > self.max_connections:
                self.stats.rejected_over_capacity += 1
                log.warning("FastAGI: refusing %s: %d connections already open", peer, self.max_connections)
                return
            request = await self._read_header(reader, peer)
            if request is None:
                return
            handler = self.routes.resolve(request.route)
            if handler is None:
                self.stats.unknown_routes += 1
                log.warning("FastAGI: no route for %r (channel %s); known: %s", request.route, request.channel, self.routes.names)
                with contextlib.suppress(Exception):
                    writer.write(encode_command("VERBOSE", f"acd: no route {request.route}", "1"))
                    await writer.drain()
                return
            session = AgiSession(request, reader, writer, read_timeout_s=self.read_timeout_s)
            if self.guard is not None and not await self._admitted(session, self.guard, peer):
                return  # closed without a word
            self._sessions.add(session)
            try:
                await handler(session)
            except AgiHangup:
                log.debug("FastAGI: %s hung up in route %s", request.channel, request.route)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.handler_errors += 1
                log.exception("FastAGI: route %s failed for channel %s", request.route, request.channel)
            finally:
                self._sessions.discard(session)
        finally:
            self.stats.active -= 1
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
                async with asyncio.timeout(2):  # not wait_for: no Task per session
                    await writer.wait_closed()

    async def _admitted(self, session: AgiSession, guard: AgiKeyGuard, peer: object) -> bool:
        """Ask the peer for Asterisk's ``ACD_AGI_KEY`` (see :mod:`acd.asterisk.agi_key`).

        A peer that hangs up first is just gone (not counted: real callers do that); one
        that answers anything else, garbage, or nothing in time is refused and counted."""
        try:
            response = await session.command("GET VARIABLE", ASTERISK_VARIABLE, timeout_s=self.header_timeout_s)
            given = (response.data or "") if response.ok and response.result_int == 1 else ""
        except AgiHangup:
            log.debug("FastAGI: %s hung up before showing its AGI key", peer)
            return False
        except (AgiTimeout, AgiProtocolError, ConnectionError):
            given = ""
        if guard.admit(given, session.request, peer):
            return True
        self.stats.refused_without_key += 1
        return False

    async def _read_header(self, reader: asyncio.StreamReader, peer: object) -> AgiRequest | None:
        parser = AgiRequestParser(self.max_header_bytes)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + self.header_timeout_s):
                while True:
                    chunk = await reader.read(4096)
                    if not chunk:
                        log.info("FastAGI: %s closed the connection before the header ended", peer)
                        return None
                    request = parser.feed(chunk)
                    if request is not None:
                        return request
        except asyncio.TimeoutError:
            self.stats.header_timeouts += 1
            log.warning("FastAGI: %s sent no complete header within %.1f s; closed", peer, self.header_timeout_s)
        except AgiProtocolError as exc:
            self.stats.protocol_errors += 1
            log.warning("FastAGI: %s is not speaking AGI (%s); closed", peer, exc)
        except ConnectionError:
            log.info("FastAGI: %s dropped the connection during the header", peer)
        return None

    def begin_shutdown(self) -> None:
        """Stop accepting; sessions see ``closing`` and finish their current step."""
        if self._server is not None:
            self._server.close()
        for session in self._sessions:
            session.closing = True

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let calls finish for ``grace_s``, then cancel what remains."""
        self.begin_shutdown()
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)
