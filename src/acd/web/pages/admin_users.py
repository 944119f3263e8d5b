"""Admin: accounts and their API tokens (``manage_users``); every change lands in the audit log (by the store)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from acd.accounts.store import AccountError
from acd.web.account_errors import account_message
from acd.web.i18n import Message
from acd.web.access import PERMISSIONS, ROLES, ROLE_PERMISSIONS, Viewer
from acd.web.pages import NavItem
from acd.web.render import render
from acd.web.session import require, store_of

router = APIRouter(prefix="/admin/users")
NAV = [NavItem("/admin/users", "nav.users", "manage_users", order=90)]
ADMIN = require("manage_users")


def _page(request: Request, *, error: "str | Message | None" = None, notice: str | None = None, issued: dict | None = None, status: int = 200) -> Response:
    store = store_of(request)
    tokens_by_account: dict[str, list] = {}
    for token in store.tokens():
        if token.revoked is None:
            tokens_by_account.setdefault(token.account, []).append(token)
    context = {
        "accounts": store.accounts(),
        "tokens": tokens_by_account,
        "roles": ROLES,
        "permissions": PERMISSIONS,
        "role_permissions": ROLE_PERMISSIONS,
        "now": time.time(),
        "error": error,
        "notice": notice,
        "issued": issued,
    }
    return render(request, "admin_users.html", context, status=status)


def _done(store_call) -> Response:  # type: ignore[no-untyped-def]
    store_call()
    return RedirectResponse("/admin/users?done=1", status_code=303)


@router.get("")
def users(request: Request, done: int = 0, viewer: Viewer = Depends(ADMIN)) -> Response:
    return _page(request, notice="users.done" if done else None)


@router.post("")
def add_user(
    request: Request,
    name: str = Form(..., max_length=64),
    full_name: str = Form(..., max_length=200),
    role: str = Form(...),
    password: str = Form(..., max_length=1024),
    viewer: Viewer = Depends(ADMIN),
) -> Response:
    try:
        return _done(lambda: store_of(request).add(name.strip(), full_name, role, password, by=viewer.name, address=viewer.address))
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)


@router.post("/{name}/password")
def set_password(request: Request, name: str, password: str = Form(..., max_length=1024), viewer: Viewer = Depends(ADMIN)) -> Response:
    try:
        return _done(lambda: store_of(request).set_password(name, password, by=viewer.name, address=viewer.address))
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)


@router.post("/{name}/disable")
def disable(request: Request, name: str, viewer: Viewer = Depends(ADMIN)) -> Response:
    if name == viewer.name:
        return _page(request, error="users.self", status=422)
    try:
        return _done(lambda: store_of(request).set_disabled(name, True, by=viewer.name, address=viewer.address))
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)


@router.post("/{name}/enable")
def enable(request: Request, name: str, viewer: Viewer = Depends(ADMIN)) -> Response:
    try:
        return _done(lambda: store_of(request).set_disabled(name, False, by=viewer.name, address=viewer.address))
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)


@router.post("/{name}/tokens")
async def issue_token(request: Request, name: str, viewer: Viewer = Depends(ADMIN)) -> Response:
    form = await request.form()
    scopes = [value for value in form.getlist("scope") if isinstance(value, str)] or None
    label = form.get("label")
    try:
        token, secret = store_of(request).issue_token(name, label if isinstance(label, str) else "", scopes, by=viewer.name, address=viewer.address)
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)
    return _page(request, issued={"id": token.id, "name": name, "secret": secret})


@router.post("/tokens/{token_id}/revoke")
def revoke(request: Request, token_id: int, viewer: Viewer = Depends(ADMIN)) -> Response:
    try:
        return _done(lambda: store_of(request).revoke_token(token_id, by=viewer.name, address=viewer.address))
    except AccountError as exc:
        return _page(request, error=account_message(exc), status=422)
