"""AMI client: panoramisk's Manager behind our own interface.

panoramisk 1.4 handles connecting and actions well, but: it reconnects on a fixed timer
forever, its ping never checks that a reply came back (a half-open socket looks healthy
for ever), a synchronous callback that raises drops the connection, and its parser was a
third of the cost of ingesting a real event stream.  So this client

* uses a fresh panoramisk ``Manager`` per connection with its own reconnect disabled,
  and runs one supervisor task that reconnects with exponential backoff;
* sends ``Ping`` every ``ping_interval_s`` and aborts the socket when no reply arrives
  within ``ping_timeout_s`` — that is how a frozen Asterisk or a dead peer is noticed;
* reads the socket with our own sans-IO framing (:mod:`acd.asterisk.ami_wire`): an event
  nobody subscribed to is counted and skipped by its name alone; a wanted one is parsed
  straight into an :class:`AmiMessage` and copied into bounded per-subscriber queues (a
  slow consumer can lag but never breaks the connection).  Responses, and events that
  answer one of our actions (they carry an ``ActionID``), still go through panoramisk's
  action bookkeeping.  Malformed input is logged and skipped, never raised.

Nothing outside ``acd.asterisk`` sees panoramisk types: actions return ``AmiMessage``.

Long on purpose: :class:`AmiClient` is the one place that owns the connection's life
(connect, login, ping watchdog, backoff, subscriptions, actions); split, each part would
reach into the others' state.  The wire format itself is in :mod:`acd.asterisk.ami_wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from acd.asterisk.ami_wire import ACTION_ID_MARK, AmiFramer, UnsafeActionError, check_action, event_name_of, parse_block, preview

log = logging.getLogger("acd.ami")


class AmiError(Exception):
    """An action failed or could not be sent."""


class AmiNotConnected(AmiError):
    """No authenticated AMI connection right now."""


class AmiAuthError(AmiError):
    """Asterisk refused the username/secret."""


class AmiFenced(AmiNotConnected):
    """This engine may no longer act on Asterisk (it lost its lease to a standby: ``acd.ha``).

    A kind of "not connected", so every caller already handles it as an AMI outage."""


class AmiActionRefused(AmiError):
    """We refused to send an action: a header would have carried a line break or NUL."""


@dataclass(frozen=True)
class AmiMessage:
    """One AMI response or event as plain strings (header names as Asterisk sent them)."""

    headers: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        if value is None:
            lowered = name.lower()
            for key, item in self.headers.items():
                if key.lower() == lowered:
                    return item
            return default
        return value

    @property
    def name(self) -> str:
        """The event name, or '' for a response."""
        return self.get("Event")

    @property
    def success(self) -> bool:
        return self.get("Response").lower() in ("success", "follows", "goodbye")

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def values(self, name: str) -> list[str]:
        """Every value of a header Asterisk repeated (``Variable:`` lines, for instance)."""
        value = self.get(name)
        return value.split("\n") if value else []

    def variables(self) -> dict[str, str]:
        """``Variable: NAME=value`` lines (``Status`` with ``Variables:``) as a dict."""
        result: dict[str, str] = {}
        for item in self.values("Variable"):
            name, _, value = item.partition("=")
            result[name] = value
        return result


def _to_message(raw: Any) -> AmiMessage:
    headers: dict[str, str] = {}
    for key, value in dict(raw).items():
        if key.lower() in ("content",):
            continue
        if isinstance(value, list):
            headers[str(key)] = "\n".join(str(item) for item in value)
        else:
            headers[str(key)] = value if isinstance(value, str) else str(value)
    return AmiMessage(headers)


def _payload(name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {"Action": name}
    for key, value in fields.items():
        payload[key] = value if isinstance(value, (list, tuple)) else str(value)
    return payload


EventSink = Callable[[str, bytes], None]
ProblemSink = Callable[[str], None]
#: Events panoramisk must see itself: ``Shutdown`` makes it close the connection.
_PANORAMISK_EVENTS = frozenset({"Shutdown"})
_MAX_ROUTES = 4096


class _WireProtocol(AMIProtocol):
    """panoramisk's protocol (actions, responses) with our framing on the receive side.

    Plain events, the bulk of the stream, go to ``on_event`` as (name, raw block) without
    being parsed here; the client decides from the name whether to parse at all.
    Responses and events carrying an ``ActionID`` are parsed and handed to panoramisk's
    ``handle_message``, which resolves action futures and passes on the rest as events.
    """

    def __init__(self, on_event: EventSink, on_problem: ProblemSink) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_problem = on_problem
        self.framer = AmiFramer()

    def send(self, data: Any, as_list: bool | None = False) -> asyncio.Future:  # type: ignore[override]
        """The one place where actions become bytes (Login included): an action with a
        header that would smuggle in more headers or actions is logged and refused whole."""
        try:
            check_action(data)
        except UnsafeActionError as exc:
            log.warning("AMI: %s", exc)
            raise AmiActionRefused(str(exc)) from None
        return super().send(data, as_list=as_list)

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        framer = self.framer
        blocks = framer.feed(data)
        if framer.problems:
            for problem in framer.problems:
                self._on_problem(problem)
            framer.problems.clear()
        if self.version is None and framer.greeting is not None:
            self.version = framer.greeting
        on_event = self._on_event
        for block in blocks:
            name = event_name_of(block)
            if name is not None and name not in _PANORAMISK_EVENTS and ACTION_ID_MARK not in block:
                on_event(name, block)
            else:
                self._to_panoramisk(block)

    def _to_panoramisk(self, block: bytes) -> None:
        headers, others = parse_block(block)
        response = headers.get("Response", "")
        if "Event" not in headers and not response:
            self._on_problem(f"ignored a message that is neither an event nor a response: {preview(block)}")
            return
        content = ""
        if others:
            if response in ("Follows", "Fail"):
                content = "\n".join(others)  # command output (old-style Command responses)
            else:
                self._on_problem(f"ignored {len(others)} malformed line(s) in {preview(block)}: {preview(others[0])}")
        message = Message(headers, content)
        try:
            self.handle_message(message)
        except Exception:  # a callback of panoramisk's must not kill the read loop
            log.exception("AMI: failed to handle %s", preview(block))


class _OneShotManager(Manager):
    """A panoramisk Manager that never reconnects by itself; the client decides."""

    def __init__(self, on_lost: Callable[[Any], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost
        #: resolves to the Login response future, or to the exception that prevented connecting
        self.attempt: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def connection_made(self, f: asyncio.Future) -> None:  # type: ignore[override]
        exc = f.exception()
        if exc is not None:
            if not self.attempt.done():
                self.attempt.set_result(exc)
            return
        try:
            super().connection_made(f)  # sends Login
        except AmiActionRefused as exc:
            if not self.attempt.done():
                self.attempt.set_result(exc)
            return
        if not self.attempt.done():
            self.attempt.set_result(self.authenticated_future)

    def connection_lost(self, exc: Any) -> None:  # type: ignore[override]
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self._on_lost(exc)

    def ping(self) -> None:  # our own liveness check replaces panoramisk's
        return None


@dataclass
class AmiStats:
    connects: int = 0
    disconnects: int = 0
    events: int = 0
    dropped_events: int = 0
    #: events parsed and delivered to at least one subscriber
    delivered_events: int = 0
    #: malformed input dropped (garbage lines or blocks, oversized messages)
    malformed: int = 0
    ping_failures: int = 0
    last_ping_rtt_ms: float | None = None


@dataclass
class _Subscriber:
    queue: asyncio.Queue[AmiMessage] | None
    patterns: tuple[str, ...]
    dropped: int = 0
    #: a listener's: called with each event as it is read, instead of the queue
    callback: Callable[[AmiMessage], None] | None = None


ConnectionCallback = Callable[[], Awaitable[None]]
DisconnectCallback = Callable[[str], Awaitable[None]]


@dataclass
class AmiClient:
    """A supervised AMI connection: login, actions, event stream, backoff, liveness."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "acd"
    secret: str = ""
    ping_interval_s: float = 5.0
    ping_timeout_s: float = 3.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    action_timeout_s: float = 10.0
    subscriber_queue_size: int = 100000
    #: run after Login, before the connection counts as up (``wait_connected``, ``connected``)
    #: and before ``on_connected``: what Asterisk must know before anything else happens
    on_login: list[ConnectionCallback] = field(default_factory=list)
    on_connected: list[ConnectionCallback] = field(default_factory=list)
    on_disconnected: list[DisconnectCallback] = field(default_factory=list)
    stats: AmiStats = field(default_factory=AmiStats)
    #: asked before every action: a reason to refuse it (``AmiFenced``), or None to send it.
    #: A hot-standby pair fences a leader whose lease may have passed on (``acd.ha``).
    permits: list[Callable[[], str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._manager: _OneShotManager | None = None
        self._authenticated = asyncio.Event()
        self._logged_in = False  # actions may be sent (on_login callbacks run before _authenticated)
        self._lost: asyncio.Event = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._subscribers: list[_Subscriber] = []
        #: event name -> subscribers that want it, filled on first sight, cleared on (un)subscribe
        self._routes: dict[str, tuple[_Subscriber, ...]] = {}
        self._closing = False
        self.last_error: str = ""

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Begin connecting in the background; use ``wait_connected`` to wait."""
        if self._supervisor is None:
            self._closing = False
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._authenticated.wait(), timeout_s)
        except asyncio.TimeoutError as exc:
            detail = f": {self.last_error}" if self.last_error else ""
            raise AmiNotConnected(f"no AMI connection to {self.host}:{self.port} within {timeout_s} s{detail}") from exc

    @property
    def connected(self) -> bool:
        return self._authenticated.is_set()

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._supervisor = None
        self._drop_manager()

    def _drop_manager(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None:
            with contextlib.suppress(Exception):
                manager.close()

    def abort_connection(self) -> None:
        """Cut the socket now (used by the liveness check and by tests)."""
        manager = self._manager
        protocol = getattr(manager, "protocol", None) if manager else None
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()
        else:
            self._lost.set()

    async def _supervise(self) -> None:
        delay = self.reconnect_initial_s
        while not self._closing:
            reason = await self._one_connection()
            if self._closing:
                break
            if self.connected or reason == "lost":
                pass
            self._authenticated.clear()
            sleep_for = delay * (0.8 + 0.4 * random.random())
            log.info("AMI: reconnecting to %s:%d in %.1f s", self.host, self.port, sleep_for)
            await asyncio.sleep(sleep_for)
            delay = self.reconnect_initial_s if reason == "lost" else min(delay * 2, self.reconnect_max_s)

    async def _one_connection(self) -> str:
        """Connect, log in, serve until lost.  Returns 'lost' or 'failed'."""
        self._lost = asyncio.Event()
        lost_reason: list[str] = []

        def on_lost(exc: Any) -> None:
            lost_reason.append(str(exc) if exc else "connection closed")
            self._lost.set()

        manager = _OneShotManager(
            on_lost,
            host=self.host,
            port=self.port,
            username=self.username,
            secret=self.secret,
            ping_delay=10**9,
            ping_interval=10**9,
            reconnect_timeout=10**9,
            loop=asyncio.get_running_loop(),
            log=logging.getLogger("acd.ami.panoramisk"),
            protocol_factory=self._protocol_factory,
        )
        manager.register_event("*", self._dispatch)
        self._manager = manager
        manager.connect()
        try:
            authenticated = await self._login(manager)
        except AmiError as exc:
            self.last_error = str(exc)
            log.warning("AMI: %s", exc)
            self._drop_manager()
            return "failed"
        if not authenticated:
            self._drop_manager()
            return "failed"
        self.stats.connects += 1
        self.last_error = ""
        self._logged_in = True
        log.info("AMI: connected and logged in to %s:%d as %s", self.host, self.port, self.username)
        for callback in list(self.on_login):
            await self._run_callback(callback)
        self._authenticated.set()
        for callback in list(self.on_connected):
            await self._run_callback(callback)
        pinger = asyncio.create_task(self._liveness(), name="ami-liveness")
        try:
            await self._lost.wait()
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            self._authenticated.clear()
            self._logged_in = False
            self._drop_manager()
        reason = lost_reason[0] if lost_reason else "connection lost"
        self.stats.disconnects += 1
        self.last_error = reason
        if not self._closing:
            log.warning("AMI: connection to %s:%d lost (%s)", self.host, self.port, reason)
            for callback in list(self.on_disconnected):
                await self._run_callback(callback, reason)
        return "lost"

    def _protocol_factory(self) -> asyncio.Protocol:
        """The protocol for one connection (a method so a benchmark can measure another)."""
        return _WireProtocol(self._on_event_block, self._on_malformed)

    async def _login(self, manager: _OneShotManager) -> bool:
        deadline = self.action_timeout_s
        try:
            outcome = await asyncio.wait_for(asyncio.shield(manager.attempt), deadline)
        except asyncio.TimeoutError as exc:
            raise AmiError(f"connecting to {self.host}:{self.port} timed out") from exc
        if isinstance(outcome, BaseException):
            raise AmiError(f"cannot connect to {self.host}:{self.port}: {outcome}")
        if outcome is None:
            raise AmiError("panoramisk sent no Login (no username configured)")
        try:
            response = await asyncio.wait_for(asyncio.shield(outcome), deadline)
        except asyncio.TimeoutError as exc:
            raise AmiError(f"no answer to Login from {self.host}:{self.port}") from exc
        if not response.success:
            raise AmiAuthError(f"Asterisk refused login for user {self.username!r}: {response.get('Message', 'no reason')}")
        return True

    async def _liveness(self) -> None:
        """Ping with a deadline: a socket that stays open but never answers is dead."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval_s)
            started = loop.time()
            try:
                await self.action("Ping", timeout_s=self.ping_timeout_s)
            except (AmiError, asyncio.TimeoutError):
                self.stats.ping_failures += 1
                log.warning("AMI: no Ping reply within %.1f s; dropping the connection", self.ping_timeout_s)
                self.last_error = "ping timeout"
                self.abort_connection()
                self._lost.set()
                return
            self.stats.last_ping_rtt_ms = (loop.time() - started) * 1000

    async def _run_callback(self, callback: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await callback(*args)
        except Exception:
            log.exception("AMI: connection callback failed")

    # ----------------------------------------------------------------- actions
    async def action(self, name: str, *, timeout_s: float | None = None, **fields: Any) -> AmiMessage:
        """Send one action and return its response; raise ``AmiError`` on ``Response: Error``."""
        result = await self._send(name, fields, as_list=False, timeout_s=timeout_s)
        message = _to_message(result if not isinstance(result, list) else result[0])
        if message.get("Response").lower() == "error":
            raise AmiError(f"{name} failed: {message.get('Message', 'error')}")
        return message

    async def action_list(self, name: str, *, timeout_s: float | None = None, **fields: Any) -> list[AmiMessage]:
        """Send an action answered by an event list (``CoreShowChannels`` … ``…Complete``).

        Returns the list events, without the initial response and the completion event.
        """
        # as_list=None lets panoramisk detect "EventList: start"; with as_list=True a single
        # "Response: Error" would never resolve the future.
        result = await self._send(name, fields, as_list=None, timeout_s=timeout_s)
        items = result if isinstance(result, list) else [result]
        messages = [_to_message(item) for item in items]
        if messages and messages[0].get("Response").lower() == "error":
            raise AmiError(f"{name} failed: {messages[0].get('Message', 'error')}")
        return [m for m in messages if m.name and not m.name.endswith("Complete") and not m.get("Response")]

    def check(self, name: str, **fields: Any) -> None:
        """Raise ``AmiActionRefused`` (and log it) if this action could not be sent safely.

        For callers that send several actions as one step (Setvar + Redirect): checking
        them all first means none is sent when one of them would be refused."""
        try:
            check_action(_payload(name, fields))
        except UnsafeActionError as exc:
            log.warning("AMI: %s", exc)
            raise AmiActionRefused(str(exc)) from None

    async def _send(self, name: str, fields: Mapping[str, Any], *, as_list: bool | None, timeout_s: float | None) -> Any:
        for permit in self.permits:
            reason = permit()
            if reason is not None:
                raise AmiFenced(f"{name} not sent: {reason}")
        manager = self._manager
        if manager is None or not self._logged_in or manager.protocol is None:
            raise AmiNotConnected(f"not connected to AMI at {self.host}:{self.port}")
        future = manager.protocol.send(_payload(name, fields), as_list=as_list)
        try:
            # asyncio.timeout, not wait_for: no Task per action (a ring is one); on time-out
            # the awaited future is cancelled all the same
            async with asyncio.timeout(timeout_s or self.action_timeout_s):
                return await future
        except asyncio.TimeoutError as exc:
            raise AmiError(f"no answer to {name} within {timeout_s or self.action_timeout_s:.1f} s") from exc

    # ----------------------------------------------------------------- events
    @property
    def backlog(self) -> int:
        """Events received but not yet taken by their subscribers (all subscriptions).

        A growing backlog means a consumer (the dispatcher above all) falls behind Asterisk.
        """
        return sum(subscriber.queue.qsize() for subscriber in self._subscribers if subscriber.queue is not None)

    def _route(self, name: str) -> tuple[_Subscriber, ...]:
        wanted = tuple(s for s in self._subscribers if not s.patterns or name in s.patterns)
        if len(self._routes) >= _MAX_ROUTES:  # Asterisk has a few hundred event names; a peer inventing more must not grow this
            self._routes.clear()
        self._routes[name] = wanted
        return wanted

    def _on_event_block(self, name: str, block: bytes) -> None:
        """Hot path, called by the protocol for every plain event: must never raise.

        Whether anybody wants the event is decided from its name before anything is
        parsed: most of what Asterisk sends interests no subscriber.
        """
        self.stats.events += 1
        wanted = self._routes.get(name)
        if wanted is None:
            wanted = self._route(name)
        if not wanted:
            return
        try:
            headers, others = parse_block(block)
            if others:
                self._on_malformed(f"ignored {len(others)} malformed line(s) in event {name!r}: {preview(others[0])}")
            self._deliver(AmiMessage(headers), wanted)
        except Exception:  # pragma: no cover - defensive: never break the connection
            log.exception("AMI: failed to dispatch event %r", name)

    def _dispatch(self, _manager: Any, raw: Any) -> None:
        """panoramisk's callback, for events that went through its action bookkeeping
        (they carry an ``ActionID`` none of our pending actions claimed, such as
        ``OriginateResponse``).  Must never raise (it would drop the socket)."""
        try:
            self.stats.events += 1
            name = raw.get("Event", "")
            wanted = self._routes.get(name)
            if wanted is None:
                wanted = self._route(name)
            if wanted:
                self._deliver(_to_message(raw), wanted)
        except Exception:  # pragma: no cover - defensive: never break the connection
            log.exception("AMI: failed to dispatch an event")

    def _deliver(self, message: AmiMessage, wanted: tuple[_Subscriber, ...]) -> None:
        self.stats.delivered_events += 1
        for subscriber in wanted:
            if subscriber.callback is not None:
                try:
                    subscriber.callback(message)
                except Exception:  # a listener's failure must not stop the stream, nor the others
                    log.exception("AMI: a listener failed on event %r", message.name)
                continue
            try:
                subscriber.queue.put_nowait(message)  # type: ignore[union-attr]
            except asyncio.QueueFull:
                subscriber.dropped += 1
                self.stats.dropped_events += 1

    def _on_malformed(self, problem: str) -> None:
        """Log malformed input, but not a flood of it: the first 20, then every 1000th."""
        self.stats.malformed += 1
        count = self.stats.malformed
        if count <= 20 or count % 1000 == 0:
            more = " (further problems are logged every 1000th)" if count == 20 else ""
            log.warning("AMI: %s from %s:%d [problem %d]%s", problem, self.host, self.port, count, more)

    def subscribe(self, *event_names: str) -> "AmiSubscription":
        """Receive events (all, or only the named ones) from now on."""
        subscriber = _Subscriber(asyncio.Queue(self.subscriber_queue_size), tuple(event_names))
        self._subscribers.append(subscriber)
        self._routes.clear()
        return AmiSubscription(self, subscriber)

    def listen(self, *event_names: str, callback: Callable[[AmiMessage], None]) -> Callable[[], None]:
        """Call ``callback`` with each event (all, or only the named ones) as it is read, in
        the connection's read callback; returns the function that stops it.

        For a consumer that handles an event without waiting (the dispatcher): a
        subscription's queue and the task it wakes cost each event a future, a loop turn
        and a task step, several times the handling itself in the engine's CPU per call.
        The callback must not block; what it raises is logged and the stream goes on."""
        subscriber = _Subscriber(None, tuple(event_names), callback=callback)
        self._subscribers.append(subscriber)
        self._routes.clear()
        return lambda: self._unsubscribe(subscriber)

    def _unsubscribe(self, subscriber: _Subscriber) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(subscriber)
        self._routes.clear()


@dataclass
class AmiSubscription:
    """An async iterator of events; ``close()`` (or ``async with``) stops delivery."""

    client: AmiClient
    subscriber: _Subscriber

    def __aiter__(self) -> AsyncIterator[AmiMessage]:
        return self

    @property
    def _queue(self) -> asyncio.Queue[AmiMessage]:
        assert self.subscriber.queue is not None, "a subscription always has a queue"
        return self.subscriber.queue

    async def __anext__(self) -> AmiMessage:
        return await self._queue.get()

    async def get(self, timeout_s: float | None = None) -> AmiMessage:
        return await asyncio.wait_for(self._queue.get(), timeout_s)

    def close(self) -> None:
        self.client._unsubscribe(self.subscriber)

    async def __aenter__(self) -> "AmiSubscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
