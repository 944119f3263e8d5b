"""Serve the control API from inside the engine: same process, same event loop.

``attach_api(app, settings)`` is called by :func:`acd.app.build_app`.  The API starts and
stops with the engine (a startup and a shutdown component), and uvicorn runs as one task
on the engine's loop, so handlers read the router between two events with no lock.

Decisions:

* **No token, no API.**  Without ``ACD_API_TOKEN`` the API does not start at all and the
  engine logs a warning: its read endpoints expose calls and agents, and its write
  endpoints move calls and log agents out, so "open on loopback" is not safe on a shared
  host.  ``api.enabled: false`` turns it off silently.
* **The engine owns SIGTERM/SIGINT.**  uvicorn normally installs its own handlers while
  serving; :class:`EmbeddedServer` does not, so ``acd run``'s graceful stop still runs.
* **A busy port does not stop the phones.**  We bind the socket ourselves (uvicorn would
  call ``sys.exit`` inside our loop); if that fails the engine logs an error and runs
  without its API — calls keep being answered and routed, and ``acd queues`` says the
  engine is not reachable (exit 3) until the port is fixed and the engine restarted.
* **Silent clients cannot deny the API** (:mod:`acd.api.guard`): a request must arrive
  whole within ``api.header_timeout_s``; the busy limit counts requests in progress, not
  open connections; over ``api.max_connections`` the oldest connection without a request
  in progress is closed.
* The default address is 127.0.0.1; any other address is logged as a warning, since the
  API speaks plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Iterator

import uvicorn

from acd.api.guard import RequestLimit, guarded_protocol
from acd.api.http import create_api
from acd.api.lag import LoopLagProbe
from acd.api.stream import StreamHub
from acd.metrics.store_sync import shared_location
from acd.api.tally import EventTally
from acd.settings import Settings

if TYPE_CHECKING:
    from acd.api.port import ServedEngine
    from acd.engine import Engine

log = logging.getLogger("acd.api")

#: How long open API connections get to finish when the engine stops.
SHUTDOWN_GRACE_S = 2


class EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handling: the engine decides when the process stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6 literal)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class ApiService:
    """The API's lifecycle inside one engine."""

    def __init__(self, app: "ServedEngine", settings: Settings, token: str) -> None:
        self.app = app
        self.host = settings.api.host
        self.port = settings.api.port
        self.tally = EventTally(app.stats.clock)
        self.lag = LoopLagProbe()
        self.hub = StreamHub()
        accounts = shared_location(settings, settings.web.accounts_database)  # people's tokens (acd user token), read-only
        self.asgi = RequestLimit(create_api(app, token=token, tally=self.tally, lag=self.lag, accounts=accounts, hub=self.hub))
        self.header_timeout_s = settings.api.header_timeout_s
        self.max_connections = settings.api.max_connections
        self.server: EmbeddedServer | None = None
        self._stopped = asyncio.Event()

    async def start(self, engine: "Engine") -> None:
        await self._seed_from_event_log(engine)
        try:
            sock = bind_socket(self.host, self.port)
        except OSError as exc:
            log.error("control API not started: cannot listen on %s:%d: %s (the engine runs without it)", self.host, self.port, exc)
            return
        config = uvicorn.Config(
            self.asgi,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=guarded_protocol(self.header_timeout_s, self.max_connections),
            ws="none",
            proxy_headers=False,  # /metrics trusts the real peer address, never a header
            server_header=False,
            limit_concurrency=None,  # RequestLimit counts requests in progress instead of connections
            timeout_keep_alive=max(1, int(self.header_timeout_s)),  # the guard's deadline closes idle ones as well
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self.server = EmbeddedServer(config)
        self._stopped = asyncio.Event()
        # Engine background tasks: cancelled if a later start step fails, or after stop().
        engine.spawn(self._serve(sock), "api-server")
        engine.spawn(self.lag.run(), "api-lag-probe")
        engine.spawn(self.hub.run(), "api-stream")
        if not ipaddress.ip_address(self.host).is_loopback:
            log.warning("control API listens on %s:%d, beyond loopback, over plain HTTP", self.host, self.port)
        log.info("control API on http://%s:%d (OpenAPI at /openapi.json, Prometheus at /metrics)", _url_host(self.host), self.port)

    async def _seed_from_event_log(self, engine: "Engine") -> None:
        """Calls handled earlier today (before a restart); a log that cannot be read only costs that."""
        if self.app.store is None:
            return
        day_start, _ = self.app.stats.clock.day(engine.clock())
        try:
            self.tally.seed_handled(await self.app.store.events(start=day_start, types=["call.completed"]))
        except Exception as exc:
            log.warning("control API: today's handled calls not read from the event log: %s", exc)

    async def _serve(self, sock: socket.socket) -> None:
        assert self.server is not None
        try:
            await self.server.serve(sockets=[sock])
        except Exception:
            log.exception("control API stopped unexpectedly")
        finally:
            sock.close()
            self._stopped.set()

    async def stop(self, engine: "Engine") -> None:
        """Let open requests finish (bounded); the engine cancels whatever is left."""
        self.hub.end()
        if self.server is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), SHUTDOWN_GRACE_S + 3)
        self.server = None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def attach_api(app: "ServedEngine", settings: Settings) -> None:
    """Plug the control API into ``app``'s engine (or log why it stays off)."""
    if not settings.api.enabled:
        log.info("control API disabled (api.enabled: false)")
        return
    token = settings.api.token.get_secret_value() if settings.api.token is not None else ""
    if not token.strip():
        log.warning("control API off: no token configured; set ACD_API_TOKEN to enable it (acd queues, acd top, /metrics need it)")
        return
    service = ApiService(app, settings, token.strip())
    app.engine.bus.sinks.append(service.tally)
    app.engine.bus.sinks.append(service.hub)
    app.caller_number = service.hub.traces.number
    app.engine.on_startup(service.start)
    app.engine.on_shutdown(service.stop)
