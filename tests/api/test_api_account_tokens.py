"""People's own API tokens (``acd user token``) on the engine's API, beside ``ACD_API_TOKEN``.

The served engine reads the account store named by ``web.accounts_database``, read-only:
a token reaches what its account's role and scopes permit (else 403), a revoked token or
a disabled account is refused at once (401), and ``ACD_API_TOKEN`` keeps the whole reach.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
from pydantic import SecretStr

from acd.accounts.store import AccountStore
from acd.settings import StoreSettings, WebSettings
from tests.api.helpers import TOKEN, EngineThread, free_port, make_settings
from tests.store_backends import StoreBackend


@pytest.fixture
def served(tmp_path: Path, store_backend: StoreBackend) -> Iterator[tuple[EngineThread, AccountStore]]:
    """The engine reading people's tokens from a file, then from the shared PostgreSQL of ``store.url``."""
    settings = make_settings(tmp_path, api_port=free_port())
    if store_backend.kind == "sqlite":
        store = AccountStore(tmp_path / "accounts.sqlite")
        settings = settings.model_copy(update={"web": WebSettings(accounts_database=store.path)})
    else:
        store = AccountStore(store_backend.location)
        update = {"store": StoreSettings(url=SecretStr(str(store_backend.location))), "web": WebSettings(accounts_database=tmp_path / "none.sqlite")}
        settings = settings.model_copy(update=update)
    running = EngineThread(settings).start()
    yield running, store
    running.stop()


def _get(engine: EngineThread, method: str, path: str, token: str) -> httpx.Response:
    return httpx.request(method, engine.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_person_tokens_reach_what_their_role_and_scopes_permit(served: tuple[EngineThread, AccountStore]) -> None:
    engine, store = served
    store.add("vera", "Vera Viewer", "viewer", "vera-secreta-1")
    store.add("sam", "Sam Supervisor", "supervisor", "sam-secreto-1")
    _t, viewer_token = store.issue_token("vera", "wall")
    _t, supervisor_token = store.issue_token("sam", "ops")
    narrowed, narrow_token = store.issue_token("sam", "wall only", ["view_live"])

    assert _get(engine, "GET", "/api/queues", viewer_token).status_code == 200
    assert _get(engine, "GET", "/api/calls", viewer_token).status_code == 200
    refused = _get(engine, "POST", "/api/agents/ana/login", viewer_token)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert engine.call(lambda: engine.app.router.agent("ana").state) == "logged_out"

    assert _get(engine, "POST", "/api/agents/ana/login", supervisor_token).status_code == 200
    assert _get(engine, "POST", "/api/routing/reload", supervisor_token).status_code == 403  # automation's only
    assert _get(engine, "GET", "/api/queues", narrow_token).status_code == 200
    assert _get(engine, "GET", "/api/calls", narrow_token).status_code == 403  # scope narrower than the role

    store.revoke_token(narrowed.id)
    assert _get(engine, "GET", "/api/queues", narrow_token).status_code == 401
    store.set_disabled("vera", True)
    assert _get(engine, "GET", "/api/queues", viewer_token).status_code == 401
    assert _get(engine, "GET", "/api/queues", "acd_not-a-token").status_code == 401
    assert _get(engine, "POST", "/api/routing/reload", TOKEN).status_code == 200  # ACD_API_TOKEN: the admin's reach
