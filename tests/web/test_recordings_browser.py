"""Recordings in a real browser: found by number and agent, played to its end, rights, audit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.recording_data import Recorded, around_now, seed
from tests.wall_clock import local_month
from tests.web.conftest import Console

NOW = time.time()
CALLS = [
    Recorded("1710000001.7", "56977770000", "ana", "soporte", NOW - 120, seconds=5.0),
    Recorded("1710000002.8", "56955550000", "bruno", "soporte", NOW - 60, seconds=0.0),  # header only
]
#: The month of ana's call on the centre's calendar, where its grade counts: not the current month in a
#: month's first minutes, or once the clock has crossed into the next month since this module was imported.
MONTH = local_month(CALLS[0].ts)
FORMS = Path(__file__).resolve().parents[2] / "deploy" / "quality"
SETTINGS = f"metrics: {{database: acd.sqlite}}\nrecording: {{local_dir: recordings}}\nquality: {{forms_dir: {FORMS}, database: quality.sqlite}}\n"


@pytest.fixture(scope="module")
def recorded(start_console: Callable[..., Console]) -> Console:
    console = start_console(extra=SETTINGS, heartbeat_s=0)
    seed(console.database.parent, CALLS)
    return console


def test_a_viewer_finds_a_call_by_number_and_agent_and_plays_it_to_the_end(page: Any, recorded: Console, login_as: Callable[..., Any]) -> None:
    login_as(page, recorded, "viewer")
    page.click('nav a[href="/recordings"]')
    dates = around_now()  # without dates: this week, which a run on Monday at 00:10 would miss
    page.fill("#rec-from", dates["from"])
    page.fill("#rec-to", dates["to"])
    page.fill("#rec-number", "+56 9 7777 0000")
    page.fill("#rec-agent", "ana")
    page.click("#rec-submit")
    rows = page.locator("#recordings tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-call") == "1710000001.7"
    assert "0000" not in rows.first.locator(".caller").inner_text()  # masked for a role without personal data
    rows.first.locator("a.listen").click()
    page.wait_for_selector("#player")
    duration = page.evaluate(
        """() => new Promise((done, fail) => {
            const a = document.getElementById('player');
            const go = () => { a.muted = true; a.currentTime = Math.max(0, a.duration - 1.5); a.play().catch(fail); };
            a.addEventListener('ended', () => done([a.duration, a.currentTime]));
            a.addEventListener('error', () => fail(new Error('media error ' + (a.error && a.error.code))));
            if (a.readyState >= 1) go(); else a.addEventListener('loadedmetadata', go);
        })"""
    )
    assert duration[0] == pytest.approx(5.0, abs=0.1) and duration[1] == pytest.approx(duration[0], abs=0.05)
    assert page.locator("#download").count() == 0  # viewers play, they do not download


def test_the_header_only_recording_is_flagged(page: Any, recorded: Console, login_as: Callable[..., Any]) -> None:
    login_as(page, recorded, "supervisor")
    page.goto(recorded.url + "/recordings?agent=bruno&from={from}&to={to}".format(**around_now()))
    row = page.locator('#recordings tr[data-call="1710000002.8"]')
    assert row.get_attribute("data-flags") == "empty" and row.locator(".flag-empty").count() == 1


def test_an_agent_is_refused_and_the_play_is_in_the_audit_log(page: Any, recorded: Console, login_as: Callable[..., Any]) -> None:
    login_as(page, recorded, "agent")
    assert page.locator('nav a[href="/recordings"]').count() == 0
    answer = page.goto(recorded.url + "/recordings/1710000001.7/audio")
    assert answer is not None and answer.status == 403
    page.context.clear_cookies()
    login_as(page, recorded, "admin")
    page.goto(recorded.url + "/admin/audit?action=recordings.play")
    entries = page.locator("#audit tbody tr")
    assert entries.count() >= 1
    viewer = recorded.users["viewer"][0]
    assert entries.first.get_attribute("data-who") == viewer
    assert "1710000001.7" in entries.first.inner_text() and "127.0.0.1" in entries.first.inner_text()


def test_qa_grades_while_listening_and_the_month_figure_changes(page: Any, recorded: Console, login_as: Callable[..., Any]) -> None:
    login_as(page, recorded, "qa")
    page.goto(f"{recorded.url}/quality?month={MONTH}")
    assert page.locator("#quality-month").get_attribute("data-average") == ""
    page.goto(recorded.url + "/recordings/1710000001.7")
    page.evaluate("() => { const a = document.getElementById('player'); a.muted = true; return a.play(); }")
    for item in page.locator("#grade-form .item").all():
        item.locator("input[value=yes]").check()
    page.check("#a-respuesta-no")
    page.fill("#grade-comment", "respuesta incompleta")
    page.click("#grade-submit")
    assert "70.0" in page.locator("#grade-saved").inner_text()
    assert page.locator('#grades tr[data-grader="qa1"]').get_attribute("data-score") == "70.0"
    page.goto(f"{recorded.url}/quality?month={MONTH}")
    figure = page.locator("#quality-month")
    assert figure.get_attribute("data-average") == "70.0" and figure.get_attribute("data-met") == "no"
    assert page.locator('#quality-agents tr[data-agent="ana"]').get_attribute("data-score") == "70.0"
