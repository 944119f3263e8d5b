"""Login, logout, language switch and the home page."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from acd.accounts.store import LoginRefused
from acd.web.access import Viewer
from acd.web.i18n import LANGUAGES
from acd.web.pages import NavItem
from acd.web.render import render
from acd.web.session import LANG_COOKIE, SESSION_COOKIE, audit, client_address, cookie_header, current_viewer, require, store_of

router = APIRouter()
NAV = [NavItem("/", "nav.home", None, order=0)]


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/", expired: int = 0, out: int = 0) -> Response:
    if current_viewer(request) is not None:  # already in: the form would only start a second session
        return RedirectResponse(local_path(next), status_code=303)
    message = "login.expired" if expired else ("login.logged_out" if out else None)
    return render(request, "login.html", {"next": local_path(next), "message": message, "error": None})


@router.post("/login")
def login(request: Request, name: str = Form("", max_length=200), password: str = Form("", max_length=1024), next: str = Form("/")) -> Response:
    store = store_of(request)
    address = client_address(request)
    try:
        account = store.authenticate(name.strip(), password, address)
    except LoginRefused as refused:
        context = {"next": local_path(next), "message": None, "error": f"login.{refused.reason}", "name": name[:64]}
        return render(request, "login.html", context, status=401 if refused.reason == "bad" else 429)
    session_id, _csrf = store.open_session(account.name, address)
    response = RedirectResponse(local_path(next), status_code=303)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, session_id, secure=request.app.state.settings.web.secure_cookies))
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    viewer = current_viewer(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        store_of(request).close_session(session_id)
    if viewer is not None:
        audit(request, "logout", viewer.name)
    response = RedirectResponse("/login?out=1", status_code=303)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", secure=request.app.state.settings.web.secure_cookies, max_age=0))
    return response


@router.get("/lang/{code}")
def language(request: Request, code: str, next: str = "/") -> Response:
    """Switching language changes nothing but a preference cookie, so a link (GET) will do."""
    response = RedirectResponse(local_path(next), status_code=303)
    if code in LANGUAGES:
        cookie = cookie_header(LANG_COOKIE, code, secure=request.app.state.settings.web.secure_cookies, max_age=365 * 86400)
        response.headers.append("set-cookie", cookie)
    return response


@router.get("/")
def home(request: Request, viewer: Viewer = Depends(require(None))) -> Response:
    return render(request, "home.html")


def login_redirect(request: Request, expired: bool) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}" + ("&expired=1" if expired else ""), status_code=303)
