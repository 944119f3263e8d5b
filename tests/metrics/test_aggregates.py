"""Stored quarter-hour cells give the figures of a replay of the raw log (acd.metrics.aggregates).

The data is the simulator's (the engine's Router and ``outcome_to_event``) for a few
business days; the reference is ``compute_report`` over every event of the log, the
report ``acd report`` gave before cells were stored.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from acd.bench.reports import TIMEZONE, simulate_day, write_store
from acd.metrics import render
from acd.metrics.aggregates import rebuild, store_report
from acd.metrics.cells import CELL_S, compute_cells, decode_cell, encode_cell
from acd.metrics.ledger import Acc, QueueRules
from acd.metrics.reports import compute_report, report_rules
from acd.metrics.store import EventStore
from acd.metrics.timeutil import zone

TZ = zone(TIMEZONE)
DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
FIRST = datetime(2026, 3, 2, tzinfo=TZ).timestamp()
LAST = datetime(2026, 3, 5, tzinfo=TZ).timestamp()
NOW = LAST + 10 * 86400.0
QUEUE_RULES = {"q-s000": QueueRules(20.0, 3.0)}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    events = [simulate_day(day, 240, seed) for seed, day in enumerate(DAYS)]
    path = tmp_path_factory.mktemp("cells") / "events.sqlite"
    asyncio.run(write_store(path, events))
    return path, [e for day in events for e in day]


def _report(path: Path, start: float, end: float, *, now: float = NOW, use_cache: bool = True, **options) -> dict:
    async def body() -> dict:
        store = await EventStore.open(path, create=False)
        try:
            report = await store_report(
                store, start, end, now=now, timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0,
                queue_rules=QUEUE_RULES, use_cache=use_cache, **options,
            )
        finally:
            await store.close()
        return render.report_dict(report, TZ)

    return asyncio.run(body())


def _replay(events: list, start: float, end: float, *, now: float = NOW, **options) -> dict:
    report = compute_report(
        events, start, end, timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0, queue_rules=QUEUE_RULES, now=now, **options
    )
    return render.report_dict(report, TZ)


OPTIONS = [
    {"interval": "day"},
    {"interval": "15", "by": "skill"},
    {"interval": "60", "by": "queue", "queue_formulas": {"q-s000": "asterisk-sl"}},
    {"interval": "month", "queue": "q-s001"},
    {"interval": "30", "queue": "q-s001-s002", "by": "skill"},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_stored_cells_equal_a_replay_of_the_whole_log(log, options) -> None:
    path, events = log
    expected = _replay(events, FIRST, LAST, **options)
    assert expected["total"]["offered"] > 100  # the data is there
    first = _report(path, FIRST, LAST, **options)  # computes and stores the cells
    again = _report(path, FIRST, LAST, **options)  # reads them back
    assert first == expected
    assert again == expected


def test_cells_are_stored_and_read_back_exactly(log) -> None:
    path, events = log
    rules = report_rules(25.0, 5.0, QUEUE_RULES)
    cells = compute_cells(sorted(events, key=lambda e: e.ts), FIRST, LAST, rules=rules, now=NOW)
    assert all(c.final for c in cells)
    busy = max(cells, key=lambda c: c.accs.get((), Acc()).offered)
    back = decode_cell(busy.start, busy.end, encode_cell(busy))
    assert back.accs == busy.accs and back.errors == busy.errors
    assert any(g[0] == "queue_skill" for g in busy.accs if g)


def test_recent_quarters_are_not_stored_until_their_calls_settle(log) -> None:
    """A cell whose calls may still change is recomputed on every read, never kept."""
    path, events = log
    rules = report_rules(25.0, 5.0, QUEUE_RULES)
    now = datetime(2026, 3, 3, 12, 7, tzinfo=TZ).timestamp()
    seen = sorted((e for e in events if e.ts <= now), key=lambda e: e.ts)
    cells = compute_cells(seen, FIRST, now // CELL_S * CELL_S + CELL_S, rules=rules, now=now)
    assert not cells[-1].final  # the current quarter
    unsettled = [c for c in cells if c.accs.get((), Acc()).waiting or c.accs.get((), Acc()).answered > c.accs.get((), Acc()).handled]
    assert unsettled and not any(c.final for c in unsettled)  # calls still talking or wrapping up
    assert cells[0].final and sum(c.final for c in cells) > len(cells) - 5
    # a report at that moment, through the store, equals the replay at that moment
    async def body() -> dict:
        store = await EventStore.open(path, create=False)
        try:
            await store.drop_cells()
            report = await store_report(
                store, FIRST, LAST, now=now, interval="60", timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0,
                queue_rules=QUEUE_RULES,
            )
        finally:
            await store.close()
        return render.report_dict(report, TZ)

    # the store holds the later events too; the replay must see what the report sees
    assert asyncio.run(body())["total"] == _replay(events, FIRST, LAST, now=now, interval="60")["total"]


def test_rebuild_from_the_raw_log_gives_the_same_figures(log) -> None:
    path, events = log
    expected = _replay(events, FIRST, LAST, interval="day", by="queue")

    async def body() -> tuple[int, int]:
        store = await EventStore.open(path, create=False)
        try:
            stored = await rebuild(store, rules=report_rules(25.0, 5.0, QUEUE_RULES), now=NOW, timezone=TIMEZONE)
            days = await store.cached_cells(
                __import__("acd.metrics.cells", fromlist=["rules_key"]).rules_key(report_rules(25.0, 5.0, QUEUE_RULES)),
                FIRST, LAST, days=True,
            )
        finally:
            await store.close()
        return stored, len(days)

    stored, days = asyncio.run(body())
    assert stored >= 3 * 96 and days == 3
    assert _report(path, FIRST, LAST, interval="day", by="queue") == expected
    assert _report(path, FIRST, LAST, interval="day", by="queue", use_cache=False) == expected


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lo=st.integers(0, 3 * 96 - 1),
    length=st.integers(1, 3 * 96),
    interval=st.sampled_from(["15", "30", "60", "day"]),
    by=st.sampled_from([None, "queue", "skill"]),
)
def test_any_quarter_aligned_range_equals_a_replay(log, lo, length, interval, by) -> None:
    path, events = log
    start = FIRST + lo * CELL_S
    end = min(LAST, start + length * CELL_S)
    assert _report(path, start, end, interval=interval, by=by) == _replay(events, start, end, interval=interval, by=by)


def test_a_range_off_the_quarter_grid_still_equals_a_replay(log) -> None:
    path, events = log
    start, end = FIRST + 8 * 3600 + 7 * 60 + 3.5, FIRST + 86400 + 17 * 3600 + 1.25
    assert _report(path, start, end, interval="60", by="skill") == _replay(events, start, end, interval="60", by="skill")
    assert json.dumps(_report(path, start, end, interval="day"))  # renders


def test_acd_simulate_writes_a_store_that_acd_report_reads_back(tmp_path, capsys) -> None:
    """``acd simulate --db`` keeps its events; ``acd report`` over them prints the simulator's own table."""
    from acd.cli import main

    db = tmp_path / "sim.sqlite"
    common = ["--routing", str(Path(__file__).resolve().parents[2] / "deploy" / "routing.yaml")]
    assert main(["simulate", *common, "--hours", "2", "--calls-per-hour", "compradores=60", "--aht", "120", "--db", str(db)]) == 0
    simulated = capsys.readouterr().out.strip().splitlines()
    assert main(["report", *common, "--db", str(db), "--from", "2026-01-05T08:00", "--to", "2026-01-05T10:00"]) == 0
    reported = capsys.readouterr().out.strip().splitlines()
    assert reported[-3:] == simulated[-3:] and "TOTAL" in reported[-2]
    assert main(["simulate", *common, "--hours", "1", "--calls-per-hour", "compradores=60", "--aht", "120", "--db", str(tmp_path / "no" / "x.sqlite")]) == 1
    assert "does not exist" in capsys.readouterr().err
