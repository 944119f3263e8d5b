"""Our FastAGI server: an asyncio protocol around the sans-IO parser in ``agi_protocol``.

Why not panoramisk's: its server freezes the whole event loop when a peer disconnects
before the header block ends, and its synchronous routes fail on Python 3.11.  Here
every read has a deadline, the header has a size cap, each call's route runs on its own
task, and a handler that raises is logged and closed — one misbehaving peer never stalls
the other calls.

Why a protocol and not asyncio streams: the header is parsed as its bytes arrive, in the
loop's read callback, and each command's answer resolves one future; streams cost a
reader, a writer, a header task woken per segment and a timeout context per command —
measured as a large share of the engine's CPU per call (issue 20).

Routes: ``AGI(agi://127.0.0.1:4573/ivr?x=1,arg1)`` reaches the handler registered for
``ivr`` with ``request.params == {"x": "1"}`` and ``request.args == ("arg1",)``.  With a
``guard`` (:mod:`acd.asterisk.agi_key`), each session is first asked for Asterisk's
``ACD_AGI_KEY``: one that cannot show the install's key reaches no route — unless the
kernel says its socket belongs to ``asterisk_uid`` (:mod:`acd.asterisk.socket_owner`).

Long on purpose: the session, the connection's protocol and the server share one
lifecycle (header, key, route, close, shutdown) and the bounds that protect it; split,
each would need the others' internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
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
from acd.asterisk.socket_owner import SocketOwners

log = logging.getLogger("acd.fastagi")


class AgiHangup(Exception):
    """The channel hung up (``HANGUP`` notice, 511 dead channel, or the socket closed)."""


class AgiTimeout(Exception):
    """Asterisk did not answer a command in time."""


#: a response line longer than this ends the session (a peer that never sends a newline),
#: and so do more unread bytes than this (a peer that answers what nobody asked)
MAX_LINE_BYTES = 65536
MAX_UNREAD_BYTES = 65536
#: how long a new connection's header is left to gather before it is read (and again,
#: while it is incomplete): Asterisk writes it a line at a time (see _AgiConnection)
HEADER_GATHER_S = 0.003


class AgiSession:
    """One AGI conversation: send a command, wait for its single response.

    Fed by its connection (:class:`_AgiConnection`) with the bytes that arrive; lines are
    kept in order and read only while a command waits, exactly as a reader of the socket
    would: a line that comes between commands (a ``HANGUP`` notice, a late answer to a
    command that timed out) is read by the next command.
    """

    def __init__(self, request: AgiRequest, transport: asyncio.BaseTransport | None, *, read_timeout_s: float) -> None:
        self.request = request
        self._transport = transport
        self._parser = AgiResponseParser()
        self._read_timeout_s = read_timeout_s
        self._lock = asyncio.Lock()
        self._partial = bytearray()
        self._lines: deque[str] = deque()
        self._unread = 0  # characters in the queued lines
        self._eof = False
        self._broken: AgiProtocolError | None = None
        #: the command waiting for its response: (name, future)
        self._waiting: tuple[str, asyncio.Future[AgiResponse]] | None = None
        self._saw_hangup_notice = False  # during the waiting command
        self.hung_up = False
        self.closing = False

    # -- bytes in (from the connection) --------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from Asterisk: complete lines are queued, and read if a command waits."""
        if self._broken is not None:
            return  # closing: what still arrives is dropped
        partial = self._partial
        partial += data
        if b"\n" in data:
            *lines, rest = partial.split(b"\n")
            decoded = [(line + b"\n").decode("utf-8", errors="replace") for line in lines]
            self._lines.extend(decoded)
            self._unread += sum(map(len, decoded))
            self._partial = partial = bytearray(rest)
        if len(partial) > MAX_LINE_BYTES:
            self._break("response line too long")
        self._read_lines()
        if self._unread > MAX_UNREAD_BYTES:
            self._break(f"more than {MAX_UNREAD_BYTES} bytes nobody asked for")

    def _break(self, problem: str) -> None:
        """Bounded memory: the session ends; a waiting command gets ``AgiProtocolError``."""
        if self._broken is not None:
            return
        self._broken = AgiProtocolError(problem)
        self._partial = bytearray()
        self._lines.clear()
        self._unread = 0
        if self._transport is not None:
            self._transport.close()
        self._read_lines()

    def feed_eof(self) -> None:
        """The connection closed: a waiting command (once the queued lines are read) hangs up."""
        self._eof = True
        self._read_lines()

    def _read_lines(self) -> None:
        waiting = self._waiting
        if waiting is None:
            return
        command, future = waiting
        if future.done():
            return
        while self._lines:
            line = self._lines.popleft()
            self._unread -= len(line)
            try:
                response = self._parser.feed_line(line)
            except AgiHangupNotice:
                # Asterisk sends HANGUP, then still answers the pending command (often -1).
                self._saw_hangup_notice = True
                self.hung_up = True
                continue
            except AgiProtocolError as exc:
                future.set_exception(exc)
                return
            if response is None:
                continue
            if response.code == 511 or (self._saw_hangup_notice and response.result_int < 0):
                self.hung_up = True
                future.set_exception(AgiHangup(f"channel hung up during {command}"))
            else:
                future.set_result(response)
            return
        if self._broken is not None:
            future.set_exception(self._broken)
        elif self._eof:
            self.hung_up = True
            future.set_exception(AgiHangup(f"connection closed while waiting for {command}"))

    # -- commands -----------------------------------------------------------------------

    async def command(self, command: str, *args: str, timeout_s: float | None = None) -> AgiResponse:
        """Send one command; raise ``AgiHangup`` when the channel is gone.

        ``timeout_s`` must cover commands that legitimately take long (playing a file,
        waiting for a digit): the caller passes the command's own duration plus margin.
        """
        if self.hung_up:
            raise AgiHangup("channel already hung up")
        async with self._lock:
            transport = self._transport
            if transport is None or transport.is_closing():
                self.hung_up = True
                raise AgiHangup(f"connection lost while sending {command}")
            try:
                transport.write(encode_command(command, *args))  # type: ignore[attr-defined]
            except (ConnectionError, RuntimeError) as exc:
                self.hung_up = True
                raise AgiHangup(f"connection lost while sending {command}") from exc
            loop = asyncio.get_running_loop()
            future: asyncio.Future[AgiResponse] = loop.create_future()
            self._waiting = (command, future)
            self._saw_hangup_notice = False
            deadline = self._read_timeout_s if timeout_s is None else timeout_s
            # One timer per command, cancelled by the answer: no Task, no context manager.
            timer = loop.call_later(deadline, _time_out, future, command, deadline)
            try:
                self._read_lines()
                return await future
            finally:
                timer.cancel()
                self._waiting = None

    async def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(Exception):
                self._transport.close()


def _time_out(future: asyncio.Future[AgiResponse], command: str, deadline: float) -> None:
    if not future.done():
        future.set_exception(AgiTimeout(f"no answer to {command} within {deadline:.1f} s"))


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
    #: sessions let in without the key question: their socket belongs to ``asterisk_uid``
    admitted_by_owner: int = 0


class _AgiConnection(asyncio.Protocol):
    """One FastAGI connection, as bytes arrive: the header goes to the sans-IO parser on
    the spot (bounded in size and time), then a task runs the route and its session is
    fed the rest.  No stream objects and no task while the header arrives: a call costs
    one task and the loop's callbacks, which is most of the engine's cost per call.

    The header is read in gathers, not as it trickles in: Asterisk writes it one line per
    ``write`` (``setup_env``: 23 lines), and a socket read as soon as it is readable woke
    the engine once a line, most of its loop wake-ups per call (``strace``).  So reading
    starts ``header_gather_s`` after the connection and, while the header is incomplete,
    pauses again for as long: a header in one or two reads, and Asterisk's writes wake
    nobody meanwhile.  Once the header is whole, answers are read as they come."""

    def __init__(self, server: "FastAgiServer") -> None:
        self.server = server
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.peer: object = None
        self.session: AgiSession | None = None
        self._parser: AgiRequestParser | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._gather_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")
        if not self.server._opened(self):
            transport.close()
            return
        self._parser = AgiRequestParser(self.server.max_header_bytes)
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self.server.header_timeout_s, self._header_timed_out)
        if self.server.header_gather_s > 0:
            # Not pause_reading() here: uvloop starts reading after connection_made returns.
            loop.call_soon(self._gather_header)

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.feed(data)
            return
        if self._parser is None:
            return  # refused or failed: closing
        try:
            request = self._parser.feed(data)
        except AgiProtocolError as exc:
            self._fail("protocol", exc)
            return
        if request is None:
            if self.server.header_gather_s > 0:
                self._gather_header()
            return
        self._cancel_header_timer()
        self.session = AgiSession(request, self.transport, read_timeout_s=self.server.read_timeout_s)
        if self._parser.leftover:
            self.session.feed(self._parser.leftover)
        self._parser = None
        self.server._start_session(self, self.session)

    def eof_received(self) -> bool | None:
        return None  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self.session is not None:
            self.session.feed_eof()
            return  # _serve ends the connection's accounting
        if self._parser is not None:
            self._parser = None
            self.server._header_failed(self, "dropped" if exc is not None else "closed")
        self.server._closed(self)

    def _gather_header(self) -> None:
        """Stop reading for ``header_gather_s``, so the header's next lines arrive together."""
        if self._parser is None or self.session is not None or self._gather_timer is not None or self.transport.is_closing():
            return
        self.transport.pause_reading()
        self._gather_timer = asyncio.get_running_loop().call_later(self.server.header_gather_s, self._end_gather)

    def _end_gather(self) -> None:
        self._gather_timer = None
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.session is None and self._parser is not None:
            self._fail("timeout")

    def _fail(self, why: str, problem: object = None) -> None:
        self._cancel_header_timer()
        self._parser = None
        self.server._header_failed(self, why, problem)
        self.transport.close()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if self._gather_timer is not None:
            self._gather_timer.cancel()
            self._gather_timer = None


class FastAgiServer:
    """asyncio FastAGI listener with per-connection tasks and graceful shutdown."""

    def __init__(
        self,
        routes: RouteRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        header_timeout_s: float = 5.0,
        header_gather_s: float = HEADER_GATHER_S,
        read_timeout_s: float = 30.0,
        max_header_bytes: int = 16384,
        max_connections: int = 1000,
        guard: AgiKeyGuard | None = None,
    ) -> None:
        self.routes = routes
        self.host = host
        self.port = port
        self.header_timeout_s = header_timeout_s
        self.header_gather_s = header_gather_s
        self.read_timeout_s = read_timeout_s
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        #: when set, only sessions carrying the AGI key reach a route (the engine always sets it)
        self.guard = guard
        #: Asterisk's user on this machine: a session whose socket it owns skips the key
        #: question (:mod:`acd.asterisk.socket_owner`); None: every session is asked
        self.asterisk_uid: int | None = None
        self._owners = SocketOwners()
        self.stats = FastAgiStats()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: set[AgiSession] = set()
        self._connections: set[_AgiConnection] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AgiConnection(self), self.host, self.port)
        sockets = self._server.sockets or []
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d (routes: %s)", self.host, self.port, ", ".join(self.routes.names))

    def _opened(self, connection: "_AgiConnection") -> bool:
        """A peer connected; False (and closed) when ``max_connections`` are already open."""
        self.stats.accepted += 1
        self.stats.active += 1
        self._connections.add(connection)
        if len(self._connections) > self.max_connections:
            self.stats.rejected_over_capacity += 1
            log.warning("FastAGI: refusing %s: %d connections already open", connection.peer, self.max_connections)
            return False
        return True

    def _closed(self, connection: "_AgiConnection") -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            self.stats.active -= 1

    def _header_failed(self, connection: "_AgiConnection", why: str, problem: object = None) -> None:
        peer = connection.peer
        if why == "timeout":
            self.stats.header_timeouts += 1
            log.warning("FastAGI: %s sent no complete header within %.1f s; closed", peer, self.header_timeout_s)
        elif why == "protocol":
            self.stats.protocol_errors += 1
            log.warning("FastAGI: %s is not speaking AGI (%s); closed", peer, problem)
        elif why == "dropped":
            log.info("FastAGI: %s dropped the connection during the header", peer)
        else:
            log.info("FastAGI: %s closed the connection before the header ended", peer)

    def _start_session(self, connection: "_AgiConnection", session: AgiSession) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(connection, session))
        self._tasks.add(task)

        def ended(task: asyncio.Task[None]) -> None:  # also when cancelled before it ran
            self._tasks.discard(task)
            connection.transport.close()
            self._closed(connection)

        task.add_done_callback(ended)

    async def _serve(self, connection: "_AgiConnection", session: AgiSession) -> None:
        """The header is in: the route's handler, after the AGI key, on its own task."""
        request, peer = session.request, connection.peer
        handler = self.routes.resolve(request.route)
        if handler is None:
            self.stats.unknown_routes += 1
            log.warning("FastAGI: no route for %r (channel %s); known: %s", request.route, request.channel, self.routes.names)
            with contextlib.suppress(Exception):
                connection.transport.write(encode_command("VERBOSE", f"acd: no route {request.route}", "1"))
            return
        if self.guard is not None and not self._owned_by_asterisk(connection) and not await self._admitted(session, self.guard, peer):
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

    def _owned_by_asterisk(self, connection: "_AgiConnection") -> bool:
        """The kernel says Asterisk's own user opened this connection (no round trip)."""
        if self.asterisk_uid is None:
            return False
        if self._owners.owner(connection.peer, connection.transport.get_extra_info("sockname")) != self.asterisk_uid:
            return False
        self.stats.admitted_by_owner += 1
        return True

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

    def begin_shutdown(self) -> None:
        """Stop accepting; sessions see ``closing`` and finish their current step; peers
        still sending their header are closed (no call of theirs has started)."""
        if self._server is not None:
            self._server.close()
        for session in self._sessions:
            session.closing = True
        for connection in list(self._connections):
            if connection.session is None:
                connection.transport.close()

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
        self._owners.close()

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)
