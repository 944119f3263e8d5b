"""The console's pages: one module each in this package, found at start-up.

How to add a page (e.g. the wallboard)
--------------------------------------
1. Create ``src/acd/web/pages/wallboard.py`` with:

   .. code-block:: python

       from fastapi import APIRouter, Depends, Request
       from acd.web.access import Viewer
       from acd.web.pages import NavItem
       from acd.web.render import render
       from acd.web.session import audit, require

       router = APIRouter()
       NAV = [NavItem("/wallboard", "nav.wallboard", "view_live", order=10)]
       MESSAGES = {"es": {"nav.wallboard": "Panel en vivo"}, "en": {"nav.wallboard": "Wallboard"}}

       @router.get("/wallboard")
       def wallboard(request: Request, viewer: Viewer = Depends(require("view_live"))):
           return render(request, "wallboard.html", {"queues": ...})

   ``require(permission)`` is the only gate (permissions: ``acd.web.access``): it
   returns the viewer or sends the browser to the login form (401/403 for JSON).
   Shown personal data? Call ``audit(request, "calls.view", target, detail)``.
2. Create ``src/acd/web/templates/wallboard.html`` starting with
   ``{% extends "base.html" %}`` and filling ``{% block content %}`` (and optionally
   ``{% block head %}`` for a stylesheet or ``<script src=... defer>``).  Every POST
   form contains ``{{ csrf_field() }}``; a ``fetch`` sends header ``X-CSRF-Token: {{ csrf }}``
   (put it in a ``data-csrf`` attribute: inline scripts are refused by the CSP).
3. Static files go in ``src/acd/web/static/`` (served at ``/static/...``): plain CSS
   and small vanilla JS, no CDN, no inline ``<script>`` or ``style=``.
4. Test it in ``tests/web/`` with the fixtures of ``tests/web/conftest.py``: ``console``
   (a real ``acd web`` with one account per role: ``console.users[role]``),
   ``start_console(**web_settings)``, ``page`` (chromium; screenshot on failure) and
   ``login_as(page, console, role)``; or without a browser, ``TestClient(create_app(...))``
   as in ``tests/web/test_console_app.py``.

Good to know:

* JSON routes: the same ``require``; a request that sends ``Accept: application/json``
  (``acdFetch`` in ``static/console.js`` does) or a bearer token gets 401/403 JSON
  instead of the login page.  People's API tokens work here too (``acd user token``).
* Personal data: mask unless ``viewer.may_see_personal_data``; audit every unmasked view.
* Sessions end after ``web.session_idle_s`` without a request: a wall screen stays logged
  in only if it makes requests (a reconnecting stream does).
* Live state: ``await request.app.state.engine.get("/api/stats")`` raises
  :class:`acd.web.engine.EngineUnavailable` when the engine is away: show that, never a 500.
* Times: ``fmt_time(ts)`` in templates (``routing.timezone``); words: ``t("key")``.

Nothing else to edit: this module imports every module of the package that has a
``router``; ``NAV`` entries go to the navigation bar (only those the viewer's role may
follow are shown), sorted by ``order``; ``MESSAGES`` join the catalogue
(:mod:`acd.web.i18n`).  The engine's live state is at ``request.app.state.engine``
(:class:`acd.web.engine.EngineClient`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from acd.web.access import PERMISSIONS
from acd.web.i18n import add_messages


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation bar: shown to viewers with ``permission`` (None: everyone logged in)."""

    path: str
    label: str  # a message key
    permission: str | None
    order: int = 50

    def __post_init__(self) -> None:
        if self.permission is not None and self.permission not in PERMISSIONS:
            raise KeyError(f"NavItem {self.path}: unknown permission {self.permission!r}")


def discover() -> tuple[list[ModuleType], list[NavItem]]:
    """Every page module (those with a ``router``) and the navigation, sorted."""
    modules: list[ModuleType] = []
    nav: list[NavItem] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if getattr(module, "router", None) is None:
            continue
        modules.append(module)
        nav.extend(getattr(module, "NAV", ()))
        add_messages(getattr(module, "MESSAGES", {}))
    nav.sort(key=lambda item: (item.order, item.path))
    return modules, nav
