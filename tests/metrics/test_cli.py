"""``acd report``, ``acd sla`` and ``acd incident`` through ``acd.cli.main``: output, exit codes, messages."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from acd.cli import main
from acd.base.events import Event
from acd.metrics.render import FIGURE_KEYS
from acd.metrics.reports import compute_report
from acd.metrics.store import EventStore

from tests.wall_clock import wait_clear_of_local_midnight

from .factories import SANTIAGO, CallSpec, log_of

DAY_START = datetime(2026, 3, 2, 0, 0, tzinfo=SANTIAGO).timestamp()
NINE = DAY_START + 9 * 3600


def sample_log() -> list[Event]:
    specs = [
        CallSpec("c1", NINE + 60, "ventas", ("es",), "answered", 12.0, talk_s=120, wrap_s=30, scores=(5,)),
        CallSpec("c2", NINE + 120, "ventas", ("es",), "answered", 40.0, talk_s=200, wrap_s=0),
        CallSpec("c3", NINE + 900, "soporte", ("en",), "abandoned", 3.0),
        CallSpec("c4", NINE + 1000, "soporte", ("en",), "abandoned", 70.0),
        CallSpec("c5", NINE + 3700, "soporte", ("es",), "answered", 20.0, talk_s=60, wrap_s=10, scores=(2, 4)),
    ]
    platform = [
        Event(type="engine.started", ts=NINE - 3600),
        Event(type="agent.state", ts=NINE - 1800, agent_id="pool", data={"state": "available"}),
        Event(type="engine.stopped", ts=NINE + 4 * 3600),
        Event(type="engine.started", ts=NINE + 4 * 3600 + 1800),
    ]
    return log_of(specs, platform)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "acd.sqlite"

    async def fill() -> None:
        async with await EventStore.open(path) as store:
            for event in sample_log():
                store.append(event)
            await store.add_incident(NINE + 600, NINE + 1200, "Corte enlace SIP", created=NINE + 1300)

    asyncio.run(fill())
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


DAY = ("--from", "2026-03-02", "--to", "2026-03-03")


def test_report_json_has_every_figure_and_matches_the_library(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "60", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert {"from", "to", "timezone", "interval", "intervals", "total", "incidents", "threshold_s", "sl_formula"} <= set(data)
    assert len(data["intervals"]) == 24 and data["timezone"] == "America/Santiago"
    assert set(FIGURE_KEYS) <= set(data["total"])
    expected = compute_report(sample_log(), DAY_START, DAY_START + 86400, interval="60").total
    total = data["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandons"]) == (5, 3, 2, 1)
    assert total["service_level"] == 50.0 and expected.sl_offered == 50  # 2 within of (5 - 1)
    assert total["abandonment_rate"] == 25.0
    assert total["aht_s"] == round((150 + 200 + 70) / 3, 1)
    assert total["survey_average"] == round(11 / 3, 2) and total["survey_top2_pct"] == 66.67
    nine = data["intervals"][9]
    assert nine["label"] == "2026-03-02 09:00" and nine["offered"] == 4 and nine["incidents"] == [1]
    assert data["intervals"][10]["offered"] == 1 and data["intervals"][10]["incidents"] == []
    assert data["incidents"][0]["text"] == "Corte enlace SIP"


def test_report_by_queue_and_filtered_by_queue(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "day", "--by", "queue", "--format", "json")
    assert code == 0
    groups = json.loads(out)["total"]["groups"]
    assert {name: g["offered"] for name, g in groups.items()} == {"soporte": 3, "ventas": 2}
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "day", "--queue", "ventas", "--format", "json")
    total = json.loads(out)["total"]
    assert (total["offered"], total["service_level"], total["agent_logged_in_s"]) == (2, 50.0, None)


def test_report_csv_has_a_header_interval_rows_and_totals(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "30", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len([r for r in rows if r["row"] == "interval"]) == 48
    [total] = [r for r in rows if r["row"] == "total"]
    assert total["offered"] == "5" and total["service_level"] == "50.0"
    assert "#1 Corte enlace SIP" in next(r for r in rows if r["label"] == "2026-03-02 09:00")["incidents"]


def test_report_table_shows_totals_and_incidents(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "day")
    assert code == 0
    assert "TOTAL" in out and "#1" in out and "Corte enlace SIP" in out


def test_report_chart_is_a_png(capsys, db: Path, tmp_path: Path) -> None:
    chart = tmp_path / "sl.png"
    code, _, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "60", "--chart", str(chart), "--format", "csv")
    assert code == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_reads_the_database_named_in_the_settings(capsys, db: Path, tmp_path: Path) -> None:
    settings = tmp_path / "acd.yaml"
    settings.write_text(f"metrics:\n  database: {db.name}\n", encoding="utf-8")
    code, out, _ = run(capsys, "report", "--settings", str(settings), *DAY, "--interval", "day", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["offered"] == 5


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--from", "2026-03-02", "--to", "2026-03-02"), ("empty range",)),
        (("--from", "2026-03-03", "--to", "2026-03-02"), ("empty range",)),
        (("--from", "2026-13-01", "--to", "2026-03-02"), ("2026-13-01", "not a date")),
        (("--from", "yesterday", "--to", "2026-03-02"), ("yesterday",)),
        (("--to", "2026-03-02"), ("--from",)),
        ((*DAY, "--interval", "45"), ("--interval", "45")),
        ((*DAY, "--by", "agent"), ("--by",)),
        ((*DAY, "--format", "xml"), ("--format",)),
        ((*DAY, "--threshold", "soon"), ("--threshold",)),
        ((*DAY, "--threshold", "nan"), ("--threshold",)),
        ((*DAY, "--tz", "Mars/Olympus"), ("Mars/Olympus",)),
    ],
)
def test_report_usage_errors_exit_2_with_one_line(capsys, db: Path, args, fragments) -> None:
    code, out, err = run(capsys, "report", "--db", str(db), *args)
    assert code == 2 and out == ""
    one_line_error(err, "acd report: error:", *fragments)


def test_a_missing_database_is_a_data_error(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", "--db", str(tmp_path / "nope.sqlite"), *DAY)
    assert code == 1
    one_line_error(err, "database not found", "nope.sqlite")
    assert not (tmp_path / "nope.sqlite").exists()


def test_a_corrupt_database_is_a_data_error(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 512)
    for argv in (("report", "--db", str(bad), *DAY), ("sla", "--db", str(bad), "--month", "2026-03"), ("incident", "list", "--db", str(bad))):
        code, _, err = run(capsys, *argv)
        assert code == 1
        one_line_error(err, "not an SQLite database")


def test_a_database_from_a_newer_acd_is_a_data_error(capsys, db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version (version, applied_ts) VALUES (42, 0)")
    conn.commit()
    conn.close()
    code, _, err = run(capsys, "sla", "--db", str(db), "--month", "2026-03")
    assert code == 1
    one_line_error(err, "schema version 42", "upgrade acd")


def test_a_bad_settings_file_is_a_usage_error(capsys, tmp_path: Path) -> None:
    settings = tmp_path / "acd.yaml"
    settings.write_text("metrics:\n  batch_interval_s: 5\n", encoding="utf-8")
    code, _, err = run(capsys, "report", "--settings", str(settings), *DAY)
    assert code == 2
    one_line_error(err, "acd.yaml:2", "batch_interval_s")


def test_sla_json_keys_and_values(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "sla", "--db", str(db), "--month", "2026-03", "--contract-start", "2026-01", "--json")
    assert code == 0
    data = json.loads(out)
    assert {"service_level", "abandonment_rate", "targets", "penalty_uf", "unavailable_hours"} <= set(data)
    assert (data["month"], data["contract_month"], data["partial"]) == ("2026-03", 3, False)
    assert (data["service_level"], data["abandonment_rate"]) == (50.0, 25.0)
    assert data["targets"] == {
        "service_level_min": 75, "threshold_s": 25.0, "abandonment_max": 5, "short_abandon_s": 5.0, "unavailable_max_hours": 1,
        "report_availability_min": 95,
    }
    # 250 tenths short × 0.5 UF + 200 tenths over × 1 UF
    assert (data["service_level_shortfall_tenths"], data["abandonment_excess_tenths"], data["penalty_uf"]) == (250, 200, 325)
    assert data["unavailable_hours"] == 0.5 and data["compliant"]["availability"] is True  # 13:00-13:30 on a Monday
    assert data["calls"]["offered"] == 5 and data["incidents"][0]["id"] == 1


def test_sla_text_and_the_softer_first_months(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "sla", "--db", str(db), "--month", "2026-03", "--contract-start", "2026-03")
    assert code == 0
    assert "contract month 1" in out and "target >= 65" in out and "PENALTY" in out


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--month", "2026-13"), ("2026-13", "01 to 12")),
        (("--month", "March"), ("March", "YYYY-MM")),
        (("--month", "2026-03", "--contract-start", "2026-00"), ("2026-00",)),
        (("--month", "2025-12", "--contract-start", "2026-01"), ("before the contract start",)),
    ],
)
def test_sla_usage_errors_exit_2_with_one_line(capsys, db: Path, args, fragments) -> None:
    code, out, err = run(capsys, "sla", "--db", str(db), *args)
    assert code == 2 and out == ""
    one_line_error(err, "acd sla: error:", *fragments)


def test_sla_without_a_month_evaluates_the_current_one_so_far(capsys, db: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    wait_clear_of_local_midnight(10.0)  # acd sla reads the month before this test does: not across a month's end
    code, out, _ = run(capsys, "sla", "--db", str(db), "--json")
    assert code == 0
    today = datetime.now(ZoneInfo("America/Santiago"))
    data = json.loads(out)
    assert (data["month"], data["partial"]) == (f"{today:%Y-%m}", True)


def test_sla_with_a_bad_contract_file_names_file_and_line(capsys, db: Path, tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("tiers:\n  - {from_month: 1, service_level_min: 80, abandonment_max: 5, bonus: 3}\n", encoding="utf-8")
    code, _, err = run(capsys, "sla", "--db", str(db), "--month", "2026-03", "--contract", str(contract))
    assert code == 2
    one_line_error(err, "contract.yaml:2", "bonus")


def test_incident_add_then_list(capsys, db: Path) -> None:
    code, out, _ = run(
        capsys, "incident", "add", "--db", str(db), "--from", "2026-03-05 10:15", "--to", "2026-03-05T10:40", "--text", "Caída AMI",
        "--severity", "high", "--author", "sup1",
    )
    assert code == 0 and "incident #2" in out
    code, out, _ = run(capsys, "incident", "list", "--db", str(db), "--from", "2026-03-05", "--to", "2026-03-06", "--json")
    assert code == 0
    [incident] = json.loads(out)
    assert incident == {
        "id": 2, "from": "2026-03-05T10:15:00-03:00", "to": "2026-03-05T10:40:00-03:00", "text": "Caída AMI", "created": incident["created"],
        "severity": "high", "author": "sup1",
    }
    code, _, err = run(capsys, "incident", "add", "--db", str(db), "--from", "2026-03-05 10:15", "--text", "x", "--severity", "grave")
    assert code == 2 and "--severity 'grave'" in err
    code, out, _ = run(capsys, "incident", "list", "--db", str(db))
    assert code == 0 and len(out.strip().splitlines()) == 2 and "Corte enlace SIP" in out


def test_incident_add_creates_the_database_but_list_does_not(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "other.sqlite"
    code, _, err = run(capsys, "incident", "list", "--db", str(missing))
    assert code == 1 and not missing.exists()
    one_line_error(err, "database not found")
    code, _, _ = run(capsys, "incident", "add", "--db", str(missing), "--from", "2026-03-05 10:00", "--to", "2026-03-05 11:00", "--text", "x")
    assert code == 0 and missing.exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--from", "2026-03-05 11:00", "--to", "2026-03-05 10:00", "--text", "x"), ("empty range",)),
        (("--from", "2026-03-05 10:00", "--to", "2026-03-05 11:00"), ("--text",)),
        (("--from", "2026-03-05 10:00", "--to", "2026-03-05 11:00", "--text", "  "), ("--text",)),
        (("--from", "ayer", "--to", "2026-03-05 11:00", "--text", "x"), ("ayer",)),
    ],
)
def test_incident_add_usage_errors(capsys, db: Path, args, fragments) -> None:
    code, _, err = run(capsys, "incident", "add", "--db", str(db), *args)
    assert code == 2
    one_line_error(err, "acd incident add: error:", *fragments)


ROUTING_OWN_THRESHOLDS = """\
skills: [es, en]
queues:
  - {name: ventas, skills: [es], service_level: {threshold_s: 45}}
  - {name: soporte, skills: [en], service_level: {threshold_s: 10}, short_abandon_s: 2, sl_formula: sl}
agents:
  - {id: a1, name: A, endpoint: PJSIP/a1, skills: {es: 5}}
"""


def test_report_applies_each_queues_own_threshold_from_the_routing_file(capsys, db: Path, tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING_OWN_THRESHOLDS)
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "day", "--by", "queue", "--format", "json", "--routing", str(routing))
    assert code == 0
    data = json.loads(out)
    assert data["queue_rules"] == {"soporte": {"threshold_s": 10.0, "short_abandon_s": 2.0}, "ventas": {"threshold_s": 45.0, "short_abandon_s": 5.0}}
    groups = data["total"]["groups"]
    assert groups["ventas"]["answered_within"] == 2  # 12 s and 40 s are both within ventas' 45 s
    assert groups["soporte"]["answered_within"] == 0  # 20 s misses soporte's 10 s
    assert groups["soporte"]["short_abandons"] == 0  # the 3 s abandon is not short under 2 s
    code, out, _ = run(capsys, "report", "--db", str(db), *DAY, "--interval", "day", "--by", "queue", "--format", "json", "--routing", str(routing), "--threshold", "25")
    assert json.loads(out)["total"]["groups"]["ventas"]["answered_within"] == 1  # the flag wins


def test_report_with_a_broken_routing_file_names_it(capsys, db: Path, tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("queues: [{name: x, skills: [nope]}]\n")
    code, _, err = run(capsys, "report", "--db", str(db), *DAY, "--routing", str(routing))
    assert code == 2
    one_line_error(err, str(routing), "routing file")


def test_report_shows_how_far_the_wait_estimates_were_from_the_waits(capsys, tmp_path: Path) -> None:
    path = tmp_path / "acd.sqlite"
    events = [
        Event(type="call.queued", ts=NINE, call_id="a", queue="ventas"),
        Event(type="wait.announcement", ts=NINE + 30, call_id="a", queue="ventas", data={"waited_s": 30, "estimate_s": 60, "position": 2}),
        Event(type="call.answered", ts=NINE + 100, call_id="a", queue="ventas", agent_id="x", data={"waited_s": 100}),
        Event(type="call.queued", ts=NINE + 5, call_id="b", queue="ventas"),
        Event(type="wait.announcement", ts=NINE + 35, call_id="b", queue="ventas", data={"waited_s": 30, "estimate_s": 20, "position": 1}),
        Event(type="call.answered", ts=NINE + 55, call_id="b", queue="ventas", agent_id="y", data={"waited_s": 50}),
    ]

    async def fill() -> None:
        async with await EventStore.open(path) as store:
            for event in events:
                store.append(event)

    asyncio.run(fill())
    code, out, _ = run(capsys, "report", "--db", str(path), *DAY, "--format", "json")
    assert code == 0
    # errors: a (100-30) - 60 = 10, b (50-30) - 20 = 0
    assert json.loads(out)["wait_estimates"] == {"announcements": 2, "median_abs_error_s": 5.0, "p90_abs_error_s": 9.0}
    code, out, _ = run(capsys, "report", "--db", str(path), *DAY)
    assert "Wait estimates announced: 2; absolute error median 5.0 s, 90th percentile 9.0 s" in out


def test_sla_takes_the_contract_from_the_settings_so_no_flag_is_needed(capsys, db: Path, tmp_path: Path) -> None:
    repo = Path(__file__).parents[2]
    contract = (repo / "deploy" / "contract.yaml").read_text(encoding="utf-8")
    contract = contract.replace("../ivr_flows/calendars/", f"{repo}/ivr_flows/calendars/")  # the site's one calendar
    (tmp_path / "contract.yaml").write_text(contract, encoding="utf-8")
    settings = tmp_path / "acd.yaml"
    settings.write_text("sla: {contract: contract.yaml}\n", encoding="utf-8")
    code, out, _ = run(capsys, "sla", "--settings", str(settings), "--db", str(db), "--month", "2026-03", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["contract_start"], data["contract_month"]) == ("2026-01", 3)  # start: from the sample contract
    code, out, _ = run(capsys, "sla", "--settings", str(settings), "--db", str(db), "--month", "2026-02", "--json")
    assert json.loads(out)["targets"]["service_level_min"] == 65  # month 2: the ramp-up tier


def test_report_without_a_routing_file_says_loudly_that_default_rules_were_used(db: Path, tmp_path: Path) -> None:
    """A reporting host with no acd.yaml and no routing file: figures against 25 s / 5 s, said on stderr and in JSON."""
    import subprocess
    import sys

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    argv = [sys.executable, "-m", "acd", "report", "--db", str(db), *DAY, "--interval", "day", "--by", "queue", "--format", "json"]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [warning] = done.stderr.strip().splitlines()
    assert warning.startswith("acd report: warning: no routing file at ") and "default rules (threshold 25 s, short abandon 5 s" in warning
    assert f" {(cwd / 'deploy' / 'routing.yaml').resolve()} " in warning  # the default routing.config, looked up from here
    data = json.loads(done.stdout)
    assert (data["default_rules"], data["routing_file"], data["queue_rules"]) == (True, None, {})


def test_report_takes_the_routing_file_from_the_settings_without_a_warning(capsys, db: Path, tmp_path: Path, monkeypatch) -> None:
    """``routing.config`` from ``--settings`` or from ./acd.yaml, relative to that file, as ``acd run`` reads it."""
    engine_dir = tmp_path / "engine"
    engine_dir.mkdir()
    (engine_dir / "rules.yaml").write_text(ROUTING_OWN_THRESHOLDS)
    (engine_dir / "acd.yaml").write_text("routing:\n  config: rules.yaml\n")
    expected_rules = {"soporte": {"threshold_s": 10.0, "short_abandon_s": 2.0}, "ventas": {"threshold_s": 45.0, "short_abandon_s": 5.0}}
    report = ("report", "--db", str(db), *DAY, "--interval", "day", "--by", "queue", "--format", "json")
    code, out, err = run(capsys, *report, "--settings", str(engine_dir / "acd.yaml"))
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["default_rules"], data["routing_file"], data["queue_rules"]) == (False, str(engine_dir / "rules.yaml"), expected_rules)
    monkeypatch.chdir(engine_dir)
    code, out, err = run(capsys, *report)
    assert (code, err, json.loads(out)["queue_rules"]) == (0, "", expected_rules)


def test_report_flags_that_replace_every_default_need_no_warning(capsys, db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "report", "--db", str(db), *DAY, "--threshold", "20", "--short-abandon", "3", "--sl-formula", "offered")
    assert (code, err) == (0, "")
    code, out, err = run(capsys, "report", "--db", str(db), *DAY, "--threshold", "20")
    assert code == 0 and "default rules (threshold 20 s, short abandon 5 s" in err


def test_report_without_a_range_is_today_and_named_periods_follow_the_centres_calendar(capsys, db: Path) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    wait_clear_of_local_midnight(10.0)  # today, as read here, must still be today for the three reports below
    today = datetime.now(ZoneInfo("America/Santiago")).date()
    code, out, _ = run(capsys, "report", "--db", str(db), "--interval", "day", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["from"][:10], data["to"][:10]) == (today.isoformat(), (today + timedelta(days=1)).isoformat())
    code, out, _ = run(capsys, "report", "--db", str(db), "--period", "last-month", "--interval", "month", "--format", "json")
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    assert code == 0 and json.loads(out)["from"][:10] == first.isoformat() and json.loads(out)["to"][:10] == today.replace(day=1).isoformat()
    code, out, _ = run(capsys, "report", "--db", str(db), "--period", "this-week", "--interval", "day", "--format", "json")
    monday = today - timedelta(days=today.weekday())
    assert code == 0 and json.loads(out)["from"][:10] == monday.isoformat() and len(json.loads(out)["intervals"]) == 7


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(("--period", "fortnight"), "not a period"), (("--period", "today", "--from", "2026-03-02"), "--period replaces --from/--to")],
)
def test_report_period_mistakes_are_one_line(capsys, db: Path, args, fragment) -> None:
    code, _, err = run(capsys, "report", "--db", str(db), *args)
    assert code == 2
    one_line_error(err, fragment)


def test_an_ongoing_incident_is_logged_open_and_closed_later(capsys, db: Path) -> None:
    code, out, _ = run(capsys, "incident", "add", "--db", str(db), "--from", "2026-03-05 10:15", "--text", "Caída AMI")
    assert code == 0 and out.strip().endswith(".. (open) Caída AMI")
    number = int(out.split("#")[1].split()[0])
    code, out, _ = run(capsys, "incident", "list", "--db", str(db), "--from", "2026-03-09", "--to", "2026-03-10", "--json")
    assert [(i["id"], i["to"]) for i in json.loads(out)] == [(number, None)]  # still going on: shown on later days too
    code, out, _ = run(capsys, "incident", "close", str(number), "--db", str(db), "--at", "2026-03-05 11:00")
    assert code == 0 and "2026-03-05T11:00:00-03:00 Caída AMI" in out
    code, _, err = run(capsys, "incident", "close", str(number), "--db", str(db))
    assert code == 2
    one_line_error(err, "already closed")
