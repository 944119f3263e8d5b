"""The engine: wires the adapters to the cores and owns lifecycle and shutdown.

Start order: event sinks → FastAGI listener → AMI (connects in the background, so a
slow Asterisk never blocks IVR calls).  Shutdown order on SIGTERM/SIGINT: stop taking
new calls, let calls in progress finish their current step (or hand them back to the
dialplan when the grace period ends), close AMI, then flush every sink, so nothing
stored is lost on a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from acd.asterisk.agi_key import KEY_FILE_NAME, AgiKeyGuard, load_or_create_key, publish_key
from acd.asterisk.ami import AmiClient
from acd.asterisk.fastagi import FastAgiServer, RouteRegistry
from acd.base.events import Event, engine_event
from acd.settings import Settings

log = logging.getLogger("acd.engine")

# How long one shutdown step (closing a component, a sink, AMI) may take before it is
# abandoned: a stop that never ends is worse than one step left unfinished, because the
# supervisor (systemd, an operator) then kills the process and every sink loses its batch.
SHUTDOWN_STEP_S = 15.0


async def bounded(step: Awaitable[object], what: str, timeout_s: float | None = None) -> bool:
    """Await ``step`` for at most ``timeout_s``; log (naming ``what``) a failure or a stall.

    Unlike ``asyncio.wait_for`` this never waits on a step that ignores its cancellation.
    Returns whether the step finished cleanly.
    """
    if timeout_s is None:
        timeout_s = SHUTDOWN_STEP_S
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        log.error("%s did not finish within %.0f s; going on without it", what, timeout_s)
        return False
    if task.cancelled():
        log.error("%s was cancelled", what)
        return False
    if task.exception() is not None:
        log.error("%s failed", what, exc_info=task.exception())
        return False
    return True


class EventSink(Protocol):
    """Anything that takes events: the SQLite store, the MQTT publisher, a test list."""

    def append(self, event: Event) -> None: ...


class ClosableSink(EventSink, Protocol):
    async def close(self) -> None: ...


@dataclass
class EventBus:
    """Fans every event out to the sinks; a failing sink is logged, never fatal."""

    sinks: list[EventSink] = field(default_factory=list)
    failures: int = 0
    #: adds what every event should carry before any sink sees it (several nodes: the node)
    tag: Callable[[Event], Event] | None = None

    def emit(self, event: Event) -> None:
        if self.tag is not None:
            event = self.tag(event)
        for sink in self.sinks:
            try:
                sink.append(event)
            except Exception:
                self.failures += 1
                log.exception("event sink %s failed on %s", type(sink).__name__, event.type)

    async def close(self) -> None:
        # Last added first: sinks that still produce events (recording tracker) drain into
        # the store, which is inserted first and so closes last.
        for sink in reversed(self.sinks):
            close = getattr(sink, "close", None)
            if close is not None:
                await bounded(close(), f"closing event sink {type(sink).__name__}")


@dataclass
class MemorySink:
    """Keeps events in a list (tests, the demo's summary)."""

    events: list[Event] = field(default_factory=list)

    def append(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, *types: str) -> list[Event]:
        return [event for event in self.events if event.type in types]


Component = Callable[["Engine"], Awaitable[None]]


class Engine:
    """One running acd: FastAGI + AMI + whatever components are plugged in."""

    def __init__(self, settings: Settings, *, routes: RouteRegistry | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.routes = routes or RouteRegistry()
        self.bus = EventBus()
        self.fastagi = FastAgiServer(
            self.routes,
            host=settings.agi.host,
            port=settings.agi.port,
            header_timeout_s=settings.agi.header_timeout_s,
            read_timeout_s=settings.agi.read_timeout_s,
            max_header_bytes=settings.agi.max_header_bytes,
            max_connections=settings.agi.max_connections,
        )
        secret = settings.ami.secret.get_secret_value() if settings.ami.secret else ""
        self.ami = AmiClient(
            host=settings.ami.host,
            port=settings.ami.port,
            username=settings.ami.username,
            secret=secret,
            ping_interval_s=settings.ami.ping_interval_s,
            ping_timeout_s=settings.ami.ping_timeout_s,
            reconnect_initial_s=settings.ami.reconnect_initial_s,
            reconnect_max_s=settings.ami.reconnect_max_s,
            action_timeout_s=settings.ami.action_timeout_s,
        )
        #: hot standby (``acd.ha``): checked in every event batch's transaction (``acd.metrics.store_postgres.Fence``)
        self.store_fence: Callable[..., Awaitable[None]] | None = None
        #: the key Asterisk's dialplan passes to FastAGI; set by ``start``
        self.agi_key: str | None = None
        self.ami.on_login.append(self._publish_agi_key)
        self.ami.on_connected.append(self._ami_connected)
        self.ami.on_disconnected.append(self._ami_disconnected)
        self._startup: list[Component] = []
        self._shutdown: list[Component] = []
        self.reload_hooks: list[Callable[[], object]] = []  # SIGHUP (request_reload)
        self._background: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._stopped = False
        self.started = False

    # ------------------------------------------------------------ composition
    def on_startup(self, component: Component) -> None:
        self._startup.append(component)

    def on_shutdown(self, component: Component) -> None:
        self._shutdown.append(component)

    def spawn(self, coroutine: Awaitable[None], name: str) -> None:
        """A background task that lives as long as the engine; its crash is logged."""
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        task.add_done_callback(self._background_done)
        self._background.append(task)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s crashed: %r", task.get_name(), task.exception())

    def emit(
        self, type_: str, *, call_id: str | None = None, agent_id: str | None = None, queue: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.bus.emit(engine_event(type_, self.clock(), call_id=call_id, agent_id=agent_id, queue=queue, data=data))

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        try:
            self._arm_agi_key()
            for component in self._startup:
                await component(self)
            await self.fastagi.start()
        except BaseException:
            # Whatever started must not outlive a failed start (open files, tasks): a
            # half-started engine must still let the process exit.
            await self._release()
            await self.bus.close()
            raise
        if self.settings.ami.secret is None:
            log.warning("AMI secret not set (ACD_AMI_SECRET); AMI features stay off")
        else:
            await self.ami.start()
        self.started = True
        # What exists now (modules, settings, flows, routing) lives as long as the engine:
        # frozen, it is left out of full collections, which otherwise take 10-15 ms of
        # event loop on a small VM (the whole p99 of `acd bench ami-ingest`).
        gc.collect()
        gc.freeze()
        self.emit("engine.started", data={"site": self.settings.site})
        log.info("engine started (site %s)", self.settings.site)

    def request_reload(self) -> None:
        """SIGHUP: re-read what can change live (the routing file); never raises."""
        for hook in self.reload_hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001
                log.exception("reload hook %r failed", hook)

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Graceful stop: no new calls, calls in progress get ``grace_s`` to finish a step.

        Calls still in the IVR after that are handed back to the dialplan (their AGI
        connection closes with no ``ACD_ACTION``), which tells the caller to try later.
        Calling ``stop`` twice is harmless.
        """
        if self._stopped:
            return
        self._stopped = True
        log.info("engine stopping: no new calls; %d call(s) in progress", self.fastagi.active_sessions)
        await bounded(self.fastagi.close(grace_s=grace_s), "closing the FastAGI server", grace_s + SHUTDOWN_STEP_S)
        await self._release()
        gc.unfreeze()
        self.emit("engine.stopped", data={"site": self.settings.site})
        await self.bus.close()
        log.info("engine stopped")

    async def _release(self) -> None:
        """Shutdown components (last registered first), background tasks, AMI: each bounded,
        so neither a stop nor the clean-up of a failed start can hang on one of them."""
        for component in reversed(self._shutdown):
            await bounded(component(self), f"shutdown step {getattr(component, '__qualname__', component)}")
        for task in self._background:
            task.cancel()
        if self._background:
            _, stuck = await asyncio.wait(self._background, timeout=SHUTDOWN_STEP_S)
            for task in stuck:
                log.error("background task %s ignored its cancellation for %.0f s; going on without it", task.get_name(), SHUTDOWN_STEP_S)
        await bounded(self.ami.close(), "closing the AMI connection")

    def _arm_agi_key(self) -> None:
        """Only sessions carrying the key reach a route (see :mod:`acd.asterisk.agi_key`)."""
        configured = self.settings.agi.key
        if configured is not None:
            key = configured.get_secret_value()
        else:
            key = load_or_create_key(self.settings.resolve(self.settings.metrics.database).parent / KEY_FILE_NAME)
        self.agi_key = key
        self.fastagi.guard = AgiKeyGuard(key)
        self.fastagi.asterisk_uid = self.settings.agi.asterisk_uid

    async def _publish_agi_key(self) -> None:
        """Before anything else on each AMI connection: Asterisk learns the key to pass."""
        if self.agi_key is not None:
            await publish_key(self.ami, self.agi_key)

    async def _ami_connected(self) -> None:
        self.emit("ami.connected", data={"host": self.settings.ami.host, "port": self.settings.ami.port})

    async def _ami_disconnected(self, reason: str) -> None:
        self.emit("ami.disconnected", data={"reason": reason})


def handle_signals(engine: Engine) -> None:
    """SIGTERM/SIGINT ask the engine to stop, SIGHUP to reload (where the loop supports it)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, engine.request_stop)
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, engine.request_reload)


async def run_until_signalled(engine: Engine, grace_s: float = 10.0) -> int:
    """Start, wait for SIGTERM/SIGINT, stop gracefully; return the process exit code."""
    handle_signals(engine)
    await engine.start()
    await engine.wait_stopped()
    await engine.stop(grace_s=grace_s)
    return 0
