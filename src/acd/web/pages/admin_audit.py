"""Admin: the audit log, read-only (``view_audit``); the store refuses changes to it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from acd.web.access import Viewer
from acd.web.pages import NavItem
from acd.web.render import render
from acd.web.session import require, store_of

router = APIRouter()
NAV = [NavItem("/admin/audit", "nav.audit", "view_audit", order=95)]
PAGE = 100


@router.get("/admin/audit")
def audit_log(
    request: Request,
    who: str = Query("", max_length=64),
    action: str = Query("", max_length=64),
    before: int | None = Query(None, ge=1),
    viewer: Viewer = Depends(require("view_audit")),
) -> Response:
    entries = store_of(request).audit_entries(limit=PAGE, before=before, who=who or None, action=action or None)
    older = entries[-1].id if len(entries) == PAGE else None
    return render(request, "admin_audit.html", {"entries": entries, "who": who, "action": action, "older": older})
