"""Quality forms and grades: positions of mistakes, weights, critical items, immutability, the month's figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from acd.cli import main
from acd.features.quality.forms import FormError, load_form
from tests.store_backends import StoreBackend
from acd.features.quality.grades import BONUS_TARGETS, GradeError, GradeStore, bonus_target, month_quality, per_grader

FORM = """\
id: demo
title: Demo
version: 2
sections:
  - name: Greeting
    weight: 20
    items:
      - {id: hello, text: Says hello}
      - {id: name, text: Says their name}
  - name: Answer
    weight: 80
    items:
      - {id: right, text: Right answer, weight: 3}
      - {id: logged, text: Logged the call}
      - {id: privacy, text: Asks no password, critical: true}
"""


@pytest.fixture
def form(tmp_path: Path):  # noqa: ANN201
    path = tmp_path / "demo.yaml"
    path.write_text(FORM)
    return load_form(path)


def test_score_weights_sections_and_items_and_skips_not_applicable(form) -> None:  # noqa: ANN001
    every = {item.id: "yes" for item in form.items}
    assert form.score(every) == (Decimal("100.0"), False)
    # greeting 1/2 -> 20 * 0.5; answer: right no (3 of 5 applicable weight lost) -> 80 * 2/5
    assert form.score({**every, "name": "no", "right": "no"}) == (Decimal("42.0"), False)
    # "na" leaves the item out: answer 4/4 of what applies
    assert form.score({**every, "logged": "na"}) == (Decimal("100.0"), False)
    assert form.score({**every, "name": "no", "logged": "na"}) == (Decimal("90.0"), False)


def test_a_failed_critical_item_zeroes_the_score(form) -> None:  # noqa: ANN001
    answers = {item.id: "yes" for item in form.items} | {"privacy": "no"}
    assert form.score(answers) == (Decimal("0.0"), True)
    assert "privacy: a critical item must be answered yes or no" in form.check_answers({**answers, "privacy": "na"})
    assert "hello: not answered" in form.check_answers({"name": "yes"})


def test_form_mistakes_are_reported_with_their_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(FORM.replace("weight: 80", "weight: -80").replace("id: logged", "id: hello").replace("critical: true", "critical: maybe"))
    with pytest.raises(FormError) as failed:
        load_form(path)
    lines = [str(p) for p in failed.value.problems]
    assert f"{path}:11:13: sections.1.weight: found -80 (an integer), expected greater than 0" in lines
    assert any(line.startswith(f"{path}:15:") and "critical" in line for line in lines)
    path.write_text(FORM.replace("id: logged", "id: hello"))
    assert [str(p) for p in pytest.raises(FormError, load_form, path).value.problems] == [
        f"{path}:14:14: item id 'hello' used twice (first at line 8, column 14)"
    ]
    assert main(["quality", "check", str(path)]) == 1
    assert "used twice" in capsys.readouterr().err


def test_the_shipped_form_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(__file__).resolve().parents[1] / "deploy" / "quality"
    assert main(["quality", "check", str(folder)]) == 0
    assert "1 form(s) valid" in capsys.readouterr().out


def test_grades_are_immutable_and_a_correction_replaces_one(store_backend: StoreBackend, form) -> None:  # noqa: ANN001
    store = GradeStore(store_backend.location)
    every = {item.id: "yes" for item in form.items}
    first = store.submit(form, call_id="1.1", call_ts=1000.0, agent="ana", queue="q", grader="qa1", answers={**every, "right": "no"})
    assert first.score == Decimal("52.0") and first.form_sha256 == form.digest
    refused = [f"UPDATE grades SET score = '100' WHERE id = {first.id}", "DELETE FROM grades"]
    refused += ["TRUNCATE grades"] if store_backend.kind == "postgresql" else []
    for sql in refused:
        assert "immutable" in store_backend.refusal(sql)
    with pytest.raises(GradeError, match="needs a reason"):
        store.submit(form, call_id="1.1", call_ts=1000.0, agent="ana", queue="q", grader="qa1", answers=every, corrects=first.id)
    with pytest.raises(GradeError, match="not a grade of call 2.2"):
        store.submit(form, call_id="2.2", call_ts=1000.0, agent="ana", queue="q", grader="qa1", answers=every, corrects=first.id, reason="x")
    fixed = store.submit(form, call_id="1.1", call_ts=1000.0, agent="ana", queue="q", grader="qa1", answers=every, corrects=first.id, reason="misheard")
    other = store.submit(form, call_id="1.1", call_ts=1000.0, agent="ana", queue="q", grader="qa2", answers={**every, "privacy": "no"})
    assert [g.id for g in store.of_call("1.1")] == [first.id, fixed.id, other.id]  # the original is still there
    standing = per_grader(store.between(0, 2000))["1.1"]
    assert {name: g.score for name, g in standing.items()} == {"qa1": Decimal("100.0"), "qa2": Decimal("0.0")}


def test_month_quality_against_the_bonus_targets(store_backend: StoreBackend, form) -> None:  # noqa: ANN001
    assert [bonus_target(n) for n in (1, 2, 3, 4, 5, 6, None)] == [*BONUS_TARGETS, Decimal(95), Decimal(95)]
    store = GradeStore(store_backend.location)
    every = {item.id: "yes" for item in form.items}
    store.submit(form, call_id="1", call_ts=10.0, agent="ana", queue="q", grader="qa1", answers=every)
    store.submit(form, call_id="2", call_ts=20.0, agent="bruno", queue="q", grader="qa1", answers={**every, "name": "no", "right": "no"})
    month = month_quality(store.between(0, 100), bonus_target(1))
    assert (month.calls, month.average, month.target, month.met) == (2, Decimal("71.0"), Decimal(75), False)
    assert [(a.agent, a.average) for a in month.agents] == [("ana", Decimal("100.0")), ("bruno", Decimal("42.0"))]
    store.submit(form, call_id="3", call_ts=30.0, agent="bruno", queue="q", grader="qa1", answers=every)
    month = month_quality(store.between(0, 100), bonus_target(1))
    assert (month.average, month.met) == (Decimal("80.7"), True)
    assert month_quality(store.between(0, 100), bonus_target(2)).met is True  # 80.7 >= 80
    assert month_quality(store.between(0, 100), bonus_target(3)).met is False  # < 85


def test_team_scores_are_the_mean_over_the_teams_graded_calls(store_backend: StoreBackend, form) -> None:  # noqa: ANN001
    store = GradeStore(store_backend.location)
    every = {item.id: "yes" for item in form.items}
    store.submit(form, call_id="1", call_ts=10.0, agent="ana", queue="q", grader="qa1", answers=every)  # 100
    store.submit(form, call_id="2", call_ts=20.0, agent="bruno", queue="q", grader="qa1", answers={**every, "name": "no", "right": "no"})  # 42
    store.submit(form, call_id="3", call_ts=30.0, agent="bruno", queue="q", grader="qa1", answers=every)  # 100
    store.submit(form, call_id="4", call_ts=40.0, agent="carla", queue="q", grader="qa1", answers=every)  # no team
    month = month_quality(store.between(0, 100), bonus_target(1), {"ana": "norte", "bruno": "norte", "dario": "sur"})
    # norte: (100 + 42 + 100) / 3 calls = 80.7, not the mean of ana's 100 and bruno's 71
    assert [(t.agent, t.calls, t.average) for t in month.teams] == [("norte", 3, Decimal("80.7"))]
    assert month_quality(store.between(0, 100), bonus_target(1)).teams == []


def test_acd_sla_reports_the_month_against_the_bonus_target(tmp_path: Path, form, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.recording_data import Recorded, seed

    ts = datetime(2026, 3, 10, 11, 0, tzinfo=ZoneInfo("America/Santiago")).timestamp()
    seed(tmp_path, [Recorded("1.5", "56900000001", "ana", "q", ts)])
    (tmp_path / "acd.yaml").write_text("metrics: {database: acd.sqlite}\nquality: {database: quality.sqlite}\n")

    def bonus(start: str) -> dict:  # type: ignore[type-arg]
        assert main(["sla", "--settings", str(tmp_path / "acd.yaml"), "--month", "2026-03", "--contract-start", start, "--json"]) == 0
        return json.loads(capsys.readouterr().out)["quality_bonus"]

    assert bonus("2026-03") == {"contract_month": 1, "graded_calls": 0, "average_score": None, "target": 75.0, "met": False, "agents": [], "teams": []}
    every = {item.id: "yes" for item in form.items}
    GradeStore(tmp_path / "quality.sqlite").submit(form, call_id="1.5", call_ts=ts, agent="ana", queue="q", grader="qa1", answers={**every, "name": "no"})
    assert bonus("2026-03")["average_score"] == 90.0 and bonus("2026-03")["met"] is True
    assert bonus("2025-11") | {"agents": []} == {"contract_month": 5, "graded_calls": 1, "average_score": 90.0, "target": 95.0, "met": False, "agents": [], "teams": []}
    assert main(["sla", "--settings", str(tmp_path / "acd.yaml"), "--month", "2026-03", "--contract-start", "2026-02"]) == 0
    assert "quality bonus: 90.0 % over 1 graded calls (target 80 %): met" in capsys.readouterr().out
