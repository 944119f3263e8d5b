"""Grading in the console without a browser: the form beside the player, immutability, audit, the month figure."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from acd.accounts.store import AccountStore
from acd.settings import MetricsSettings, QualitySettings, RecordingSettings, RoutingSettings, Settings, WebSettings
from acd.web.app import create_app
from tests.recording_data import Recorded, seed
from tests.wall_clock import local_month

PASSWORD = "una-clave-larga-1"
FORMS = Path(__file__).resolve().parents[2] / "deploy" / "quality"
NOW = time.time()
CALLS = [Recorded("1730000001.1", "56922220001", "ana", "soporte", NOW - 60, seconds=2.0)]
#: The graded call's month on the centre's calendar (grades count in the month of their call). The pages are
#: asked for it by name: the current month is another one in a month's first minute, or once the clock has
#: crossed into the next month since this module was imported.
MONTH = local_month(CALLS[0].ts)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, AccountStore, Path]]:
    seed(tmp_path, CALLS)
    shutil.copytree(FORMS, tmp_path / "forms")
    store = AccountStore(tmp_path / "accounts.sqlite")
    for name, role in (("quinn", "qa"), ("quentin", "qa"), ("vera", "viewer"), ("sup", "supervisor")):
        store.add(name, name.title(), role, PASSWORD)
    (tmp_path / "routing.yaml").write_text(
        "skills: [soporte]\nqueues: [{name: soporte, skills: [soporte]}]\n"
        "agents: [{id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {soporte: 5}, team: norte}]\n"
    )
    settings = Settings(
        routing=RoutingSettings(config=tmp_path / "routing.yaml"),
        web=WebSettings(accounts_database=store.path, heartbeat_s=0),
        metrics=MetricsSettings(database=tmp_path / "acd.sqlite"),
        recording=RecordingSettings(local_dir=tmp_path / "recordings"),
        quality=QualitySettings(forms_dir=tmp_path / "forms", database=tmp_path / "quality.sqlite"),
    )
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        yield client, store, tmp_path


def bearer(store: AccountStore, name: str) -> dict[str, str]:
    _t, token = store.issue_token(name, "test")
    return {"Authorization": f"Bearer {token}"}


ALL_YES = {
    f"a.{item}": "yes" for item in ("saludo", "nombre", "escucha", "respuesta", "registro", "cordial", "espera", "datos", "cierre")
}


def grade(client: TestClient, auth: dict[str, str], **answers: str) -> str:
    data = {"call_id": "1730000001.1", "form_id": "atencion-telefonica", **ALL_YES, **answers}
    answer = client.post("/quality/grades", headers=auth, data=data, follow_redirects=False)
    assert answer.status_code == 303
    return answer.headers["location"]


def month_average(client: TestClient, auth: dict[str, str]) -> str:
    page = client.get(f"/quality?month={MONTH}", headers=auth).text
    return re.search(r'data-average="([^"]*)"', page).group(1)  # type: ignore[union-attr]


def test_qa_grades_beside_the_player_and_the_month_figure_moves(client: tuple[TestClient, AccountStore, Path]) -> None:
    http, store, _folder = client
    qa = bearer(store, "quinn")
    page = http.get("/recordings/1730000001.1", headers=qa).text
    assert 'id="player"' in page and 'id="grade-form"' in page and 'name="a.datos"' in page
    assert 'id="a-datos-na"' not in page  # a critical item has no "not applicable"
    assert month_average(http, qa) == ""
    where = grade(http, qa, **{"a.respuesta": "no"})
    assert "saved=1" in where and "score=70.0" in where
    assert month_average(http, qa) == "70.0"
    assert 'data-team="norte" data-score="70.0"' in http.get(f"/quality?month={MONTH}", headers=qa).text  # per team (routing's team:)
    entry = store.audit_entries(action="quality.grade")[0]
    assert (entry.who, entry.target) == ("quinn", "1730000001.1") and "70.0 %" in entry.detail
    # a correction: a new grade, the first one kept, the month now 100
    assert "error=" in grade(http, qa, corrects="1")  # without a reason: refused
    assert "saved=2" in grade(http, qa, corrects="1", reason="la respuesta era correcta")
    assert month_average(http, qa) == "100.0"
    sla = http.get(f"/sla?month={MONTH}", headers=bearer(store, "vera")).text  # the client's SLA page carries the same figure
    assert re.search(r'id="quality-bonus" data-average="100.0" data-target="[0-9.]+" data-met="yes"', sla), sla[-3000:]
    listen = http.get("/recordings/1730000001.1", headers=qa).text
    assert 'data-grade="1" data-score="70.0"' in listen and 'data-grade="2" data-score="100.0"' in listen
    assert "corrects #1" in store.audit_entries(action="quality.correct")[0].detail
    # a second grader with a failed critical item: calibration shows both; the latest counts for the month
    second = bearer(store, "quentin")
    blind = http.get("/recordings/1730000001.1", headers=second).text
    assert 'id="blind"' in blind and "data-grade=" not in blind  # the others' scores hidden until quentin grades
    grade(http, second, **{"a.datos": "no"})
    assert 'data-grade="1"' in http.get("/recordings/1730000001.1", headers=second).text
    month = http.get(f"/quality?month={MONTH}", headers=qa).text
    assert 'data-call="1730000001.1" data-spread="100.0"' in month and 'data-average="0.0"' in month


def test_who_may_grade_and_who_may_see_the_figure(client: tuple[TestClient, AccountStore, Path]) -> None:
    http, store, _folder = client
    viewer = bearer(store, "vera")
    assert 'id="grade-form"' not in http.get("/recordings/1730000001.1", headers=viewer).text
    refused = http.post("/quality/grades", headers=viewer, data={"call_id": "1730000001.1", "form_id": "atencion-telefonica", **ALL_YES})
    assert refused.status_code == 403
    assert http.get("/quality", headers=viewer).status_code == 200  # the client sees the bonus figure (view_sla)
    assert http.get("/quality", headers=bearer(store, "sup")).status_code == 200


def test_a_bad_answer_or_unknown_call_is_a_message(client: tuple[TestClient, AccountStore, Path]) -> None:
    http, store, _folder = client
    qa = bearer(store, "quinn")
    assert "not+answered" in grade(http, qa, **{"a.cierre": ""})
    assert "expected+yes" in grade(http, qa, **{"a.cierre": "maybe"})
    gone = http.post("/quality/grades", headers=qa, data={"call_id": "999.9", "form_id": "atencion-telefonica", **ALL_YES}, follow_redirects=False)
    assert "no+such+recorded+call" in gone.headers["location"]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_word_is_translated(client: tuple[TestClient, AccountStore, Path], lang: str) -> None:
    http, store, _folder = client
    http.cookies.set("acd_lang", lang)
    qa = bearer(store, "quinn")
    grade(http, qa)
    for path in ("/recordings", "/recordings/1730000001.1", "/quality"):
        page = http.get(path, headers=qa).text
        leftovers = re.findall(r">\s*((?:rec|q|nav|reports)\.[a-z_.]+)\s*<", page)
        assert leftovers == [], (path, leftovers)
