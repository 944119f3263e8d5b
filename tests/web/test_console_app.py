"""The console app without a browser: identity from cookie or token, JSON refusals, redirects, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from acd.accounts.store import AccountStore
from acd.settings import Settings, WebSettings
from acd.web.access import Viewer
from acd.web.app import create_app
from acd.web.pages import NavItem
from acd.web.pages.auth import local_path
from acd.web.session import audit

PASSWORD = "una-clave-larga-1"


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "accounts.sqlite")
    store.add("admin1", "Ada Admin", "admin", PASSWORD)
    store.add("vera", "Vera Viewer", "viewer", PASSWORD)
    return store


@pytest.fixture
def client(store: AccountStore) -> Iterator[TestClient]:
    settings = Settings(web=WebSettings(accounts_database=store.path))
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_pages_send_strangers_to_login_and_json_gets_401(client: TestClient) -> None:
    page = client.get("/admin/audit?who=x", follow_redirects=False, headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/admin/audit%3Fwho%3Dx"
    data = client.get("/admin/audit", headers={"Accept": "application/json"})
    assert data.status_code == 401 and data.json()["error"] == "unauthorized"


def test_person_tokens_are_viewers_with_their_scopes(client: TestClient, store: AccountStore) -> None:
    _t, admin_token = store.issue_token("admin1", "script")
    _t, narrow_token = store.issue_token("admin1", "wall", ["view_live"])
    _t, viewer_token = store.issue_token("vera", "wall")
    assert client.get("/admin/audit", headers=_bearer(admin_token)).status_code == 200
    for token in (narrow_token, viewer_token):
        refused = client.get("/admin/audit", headers=_bearer(token))
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert client.get("/admin/audit", headers=_bearer("acd_wrong")).status_code == 401
    # A bearer request carries no cookie a third-party page could ride on: no CSRF token needed.
    added = client.post("/admin/users", headers=_bearer(admin_token), follow_redirects=False,
                        data={"name": "nuevo", "full_name": "Nuevo", "role": "qa", "password": PASSWORD})
    assert added.status_code == 303 and store.get("nuevo").role == "qa"
    assert store.audit_entries(action="user.add")[0].who == "admin1"


def test_security_headers_on_pages_and_static_files(client: TestClient) -> None:
    page = client.get("/login")
    static = client.get("/static/console.css")
    assert static.status_code == 200
    for response in (page, static):
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    assert "<script>" not in page.text and " style=" not in page.text


def test_secure_cookies_when_configured(store: AccountStore) -> None:
    settings = Settings(web=WebSettings(accounts_database=store.path, secure_cookies=True))
    with TestClient(create_app(settings, accounts=store), base_url="https://127.0.0.1") as client:
        form = client.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        assert form.headers["strict-transport-security"].startswith("max-age=")
        csrf = client.cookies.get("acd_csrf")
        done = client.post("/login", data={"name": "vera", "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303
        assert "Secure" in done.headers["set-cookie"] and "acd_session=" in done.headers["set-cookie"]


def test_login_redirect_stays_on_this_site() -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""):
        assert local_path(target) == "/"
    assert local_path("/admin/audit?who=a") == "/admin/audit?who=a"


def test_audit_helper_names_the_viewer_and_address(store: AccountStore) -> None:
    audit(Viewer("vera", "viewer", "10.1.2.3"), "calls.view_numbers", "ventas", "3 calls", store=store)
    entry = store.audit_entries(limit=1)[0]
    assert (entry.who, entry.action, entry.target, entry.address, entry.detail) == ("vera", "calls.view_numbers", "ventas", "10.1.2.3", "3 calls")
    with pytest.raises(ValueError):
        audit(Viewer("vera", "viewer", ""), "x")


def test_nav_items_name_real_permissions() -> None:
    with pytest.raises(KeyError):
        NavItem("/x", "nav.x", "view_everything")


def test_a_shared_store_that_stops_answering_is_a_503_line_not_a_traceback(postgres, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    from acd.lab.mosquitto import free_port
    from acd.metrics.store_url import parse_store_url
    from tests.store_backends import postgres_backend

    url = str(postgres_backend(postgres).location)
    store = AccountStore(url)
    store.add("admin1", "Ada Admin", "admin", PASSWORD)
    settings = Settings(web=WebSettings(accounts_database=Path("unused.sqlite")))
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        client.get("/login")
        csrf = client.cookies.get("acd_csrf")
        form = {"name": "admin1", "password": PASSWORD, "csrf": csrf}
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        store.db.location = parse_store_url(url.replace(f":{postgres.port}/", f":{free_port()}/"))  # the server goes away
        page = client.post("/login", data=form, headers={"Accept": "text/html"})
        data = client.get("/admin/audit", headers={"Accept": "application/json", "Authorization": "Bearer acd_x"})
    assert page.status_code == 503 and "Traceback" not in page.text and postgres.password not in page.text
    assert data.status_code in (401, 503)  # a bearer look-up of a store that is down finds no token
    assert any("console store unavailable" in r.getMessage() and postgres.password not in r.getMessage() for r in caplog.records)
