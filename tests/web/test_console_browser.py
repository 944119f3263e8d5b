"""The console in a real browser: each role sees and reaches only what it may; login
throttling, CSRF, idle expiry and the audit log hold against a real ``acd web``."""

from __future__ import annotations

import time

import pytest

from acd.web.access import ROLES, Viewer
from acd.web.pages import discover

from .conftest import login

pytestmark = pytest.mark.timeout(120)
NAV = discover()[1]


def _nav_paths(page) -> list[str]:
    return [link.get_attribute("href") for link in page.locator("header nav a").all()]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_and_reaches_only_what_it_may(page, console, login_as, role: str) -> None:
    login_as(page, console, role)
    viewer = Viewer("x", role, "")
    allowed = [item.path for item in NAV if item.permission is None or viewer.may(item.permission)]
    assert _nav_paths(page) == allowed
    # Admin pages: on the bar for admins only, and reachable by admins only.
    assert ("/admin/users" in allowed) == (role == "admin")
    for item in NAV:
        response = page.goto(console.url + item.path)
        if item.path in allowed:
            assert response.status == 200, (role, item.path)
        else:
            assert response.status == 403, (role, item.path)
            assert page.locator("#error").is_visible()


def test_viewer_cannot_act_on_admin_pages_even_with_a_valid_form_token(page, console, login_as) -> None:
    login_as(page, console, "viewer")
    token = page.locator("body").get_attribute("data-csrf")
    response = page.request.post(console.url + "/admin/users/agent1/disable", form={"csrf": token})
    assert response.status == 403
    assert not console.store().get("agent1").disabled


def test_lock_out_after_repeated_failures_even_with_the_right_password(page, console) -> None:
    store = console.store()
    store.add("locky", "Cuenta Bloqueable", "viewer", "locky-secreto-1", by="test")
    for _ in range(3):  # lockout_failures: 3
        login(page, console, "locky", "wrong-password")
        assert page.locator("#error").inner_text() == "Usuario o contraseña incorrectos."
    login(page, console, "locky", "locky-secreto-1")
    assert "Demasiados intentos fallidos" in page.locator("#error").inner_text()
    assert page.locator("[data-viewer]").count() == 0
    assert store.get("locky").locked_until > time.time()
    # Another account from the same address is not locked by locky's failures.
    name, password = console.users["supervisor"]
    login(page, console, name, password)
    assert page.locator(f'[data-viewer="{name}"]').count() == 1


def test_post_without_csrf_token_is_refused(page, console, login_as) -> None:
    login_as(page, console, "admin")
    refused = page.request.post(console.url + "/admin/users/agent1/disable", form={})
    assert refused.status == 403
    wrong = page.request.post(console.url + "/admin/users/agent1/disable", form={"csrf": "not-the-token"})
    assert wrong.status == 403
    assert not console.store().get("agent1").disabled
    # The login form is covered too (pre-session double-submit token).
    name, password = console.users["admin"]
    assert page.request.post(console.url + "/login", form={"name": name, "password": password}).status == 403
    # With the page's token the same request goes through: the check is the token, not the route.
    token = page.locator("body").get_attribute("data-csrf")
    done = page.request.post(console.url + "/admin/users/qa1/disable", form={"csrf": token}, max_redirects=0)
    assert done.status == 303
    assert console.store().get("qa1").disabled
    console.store().set_disabled("qa1", False, by="test")


def test_idle_session_sends_back_to_login(page, start_console, login_as) -> None:
    short = start_console(session_idle_s=2)
    login_as(page, short, "supervisor")
    assert page.goto(short.url + "/").status == 200
    time.sleep(2.5)
    page.goto(short.url + "/")
    assert "/login" in page.url and "expired=1" in page.url
    assert "expiró" in page.locator("#message").inner_text()
    assert page.locator("[data-viewer]").count() == 0


def test_audit_shows_logins_and_failed_logins(page, console, login_as) -> None:
    name, _password = console.users["qa"]
    login(page, console, name, "not-my-password")
    login_as(page, console, "admin")
    page.goto(console.url + "/admin/audit")
    failed = page.locator(f'#audit tr[data-action="login.failed"][data-who="{name}"]')
    assert failed.count() >= 1
    assert "wrong password" in failed.first.inner_text()
    admin = console.users["admin"][0]
    assert page.locator(f'#audit tr[data-action="login"][data-who="{admin}"]').count() >= 1


def test_admin_adds_a_user_who_logs_in_and_is_shut_out_when_disabled(browser, page, console, login_as) -> None:
    login_as(page, console, "admin")
    page.goto(console.url + "/admin/users")
    form = page.locator("#add-user")
    form.locator('[name="name"]').fill("nueva")
    form.locator('[name="full_name"]').fill("Nueva Persona")
    form.locator('[name="role"]').select_option("viewer")
    form.locator('[name="password"]').fill("nueva-secreta-1")
    form.locator('button[type="submit"]').click()
    page.wait_for_url("**/admin/users?done=*")
    page.locator('#users tr[data-user="nueva"]').wait_for()  # the redirected page may still be loading
    assert page.locator('#users tr[data-user="nueva"]').count() == 1
    other = browser.new_context().new_page()
    login(other, console, "nueva", "nueva-secreta-1")
    assert other.locator('[data-viewer="nueva"]').count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#users tr[data-user="nueva"] button.disable').click()
    page.wait_for_load_state()
    assert "deshabilitado" in page.locator('#users tr[data-user="nueva"] .state').inner_text()
    other.reload()
    assert "/login" in other.url
    other.context.close()


def test_language_switch_and_security_headers(page, console, login_as) -> None:
    login_as(page, console, "viewer")
    assert "Inicio" in _nav_text(page)
    page.click('a[data-lang="en"]')
    assert "Home" in _nav_text(page)
    response = page.goto(console.url + "/")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"] and "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["acd_session"]["httpOnly"] and cookies["acd_session"]["sameSite"] == "Strict"


def _nav_text(page) -> str:
    return page.locator("header nav").inner_text()


def test_admin_issues_a_scoped_token_shown_once_and_revokes_it(page, console, login_as) -> None:
    import httpx

    login_as(page, console, "admin")
    page.goto(console.url + "/admin/users")
    row = page.locator('#users tr[data-user="supervisor1"]')
    row.locator("details summary").click()
    row.locator('[name="label"]').fill("pantalla")
    row.locator('input[name="scope"][value="view_live"]').check()
    row.locator("button.issue").click()
    secret = page.locator("#token-secret").inner_text().strip()
    assert secret.startswith("acd_")
    assert secret not in page.goto(console.url + "/admin/users").text()  # shown once
    token = page.locator('#users tr[data-user="supervisor1"] li[data-token]').last
    assert "pantalla" in token.inner_text() and "view_live" in token.inner_text()
    as_token = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    assert httpx.get(console.url + "/", headers=as_token).status_code == 200
    token.locator("button.revoke").click()
    page.wait_for_load_state()
    assert httpx.get(console.url + "/", headers=as_token).status_code == 401
    actions = [e.action for e in console.store().audit_entries(who="admin1", limit=10)]
    assert "token.issue" in actions and "token.revoke" in actions


def test_a_person_changes_their_own_password_with_the_current_one(page, console) -> None:
    console.store().add("cambia", "Persona Que Cambia", "agent", "primera-clave-1", by="test")
    login(page, console, "cambia", "primera-clave-1")
    page.click('a[href="/account"]')
    page.fill("#current", "no-es-la-actual")
    page.fill("#new", "segunda-clave-2")
    page.click("#change")
    assert page.locator("#error").is_visible()
    page.fill("#current", "primera-clave-1")
    page.fill("#new", "segunda-clave-2")
    page.click("#change")
    page.wait_for_load_state()
    assert "/login" in page.url  # every session of the account ended, this one too
    login(page, console, "cambia", "primera-clave-1")
    assert page.locator("#error").is_visible()
    login(page, console, "cambia", "segunda-clave-2")
    assert page.locator('[data-viewer="cambia"]').count() == 1
