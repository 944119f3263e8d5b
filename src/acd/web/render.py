"""Rendering pages: one Jinja2 environment, and what every template can use.

Every template extends ``base.html`` and gets, besides its own context:

``viewer``      the :class:`~acd.web.access.Viewer` (None on the login page)
``nav``         the navigation entries this viewer may follow, in order
``t(key, **)``  a message in the viewer's language (:mod:`acd.web.i18n`)
``lang``        ``es`` or ``en``
``csrf_field()`` the hidden CSRF input every POST form must contain
``csrf``        the token itself (for ``fetch`` calls: header ``X-CSRF-Token``)
``fmt_time(ts)`` a Unix time as local time in ``routing.timezone``
``path``        the current path (to mark the active nav entry)

Autoescaping is on: data never becomes markup unless a template says ``|safe``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from acd.web.i18n import LANGUAGES, LANGUAGE_NAMES, pick_language, translate
from acd.web.session import CSRF_FIELD, LANG_COOKIE, csrf_token, current_viewer

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def language_of(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), request.app.state.settings.web.language)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200) -> HTMLResponse:
    viewer = current_viewer(request)
    lang = language_of(request)
    token = csrf_token(request)
    zone = ZoneInfo(request.app.state.settings.routing.timezone)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    def fmt_time(ts: float | None) -> str:
        return "" if ts is None else datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S")

    nav = [item for item in request.app.state.nav if viewer is not None and (item.permission is None or viewer.may(item.permission))]
    values = {
        "request": request,
        "viewer": viewer,
        "full_name": getattr(request.state, "full_name", viewer.name if viewer else ""),
        "nav": nav,
        "t": t,
        "lang": lang,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "csrf": token,
        "csrf_field": lambda: Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">'),
        "fmt_time": fmt_time,
        "path": request.url.path,
        **(context or {}),
    }
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
