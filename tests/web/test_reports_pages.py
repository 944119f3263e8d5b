"""Reports, SLA and incident pages in a real browser against a real ``acd web``.

The console's metrics store gets two simulated business days (the engine's Router and
``outcome_to_event``, ``acd.bench.reports``); the page, its CSV and ``acd report``'s JSON
must agree, an incident recorded in the console must show on the SLA page, and a client
viewer can read the incident log but not change it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from acd.base.events import Event
from acd.bench.reports import simulate_day, write_store

pytestmark = pytest.mark.timeout(180)
RANGE = {"from": "2026-03-02T00:00", "to": "2026-03-04T00:00"}


@pytest.fixture(scope="module")
def data_console(start_console):
    """A console whose metrics store holds 2-3 March 2026, callers with masked numbers."""
    console = start_console()
    days = [simulate_day(day, 160, seed) for seed, day in enumerate((date(2026, 3, 2), date(2026, 3, 3)))]
    for events in days:
        events.extend(
            Event(type="call.started", ts=e.ts - 30.0, call_id=e.call_id, data={"caller": "*******" + e.call_id[-4:].rjust(4, "0"), "caller_ref": "ref-" + e.call_id})
            for e in list(events) if e.type == "call.queued"
        )
        events.sort(key=lambda e: e.ts)
    path = console.database.parent / "var" / "acd.sqlite"
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop running in this thread
        pool.submit(asyncio.run, write_store(path, days)).result()
    return console


def _acd(console, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "acd", *args, "--settings", str(console.database.parent / "acd.yaml")],
        capture_output=True, text=True, timeout=120, cwd=console.database.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shown(value) -> str:
    return "-" if value is None else str(value)


def test_a_report_page_and_its_csv_equal_acd_report(page, data_console, login_as) -> None:
    login_as(page, data_console, "viewer")
    query = f"from={RANGE['from']}&to={RANGE['to']}&interval=60&by=queue"
    page.goto(f"{data_console.url}/reports?{query}")
    expected = json.loads(_acd(data_console, "report", "--from", "2026-03-02", "--to", "2026-03-04", "--interval", "60", "--by", "queue", "--format", "json"))
    assert expected["total"]["offered"] > 100 and len(expected["intervals"]) == 48
    table = page.locator("#report")
    rows = table.locator("tbody tr.row")
    assert rows.count() == 48
    checked = 0
    for index, interval in enumerate(expected["intervals"]):
        row = table.locator(f'tbody tr.row[data-row="{index}"]')
        assert row.get_attribute("data-label") == interval["label"]
        cells = row.locator("td[data-field]")
        shown = {cells.nth(i).get_attribute("data-field"): cells.nth(i).inner_text() for i in range(cells.count())}
        assert shown == {key: _shown(interval[key]) for key in shown}
        for name, figures in interval.get("groups", {}).items():
            group = table.locator(f'tbody tr.group[data-label="{interval["label"]}"][data-group="{name}"] td[data-field="service_level"]')
            assert group.inner_text() == _shown(figures["service_level"])
            checked += 1
    assert checked > 10
    totals = table.locator('tfoot tr.total[data-group=""] td[data-field]')
    assert {totals.nth(i).get_attribute("data-field"): totals.nth(i).inner_text() for i in range(totals.count())} == {
        totals.nth(i).get_attribute("data-field"): _shown(expected["total"][totals.nth(i).get_attribute("data-field")]) for i in range(totals.count())
    }
    # the chart: one bar per hour with calls, a tooltip each
    assert page.locator("#report-chart rect.bar title").count() == sum(1 for i in expected["intervals"] if i["offered"]) + 0
    # CSV: byte for byte what acd report --format csv prints
    href = page.locator("#export-csv").get_attribute("href")
    csv_text = page.request.get(data_console.url + href).text()
    assert csv_text == _acd(data_console, "report", "--from", "2026-03-02", "--to", "2026-03-04", "--interval", "60", "--by", "queue", "--format", "csv")
    total_line = [line for line in csv.DictReader(io.StringIO(csv_text)) if line["row"] == "total" and not line["group"]][0]
    assert int(total_line["offered"]) == expected["total"]["offered"]
    # XLSX: the same lines, numbers as numbers
    from openpyxl import load_workbook

    xlsx = page.request.get(data_console.url + page.locator("#export-xlsx").get_attribute("href"))
    assert xlsx.status == 200
    sheet = load_workbook(io.BytesIO(xlsx.body())).active
    assert sheet.max_row == len(csv_text.strip().splitlines())
    header = [c.value for c in sheet[1]]
    last = {header[i]: c.value for i, c in enumerate(sheet[sheet.max_row - len(expected["total"]["groups"])])}
    assert last["row"] == "total" and last["offered"] == expected["total"]["offered"]


def test_quick_periods_are_one_click_away_and_bad_input_is_a_message(page, data_console, login_as) -> None:
    login_as(page, data_console, "viewer")
    page.goto(data_console.url + "/reports")
    for period in ("today", "yesterday", "this-week", "this-month"):
        page.click(f'.quick a[data-period="{period}"]')
        assert page.locator(f'.quick a[data-period="{period}"]').get_attribute("aria-current") == "page"
        assert page.locator("#report").count() == 1
    response = page.goto(data_console.url + "/reports?from=2026-03-05&to=2026-03-01")
    assert response.status == 400 and "vacío" in page.locator("#error").inner_text()


def test_drill_down_lists_the_calls_of_an_interval_masked_for_a_viewer(page, data_console, login_as) -> None:
    login_as(page, data_console, "viewer")
    page.goto(f"{data_console.url}/reports?from={RANGE['from']}&to={RANGE['to']}&interval=60")
    row = page.locator('#report tbody tr.row[data-label="2026-03-02 10:00"]')
    offered = int(row.locator('td[data-field="offered"]').inner_text())
    assert offered > 0
    row.locator("a.drill").click()
    assert page.locator("#calls tbody tr").count() == offered
    assert page.locator("#calls .masked").count() == offered and "*******" not in page.locator("#calls").inner_text()
    page.click("#back")
    assert page.locator("#report").count() == 1
    # a supervisor sees the (engine-masked) numbers, and that access is audited
    supervisor = page.context.browser.new_context().new_page()
    login_as(supervisor, data_console, "supervisor")
    supervisor.goto(f"{data_console.url}/reports?from={RANGE['from']}&to={RANGE['to']}&interval=60")
    supervisor.locator('#report tbody tr.row[data-label="2026-03-02 10:00"] a.drill').click()
    assert supervisor.locator("#calls .masked").count() == 0 and "*******" in supervisor.locator("#calls").inner_text()
    assert data_console.store().audit_entries(action="reports.calls", who=data_console.users["supervisor"][0])
    supervisor.context.close()


def test_an_incident_added_in_the_console_shows_on_the_sla_page(page, data_console, login_as) -> None:
    login_as(page, data_console, "supervisor")
    page.goto(data_console.url + "/incidents?month=2026-03")
    page.fill("#incident-start", "2026-03-03T10:00")
    page.fill("#incident-end", "2026-03-03T11:30")
    page.select_option("#incident-severity", "high")
    page.fill("#incident-text", "Caída del enlace SIP (prueba)")
    page.click("#incident-submit")
    assert "registrado" in page.locator("#notice").inner_text()
    row = page.locator("#incidents tbody tr", has_text="Caída del enlace SIP (prueba)")
    incident_id = row.get_attribute("data-incident")
    assert row.get_attribute("data-severity") == "high"
    page.goto(data_console.url + "/sla?month=2026-03")
    assert "Caída del enlace SIP (prueba)" in page.locator(f'#sla-incidents li[data-incident="{incident_id}"]').inner_text()
    assert page.locator('#sla-days tr[data-day="2026-03-03"]').get_attribute("class") == "has-incident"
    assert page.locator("#sla-chart rect.incident").count() == 1
    # every line acd sla computes, with its figure
    expected = json.loads(_acd(data_console, "sla", "--month", "2026-03", "--json"))
    assert page.locator('#sla-totals li[data-field="penalty_uf"]').get_attribute("data-value") == str(expected["penalty_uf"])
    for line, key in (("service_level", "service_level"), ("abandonment", "abandonment")):
        assert page.locator(f'#sla-lines tr[data-line="{line}"]').get_attribute("data-penalty") == str(expected["penalty_detail_uf"][key])
    assert [i["id"] for i in expected["incidents"]] == [int(incident_id)]
    # edit, then close: both audited with the author kept
    page.goto(data_console.url + "/incidents?month=2026-03")
    edit = page.locator(f'#incidents tr[data-incident="{incident_id}"]')
    edit.locator("summary").click()
    edit.locator('select[name="severity"]').select_option("critical")
    edit.locator("form.edit-incident button").click()
    assert page.locator(f'#incidents tr[data-incident="{incident_id}"]').get_attribute("data-severity") == "critical"
    actions = [e.action for e in data_console.store().audit_entries(who=data_console.users["supervisor"][0])]
    assert "incident.add" in actions and "incident.edit" in actions


def test_a_viewer_reads_the_incident_log_but_cannot_change_it(page, data_console, login_as) -> None:
    login_as(page, data_console, "viewer")
    page.goto(data_console.url + "/incidents?month=2026-03")
    assert page.locator("#readonly").is_visible()
    assert page.locator("#add-incident").count() == 0 and page.locator("form.edit-incident").count() == 0
    before = page.locator("#incidents tbody tr").count()
    token = page.locator("body").get_attribute("data-csrf")
    form = {"csrf": token, "start": "2026-03-03T09:00", "end": "", "severity": "low", "text": "no debería quedar"}
    assert page.request.post(data_console.url + "/incidents", form=form).status == 403
    assert page.request.post(data_console.url + "/incidents/1", form=form).status == 403
    assert page.request.post(data_console.url + "/incidents/1/close", form={"csrf": token}).status == 403
    page.goto(data_console.url + "/incidents?month=2026-03")
    assert page.locator("#incidents tbody tr").count() == before
    assert "no debería quedar" not in page.content()


def test_pages_without_an_event_store_say_so(page, start_console, login_as, tmp_path: Path) -> None:
    empty = start_console(heartbeat_s=0)
    login_as(page, empty, "admin")
    for path in ("/reports", "/sla", "/incidents"):
        assert page.goto(empty.url + path).status == 200, path
