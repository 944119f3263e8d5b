"""The account store's refusals speak the page's language (Spanish first), not the CLI's English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from acd.accounts.store import AccountError, AccountStore
from acd.settings import Settings, WebSettings
from acd.web.account_errors import MESSAGES, account_message
from acd.web.app import create_app
from acd.web.i18n import translate

PASSWORD = "una-clave-larga-1"


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "accounts.sqlite")
    store.add("admin1", "Ada Admin", "admin", PASSWORD)
    store.add("vera", "Vera Viewer", "viewer", PASSWORD)
    return store


@pytest.fixture
def admin(store: AccountStore) -> Iterator[TestClient]:
    settings = Settings(web=WebSettings(accounts_database=store.path))
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        client.get("/login")
        done = client.post("/login", data={"name": "admin1", "password": PASSWORD, "csrf": client.cookies.get("acd_csrf")}, follow_redirects=False)
        assert done.status_code == 303
        yield client


def _csrf(client: TestClient, page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert found is not None
    return found.group(1)


def _error(html: str) -> str:
    found = re.search(r'<p class="error" id="error" role="alert">([^<]*)</p>', html)
    assert found is not None, html[:2000]
    return found.group(1)


def test_admin_page_shows_the_stores_refusals_in_spanish_then_english(admin: TestClient) -> None:
    csrf = _csrf(admin, "/admin/users")
    short = admin.post("/admin/users/vera/password", data={"password": "corta", "csrf": csrf})
    assert short.status_code == 422
    assert _error(short.text) == "La contraseña es muy corta: al menos 10 caracteres."
    twice = admin.post("/admin/users", data={"name": "vera", "full_name": "Otra Vera", "role": "viewer", "password": PASSWORD, "csrf": csrf})
    assert _error(twice.text) == "La cuenta «vera» ya existe."
    gone = admin.post("/admin/users/tokens/999/revoke", data={"csrf": csrf})
    assert _error(gone.text) == "No hay un token vigente #999."

    admin.get("/lang/en")
    short = admin.post("/admin/users/vera/password", data={"password": "corta", "csrf": csrf})
    assert _error(short.text) == "Password too short: at least 10 characters."


def test_own_account_page_too(admin: TestClient) -> None:
    csrf = _csrf(admin, "/account")
    refused = admin.post("/account/password", data={"current": PASSWORD, "new": "corta", "csrf": csrf})
    assert refused.status_code == 422
    assert _error(refused.text) == "La contraseña es muy corta: al menos 10 caracteres."


def _refusals(store: AccountStore) -> dict[str, Callable[[], object]]:
    """One call per refusal the store can make, so every code is met at least once."""
    return {
        "name_invalid": lambda: store.add("No Vale", "X", "viewer", PASSWORD),
        "password_short": lambda: store.add("nuevo", "X", "viewer", "corta"),
        "password_long": lambda: store.add("nuevo", "X", "viewer", "x" * 2000),
        "role_unknown": lambda: store.add("nuevo", "X", "jefe", PASSWORD),
        "scope_unknown": lambda: store.issue_token("vera", "x", ["volar"]),
        "scope_beyond": lambda: store.issue_token("vera", "x", ["manage_users"]),
        "scope_none": lambda: store.issue_token("vera", "x", []),
        "store_missing": lambda: AccountStore(store.path.parent / "nada.sqlite", create=False),
        "full_name_required": lambda: store.add("nuevo", " ", "viewer", PASSWORD),
        "account_exists": lambda: store.add("vera", "X", "viewer", PASSWORD),
        "account_unknown": lambda: store.get("nadie"),
        "token_unknown": lambda: store.revoke_token(12345),
    }


def test_every_refusal_of_the_store_has_its_own_words_in_both_languages(store: AccountStore) -> None:
    for code, call in _refusals(store).items():
        with pytest.raises(AccountError) as caught:
            call()
        assert caught.value.code == code
        message = account_message(caught.value)
        spanish, english = translate("es", message), translate("en", message)
        assert message.key == f"account_error.{code}" and "{" not in spanish and "{" not in english
        assert spanish != english
    codes = {key.removeprefix("account_error.") for key in MESSAGES["es"]} - {"other"}
    assert codes == set(_refusals(store)), "a code with words but no refusal, or the reverse"
    assert set(MESSAGES["es"]) == set(MESSAGES["en"])


def test_a_refusal_without_a_code_still_shows() -> None:
    message = account_message(AccountError("something new"))
    assert translate("es", message) == "Operación rechazada: something new"
