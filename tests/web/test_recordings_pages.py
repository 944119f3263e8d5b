"""The recordings pages without a browser: search filters, masking, Range answers, rights, audit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from acd.accounts.store import AccountStore
from acd.settings import MetricsSettings, RecordingSettings, Settings, WebSettings
from acd.web.app import create_app
from urllib.parse import urlencode

from tests.recording_data import Recorded, around_now, seed

PASSWORD = "una-clave-larga-1"
DATES = urlencode(around_now())  # without dates a search covers this week: a test run on Monday at 00:30 would miss them
NOW = time.time()
CALLS = [
    Recorded("1700000001.1", "56912345678", "ana", "soporte", NOW - 3600, seconds=4.0, disposition="consulta"),
    Recorded("1700000002.2", "56987654321", "bruno", "ventas", NOW - 1800, seconds=2.0, disposition="reclamo"),
    Recorded("1700000003.3", "56911112222", "ana", "soporte", NOW - 600, seconds=0.0),  # header only
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recorded")
    seed(folder, CALLS)
    return folder


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "accounts.sqlite")
    for name, role in (("sup", "supervisor"), ("vera", "viewer"), ("quinn", "qa"), ("agata", "agent")):
        store.add(name, name.title(), role, PASSWORD)
    return store


@pytest.fixture
def client(store: AccountStore, folder: Path) -> Iterator[TestClient]:
    settings = Settings(
        web=WebSettings(accounts_database=store.path, heartbeat_s=0),
        metrics=MetricsSettings(database=folder / "acd.sqlite"),
        recording=RecordingSettings(local_dir=folder / "recordings"),
    )
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        yield client


def bearer(store: AccountStore, name: str) -> dict[str, str]:
    _t, token = store.issue_token(name, "test")
    return {"Authorization": f"Bearer {token}"}


def listed(html: str) -> list[str]:
    return [call.call_id for call in CALLS if f'data-call="{call.call_id}"' in html]


def test_search_by_agent_number_and_call_id_flags_the_empty_one(client: TestClient, store: AccountStore) -> None:
    auth = bearer(store, "sup")
    assert listed(client.get(f"/recordings?{DATES}", headers=auth).text) == [c.call_id for c in CALLS]
    assert listed(client.get(f"/recordings?{DATES}&agent=ana", headers=auth).text) == ["1700000001.1", "1700000003.3"]
    assert listed(client.get(f"/recordings?{DATES}&queue=ventas", headers=auth).text) == ["1700000002.2"]
    assert listed(client.get(f"/recordings?{DATES}&number=%2B56%209%201234%205678", headers=auth).text) == ["1700000001.1"]
    assert listed(client.get(f"/recordings?{DATES}&call=1700000002.2", headers=auth).text) == ["1700000002.2"]
    by_code = client.get(f"/recordings?{DATES}&disposition=reclamo", headers=auth).text
    assert listed(by_code) == ["1700000002.2"] and 'data-disposition="reclamo"' in by_code  # the agent's wrap-up code
    page = client.get(f"/recordings?{DATES}&agent=ana", headers=auth).text
    assert 'data-call="1700000003.3" data-flags="empty"' in page and 'data-call="1700000001.1" data-flags=""' in page
    assert "*******5678" in page  # a supervisor sees the masked number, never the whole one
    assert "12345678" not in page
    assert {e.who for e in store.audit_entries(action="recordings.list")} == {"sup"}  # lists showing callers are audited
    searched = store.audit_entries(action="recordings.search")
    assert searched and searched[0].who == "sup" and searched[0].target.endswith("5678") and "12345678" not in searched[0].target


def test_a_viewer_without_personal_data_sees_no_number(client: TestClient, store: AccountStore) -> None:
    page = client.get(f"/recordings?{DATES}", headers=bearer(store, "vera")).text
    assert "5678" not in page and listed(page) == [c.call_id for c in CALLS]
    assert store.audit_entries(action="recordings.list") == []  # no caller shown, nothing to audit


def test_bad_input_is_a_message_not_a_traceback(client: TestClient, store: AccountStore) -> None:
    auth = bearer(store, "sup")
    for query, words in (("number=abc", "no tiene dígitos"), ("from=ayer&to=hoy", "Fecha no válida"), ("call=../../etc", "no válido")):
        answer = client.get(f"/recordings?{query}", headers=auth)
        assert answer.status_code == 200 and words in answer.text, query
    assert client.get("/recordings/..%2F..%2Fetc%2Fpasswd/audio", headers=auth).status_code == 404
    assert client.get("/recordings/nope.1", headers=auth).status_code == 404


def test_audio_answers_ranges_and_audits_one_play_not_every_seek(client: TestClient, store: AccountStore, folder: Path) -> None:
    auth = bearer(store, "vera")
    stored = folder / "recordings" / "1700000001.1.opus"
    whole = stored.read_bytes()
    first = client.get("/recordings/1700000001.1/audio", headers={**auth, "Range": "bytes=0-"})
    assert first.status_code == 206 and first.headers["content-type"] == "audio/ogg" and first.content == whole
    seek = client.get("/recordings/1700000001.1/audio", headers={**auth, "Range": "bytes=100-199"})
    assert seek.status_code == 206 and seek.content == whole[100:200]
    assert seek.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    plays = store.audit_entries(action="recordings.play")
    assert [(e.who, e.target, e.address) for e in plays] == [("vera", "1700000001.1", "testclient")]


def test_rights_per_role(client: TestClient, store: AccountStore) -> None:
    assert client.get("/recordings/1700000001.1/audio", headers=bearer(store, "agata")).status_code == 403
    assert client.get("/recordings", headers=bearer(store, "agata")).status_code == 403
    assert client.get("/recordings/1700000001.1/download", headers=bearer(store, "vera")).status_code == 403
    got = client.get("/recordings/1700000001.1/download", headers=bearer(store, "quinn"))
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert [(e.who, e.target) for e in store.audit_entries(action="recordings.download")] == [("quinn", "1700000001.1")]


def test_the_listen_page_shows_the_timeline_and_checksum(client: TestClient, store: AccountStore, folder: Path) -> None:
    import hashlib

    page = client.get("/recordings/1700000001.1", headers=bearer(store, "sup")).text
    digest = hashlib.sha256((folder / "recordings" / "1700000001.1.opus").read_bytes()).hexdigest()
    assert digest in page and 'id="player"' in page
    assert 'data-type="call.answered"' in page and 'data-type="recording.finished"' in page
