"""``create_app(settings)``: the console as one FastAPI application.

What it puts together, and why here:

* the account store (``app.state.accounts``) and the engine client (``app.state.engine``);
* every page module (:func:`acd.web.pages.discover`) and its navigation entries;
* the CSRF check on every route (an app-wide dependency, so a new page's form cannot
  forget it);
* security headers on every answer, among them a strict Content-Security-Policy: only
  this origin's scripts, styles and images, no inline script or style, no framing.  An
  injected ``<script>`` in a caller's name would not run even if escaping failed;
* the error pages: login redirect (or 401 JSON), 403, 404, all without a traceback.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acd import __version__
from acd.accounts.store import AccountStore
from acd.metrics.store_sync import DatabaseError
from acd.metrics.store_url import settings_location
from acd.web.heartbeat import ConsoleHeartbeat
from acd.settings import Settings
from acd.web.engine import EngineClient
from acd.web.pages import discover
from acd.web.pages.auth import login_redirect
from acd.web.i18n import translate
from acd.web.render import STATIC, language_of, render
from acd.web.session import CsrfCookie, Forbidden, LoginRequired, csrf_check
from acd.web.warmup import CellWarmer

log = logging.getLogger("acd.web")

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "media-src 'self'",  # recordings play from this origin only
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])


class SecurityHeaders:
    """ASGI middleware adding the security headers to every response (pages, JSON, static, errors)."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if secure:
            headers.append((b"strict-transport-security", b"max-age=31536000"))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(self.headers)
                if not static:
                    extra.append((b"cache-control", b"no-store"))  # pages carry personal data and CSRF tokens
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or "authorization" in request.headers or ("json" in accept and "html" not in accept)


def store_unavailable_errors() -> tuple[type[Exception], ...]:
    """A store that cannot be reached or is failing over (not a bug in a query)."""
    import sqlite3

    found: list[type[Exception]] = [DatabaseError, sqlite3.OperationalError]
    try:
        import psycopg

        found.append(psycopg.OperationalError)
    except ImportError:  # pragma: no cover - installed with acd
        pass
    return tuple(found)


def create_app(
    settings: Settings, *, accounts: AccountStore | None = None, engine: EngineClient | None = None, warm_cells: bool = False
) -> FastAPI:
    """The console for ``settings``; ``accounts`` and ``engine`` may be given (tests).

    ``warm_cells``: build missing past days' report figures in the background
    (:mod:`acd.web.warmup`; ``acd web`` sets it, tests of pages need not)."""
    accounts = accounts or AccountStore.from_settings(settings)
    if engine is None:
        url = settings.web.engine_url or f"http://{settings.api.host}:{settings.api.port}"
        secret = settings.web.engine_token or settings.api.token
        engine = EngineClient(url, secret.get_secret_value() if secret is not None else "")

    heartbeat = ConsoleHeartbeat(settings_location(settings), settings.web.heartbeat_s) if settings.web.heartbeat_s else None
    warmer = CellWarmer(settings) if warm_cells else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if heartbeat is not None:
            await heartbeat.start()
        if warmer is not None:
            await warmer.start()
        yield
        if warmer is not None:
            await warmer.stop()
        if heartbeat is not None:
            await heartbeat.stop()
        await engine.close()

    app = FastAPI(
        title="acd web console", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        swagger_ui_oauth2_redirect_url=None, dependencies=[Depends(csrf_check)], lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.accounts = accounts
    app.state.engine = engine
    app.state.warmer = warmer
    modules, nav = discover()
    app.state.nav = nav
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "unauthorized", "detail": "log in or send a valid bearer token"}, status_code=401)
        return login_redirect(request, exc.expired)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "forbidden", "detail": str(exc)}, status_code=403)
        return render(request, "error.html", {"message": exc.message_key}, status=403)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request) or exc.status_code != 404:
            return JSONResponse({"error": "http", "detail": str(exc.detail)}, status_code=exc.status_code)
        return render(request, "error.html", {"message": "error.not_found"}, status=404)

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        """The shared store is down or failing over: 503 and one line, never a traceback (the log names why)."""
        log.error("console store unavailable for %s: %s", request.url.path, " ".join(str(exc).split())[:300])
        if _wants_json(request):
            return JSONResponse({"error": "store_unavailable", "detail": "the console's database is not answering"}, status_code=503)
        # Not the page template: it would ask the same store who is logged in.
        message = escape(translate(language_of(request), "error.store"))
        return HTMLResponse(f"<!doctype html><title>503</title><p>{message}</p>", status_code=503)

    for error in store_unavailable_errors():
        app.add_exception_handler(error, store_unavailable)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "invalid", "detail": problems}, status_code=422)

    app.add_middleware(CsrfCookie, secure=settings.web.secure_cookies)
    app.add_middleware(SecurityHeaders, secure=settings.web.secure_cookies)  # added last: outermost
    return app
