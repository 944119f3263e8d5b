"""Who is asking, whether they may, and the CSRF check: what every page depends on.

* :func:`require` is the one gate: ``viewer: Viewer = Depends(require("view_live"))``.
  It returns the :class:`~acd.web.access.Viewer` or stops the request: a page sends the
  browser to the login form (``/login?next=...``; ``expired=1`` when an idle session
  ran out), a JSON request gets 401, and a viewer without the permission gets 403.
* A request is identified by ``Authorization: Bearer <token>`` (a per-user API token,
  for automation; the cookie is then ignored) or by the session cookie (``acd_session``,
  HttpOnly, SameSite=Strict, Secure when ``web.secure_cookies``); sessions live in the
  account store, so idle and absolute limits hold across a restart of ``acd web``.
* :func:`csrf_check` runs on every request of the app (``create_app`` installs it):
  an unsafe method (POST, PUT, PATCH, DELETE) from a browser must carry the session's
  CSRF token in the form field ``csrf`` or the ``X-CSRF-Token`` header.  Before login
  the token is the ``acd_csrf`` cookie's value (double submit), so the login form is
  covered too.  Pages only have to put ``{{ csrf_field() }}`` in their forms.
* :func:`audit` writes one line of the append-only audit log, e.g. for every access to
  personal data: ``audit(request, "calls.view_numbers", queue, "12 calls")``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Callable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from acd.accounts.store import AccountStore
from acd.web.access import PERMISSIONS, Viewer

SESSION_COOKIE = "acd_session"
CSRF_COOKIE = "acd_csrf"
LANG_COOKIE = "acd_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No (live) identity: pages go to the login form, JSON gets 401."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("login required")
        self.expired = expired


class Forbidden(Exception):
    """An identity without the permission (or a request failing the CSRF check): 403."""

    def __init__(self, reason: str, message_key: str = "error.forbidden") -> None:
        super().__init__(reason)
        self.message_key = message_key


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


def store_of(request: Request) -> AccountStore:
    return request.app.state.accounts


def bearer_token(request: Request) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def current_viewer(request: Request) -> Viewer | None:
    """The request's viewer (cached on ``request.state``), or None; never raises."""
    if hasattr(request.state, "viewer"):
        return request.state.viewer
    viewer: Viewer | None = None
    request.state.session_expired = False
    request.state.session_csrf = None
    token = bearer_token(request)
    store = store_of(request)
    if token is not None:
        found = store.token_account(token)
        if found is not None:
            account, scopes = found
            viewer = Viewer(account.name, account.role, client_address(request), scopes)
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            session = store.session(session_id)
            if session is None:
                request.state.session_expired = True
            else:
                viewer = Viewer(session.account.name, session.account.role, client_address(request), None)
                request.state.session_csrf = session.csrf
                request.state.full_name = session.account.full_name
    request.state.viewer = viewer
    return viewer


def require(permission: str | None) -> Callable[[Request], Viewer]:
    """A dependency giving the logged-in viewer; ``permission`` None = any logged-in account."""
    if permission is not None and permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def dependency(request: Request) -> Viewer:
        viewer = current_viewer(request)
        if viewer is None:
            raise LoginRequired(expired=bool(getattr(request.state, "session_expired", False)))
        if permission is not None and not viewer.may(permission):
            raise Forbidden(f"{viewer.name} ({viewer.role}) may not {permission}")
        return viewer

    dependency.__name__ = f"require_{permission or 'login'}"
    return dependency


def csrf_token(request: Request) -> str:
    """The token this browser's forms must carry: the session's, else the pre-login cookie's."""
    current_viewer(request)
    session_csrf = getattr(request.state, "session_csrf", None)
    if session_csrf:
        return session_csrf
    return request.cookies.get(CSRF_COOKIE) or request.scope.setdefault("state", {}).get("new_csrf_cookie", "")


async def csrf_check(request: Request) -> None:
    """App-wide dependency: an unsafe method without the right CSRF token is refused (403)."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    expected = csrf_token(request)
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("CSRF token missing or wrong", "error.csrf")


def audit(who: Request | Viewer, action: str, target: str = "", detail: str = "", *, store: AccountStore | None = None) -> None:
    """One line of the audit log: ``who`` is the request (its viewer and address) or a Viewer (then pass ``store``)."""
    if isinstance(who, Request):
        store = store or store_of(who)
        viewer = current_viewer(who)
        name, address = (viewer.name, viewer.address) if viewer is not None else ("?", client_address(who))
    else:
        if store is None:
            raise ValueError("audit(viewer, ...) needs store=")
        name, address = who.name, who.address
    store.audit(name, action, target, address, detail)


class CsrfCookie:
    """ASGI middleware: a browser without the pre-login CSRF cookie gets one (HttpOnly, SameSite=Strict)."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_cookie(scope, CSRF_COOKIE):
            await self.app(scope, receive, send)
            return
        value = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["new_csrf_cookie"] = value
        cookie = cookie_header(CSRF_COOKIE, value, secure=self.secure)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _has_cookie(scope: Scope, name: str) -> bool:
    for header, value in scope.get("headers", ()):
        if header == b"cookie" and f"{name}=".encode() in value:
            return True
    return False


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)
