"""One's own account: change one's password (the admin's reset is only a first password)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from acd.accounts.store import AccountError, LoginRefused
from acd.web.account_errors import account_message
from acd.web.access import Viewer
from acd.web.render import render
from acd.web.session import require, store_of

router = APIRouter()


@router.get("/account")
def account(request: Request, done: int = 0, viewer: Viewer = Depends(require(None))) -> Response:
    return render(request, "account.html", {"error": None, "notice": "account.changed" if done else None})


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(..., max_length=1024),
    new: str = Form(..., max_length=1024),
    viewer: Viewer = Depends(require(None)),
) -> Response:
    """The current password is asked again (and counts toward lock-out): a session left open is not enough."""
    store = store_of(request)
    try:
        store.authenticate(viewer.name, current, viewer.address)
    except LoginRefused:
        return render(request, "account.html", {"error": "account.wrong_current", "notice": None}, status=422)
    try:
        store.set_password(viewer.name, new, by=viewer.name, address=viewer.address)
    except AccountError as exc:
        return render(request, "account.html", {"error": account_message(exc), "notice": None}, status=422)
    return RedirectResponse("/login?next=/account%3Fdone%3D1", status_code=303)  # every session ended, this one too
