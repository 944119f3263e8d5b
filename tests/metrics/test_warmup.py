"""Past days' report cells built ahead of the first report (acd.metrics.warmup, acd report --warm, acd web).

After an upgrade the stored cells of the old code are ignored (their key names the code
that made them); the warm-up stores the new ones so that a month report reads them
instead of replaying the raw log, with the figures of a replay.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from acd.bench.reports import TIMEZONE, simulate_day, write_store
from acd.metrics import aggregates, render
from acd.metrics.aggregates import store_report
from acd.metrics.cells import SETTLE_GUARD_S
from acd.metrics.reports import report_rules
from acd.metrics.store import EventStore
from acd.metrics.timeutil import zone
from acd.metrics.warmup import missing_days, warm_cells
from acd.web.warmup import CellWarmer
from tests.wall_clock import clear_of_local_midnight, seconds_since_local_midnight

TZ = zone(TIMEZONE)
DAYS = [date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 11)]  # a gap, and two weeks
FIRST = datetime(2026, 3, 2, tzinfo=TZ).timestamp()
END = datetime(2026, 3, 13, tzinfo=TZ).timestamp()
NOW = datetime(2026, 3, 13, 9, tzinfo=TZ).timestamp()  # the 13th is "today": never warmed
RULES = report_rules(25.0, 5.0, None)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "events.sqlite"
    asyncio.run(write_store(path, [simulate_day(day, 120, seed) for seed, day in enumerate(DAYS)]))
    return path


def _run(path: Path, body):  # noqa: ANN001, ANN202
    async def main():  # noqa: ANN202
        store = await EventStore.open(path, create=False)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _month_report(store: EventStore, *, use_cache: bool = True):  # noqa: ANN202
    return store_report(store, FIRST, END, now=NOW, interval="day", timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0, use_cache=use_cache)


def test_warm_up_stores_every_past_day_and_reports_then_replay_nothing(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _run(log, lambda store: missing_days(store, RULES, FIRST, NOW, TIMEZONE))
    assert len(before) == 11  # 2 to 12 March: every past day, those without calls too
    result = _run(log, lambda store: warm_cells(store, rules=RULES, timezone=TIMEZONE, now=NOW))
    assert (result.days_missing, result.days_built, result.weeks) == (11, 11, 2)
    assert _run(log, lambda store: missing_days(store, RULES, FIRST, NOW, TIMEZONE)) == []
    again = _run(log, lambda store: warm_cells(store, rules=RULES, timezone=TIMEZONE, now=NOW))
    assert (again.days_missing, again.days_built) == (0, 0)  # nothing left: a later run is cheap

    replay = _run(log, lambda store: _month_report(store, use_cache=False))

    def no_replay(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a past day was replayed from the raw log")

    monkeypatch.setattr(aggregates, "compute_cells", no_replay)
    warm = _run(log, lambda store: store_report(store, FIRST, NOW - 9 * 3600, now=NOW, interval="day", timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0))
    monkeypatch.undo()
    assert warm.total.offered > 200
    served = _run(log, _month_report)  # today's quarters replayed, the past read back
    assert render.report_dict(served, TZ) == render.report_dict(replay, TZ)


def test_other_rules_or_code_are_missing_again(log: Path) -> None:
    _run(log, lambda store: warm_cells(store, rules=RULES, timezone=TIMEZONE, now=NOW))
    other = report_rules(20.0, 5.0, None)  # a changed threshold: a new key, as a new ledger version gives
    assert len(_run(log, lambda store: missing_days(store, other, FIRST, NOW, TIMEZONE))) == 11


def test_horizon_and_today_are_respected(log: Path) -> None:
    result = _run(log, lambda store: warm_cells(store, rules=RULES, timezone=TIMEZONE, now=NOW, horizon_days=3))
    assert result.days_built == 3  # 10, 11, 12 March
    left = _run(log, lambda store: missing_days(store, RULES, FIRST, END + 86400, TIMEZONE))  # the 13th: today
    assert [datetime.fromtimestamp(lo, TZ).date() for lo, _ in left] == [date(2026, 3, d) for d in range(2, 10)] + [date(2026, 3, 13)]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACD_")}
    return subprocess.run([sys.executable, "-m", "acd", "report", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


#: How long these tests take at most, with margin: they must not straddle local midnight.
REAL_CLOCK_TEST_S = 120.0
#: After local midnight, yesterday is final once its calls may no longer be settling (a minute's margin).
YESTERDAY_FINAL_S = SETTLE_GUARD_S + 60.0


def _clear_of_local_midnight(now: float | None = None) -> float:
    """Seconds to wait before a test on the real clock may start (0: start now).

    The CLI warms relative to the real clock, and yesterday becomes final only
    ``SETTLE_GUARD_S`` after local midnight (a call may still be settling): a run in the
    last minutes of a day or the first ones of the next would see one day fewer, or a
    date that moved under it. Waiting out that window keeps the expected counts exact.
    """
    now = time.time() if now is None else now
    before = clear_of_local_midnight(REAL_CLOCK_TEST_S, TIMEZONE, now=now)
    if before:
        return before + YESTERDAY_FINAL_S
    return max(0.0, YESTERDAY_FINAL_S - seconds_since_local_midnight(now, TIMEZONE))


def test_the_real_clock_tests_wait_out_the_minutes_around_local_midnight() -> None:
    def at(hour: int, minute: int) -> float:
        return datetime(2026, 12, 4, hour, minute, tzinfo=TZ).timestamp()

    assert _clear_of_local_midnight(at(12, 0)) == 0.0
    assert _clear_of_local_midnight(at(0, 1)) == SETTLE_GUARD_S  # yesterday not final until 00:05, plus a minute
    assert _clear_of_local_midnight(at(23, 59)) == 60.0 + 1.0 + YESTERDAY_FINAL_S
    assert _clear_of_local_midnight(at(0, 7)) == 0.0


def _recent_log(tmp_path: Path) -> Path:
    """Calls in the last two weeks (the CLI warms relative to the real clock)."""
    time.sleep(_clear_of_local_midnight())
    path = tmp_path / "recent.sqlite"
    today = datetime.now(TZ).date()
    days = [today - timedelta(days=n) for n in (9, 3)]
    asyncio.run(write_store(path, [simulate_day(day, 60, seed) for seed, day in enumerate(days)]))
    return path


def test_acd_report_warm_then_a_report_reads_them(tmp_path: Path) -> None:
    path = _recent_log(tmp_path)
    warmed = _cli("--warm", "--db", str(path), "--tz", TIMEZONE, cwd=tmp_path)
    assert warmed.returncode == 0, warmed.stderr
    assert "acd report: reports: 9 past days stored of 9 missing" in warmed.stderr  # from the first call's day to yesterday
    assert "acd report: SLA:" in warmed.stderr
    again = _cli("--warm", "--db", str(path), "--tz", TIMEZONE, cwd=tmp_path)
    assert "reports: 0 past days stored of 0 missing" in again.stderr
    first = (datetime.now(TZ).date() - timedelta(days=12)).isoformat()
    report = _cli("--db", str(path), "--from", first, "--to", datetime.now(TZ).date().isoformat(), "--interval", "day", cwd=tmp_path)
    assert report.returncode == 0 and "computing the figures" not in report.stderr


def test_a_cold_long_report_says_why_it_is_slow_this_once(tmp_path: Path) -> None:
    path = _recent_log(tmp_path)
    first = datetime.now(TZ).date() - timedelta(days=12)
    cold = _cli("--db", str(path), "--from", first.isoformat(), "--to", datetime.now(TZ).date().isoformat(), "--interval", "day", cwd=tmp_path)
    assert cold.returncode == 0, cold.stderr
    assert "computing the figures of 8 past days from the raw log first" in cold.stderr  # the log's whole days
    warm = _cli("--db", str(path), "--from", first.isoformat(), "--to", datetime.now(TZ).date().isoformat(), "--interval", "day", cwd=tmp_path)
    assert "computing the figures" not in warm.stderr


def test_the_console_runs_the_warm_up_in_a_child_process(tmp_path: Path) -> None:
    settings_file = tmp_path / "acd.yaml"
    settings_file.write_text(f"metrics:\n  database: {tmp_path / 'recent.sqlite'}\nrouting:\n  timezone: {TIMEZONE}\n")
    from acd.settings import load_settings

    settings = load_settings(settings_file, environ={})
    warmer = CellWarmer(settings)
    assert asyncio.run(warmer.warm_once()) is None  # no event store yet: nothing to do, no process
    path = _recent_log(tmp_path)
    assert asyncio.run(warmer.warm_once()) == 0, warmer.last_output
    assert "reports: 9 past days stored" in warmer.last_output
    assert _run(path, lambda store: missing_days(store, RULES, datetime.now(TZ).timestamp() - 10 * 86400, datetime.now(TZ).timestamp(), TIMEZONE)) == []
