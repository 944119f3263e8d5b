"""``acd bench reports``: how long a month and a year of reports take, from stored cells.

The data is the simulator's (``acd.planning.sim``: the engine's own Router and
``outcome_to_event``) on a synthetic centre, one simulated business day at a time
(Monday to Friday, 08:00-20:00 in America/Santiago), plus post-call survey answers for
a share of the completed calls (the simulator has no IVR after the call), written to a
real event store.  A year is the first four simulated weeks copied forward in SQL with
shifted times and fresh ids, so it costs one month of simulation; its cells are still
computed from its own events.

Figures, each a fresh ``acd report`` path (``store_report`` + JSON rendering) in this
process: the replay of the raw log (``--no-cache``), the first cached run (which also
stores the cells), and warm runs (best and median) for the month by day, the month by
15 minutes, the month by skill, and the year by month; plus the rebuild of the year.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from acd.base.events import Event
from acd.bench.machine import machine_info
from acd.metrics.aggregates import rebuild, store_report
from acd.metrics.reports import report_rules
from acd.metrics.store import EventStore
from acd.metrics.timeutil import zone

TIMEZONE = "America/Santiago"
SURVEY_SHARE = 0.3
IVR_STEPS = 12  # brings a simulated call to the ~25 events a call of the help line logs


def _business_days(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def simulate_day(day: date, calls: int, seed: int, *, agents: int = 24, skills: int = 4) -> list[Event]:
    """One business day of the synthetic centre's events, with survey answers added."""
    from acd.planning.sim.report import simulate
    from acd.planning.sim.scenario import Scenario, constant_load
    from acd.planning.sim.sinks import EventLog
    from acd.routing.synthetic import synthetic_config

    tz = zone(TIMEZONE)
    config = synthetic_config(agents, skills, seed=1, wrap_up_s=10.0)
    start = datetime(day.year, day.month, day.day, 8, tzinfo=tz).timestamp()
    end = start + 12 * 3600.0
    weights = {q.name: len(config.eligible_agents(q)) for q in config.queues}
    total = sum(weights.values()) or 1
    rate = calls / 12.0
    loads = tuple(constant_load(name, rate * w / total, 170.0, start, end) for name, w in weights.items() if w)
    log = EventLog()
    simulate(Scenario(config, loads, start, end, patience_s=180.0, answer_delay_s=2.0, seed=seed), log)
    rng = random.Random(seed)
    surveys = [
        Event(type="survey.answer", ts=e.ts + 60.0, call_id=e.call_id, queue=e.queue, data={"score": rng.choice((1, 2, 3, 4, 4, 5, 5, 5))})
        for e in log.events
        if e.type == "call.completed" and rng.random() < SURVEY_SHARE
    ]
    ivr = [  # the IVR steps before each queued call: the ledger skips them, a replay still reads them
        Event(type="ivr.input", ts=e.ts - 2.0 * (IVR_STEPS - step), call_id=e.call_id, data={"flow": "mesa", "node": f"n{step}", "kind": "valid", "digits": "1"})
        for e in log.events if e.type == "call.queued"
        for step in range(IVR_STEPS)
    ]
    # the simulator numbers calls c0, c1... every run: make them the day's own
    prefix = f"{day:%Y%m%d}-"
    return sorted(
        (e.model_copy(update={"call_id": prefix + e.call_id}) if e.call_id else e for e in log.events + surveys + ivr),
        key=lambda e: e.ts,
    )


async def write_store(path: Path, days: list[list[Event]]) -> int:
    store = await EventStore.open(path, batch_interval_s=1.0)
    count = 0
    try:
        for events in days:
            for event in events:
                store.append(event)
            count += await store.flush()
    finally:
        await store.close()
    return count


def repeat_weeks(path: Path, weeks: int, block_weeks: int, first_ts: float) -> int:
    """Copy the first ``block_weeks`` weeks of the log forward until it spans ``weeks`` weeks.

    Done in SQL (fresh ids and call ids, times shifted by whole weeks) because turning
    millions of rows into Python events and back would measure the generator, not the
    reports.  ``data`` is copied as is (a queued call's ``wait_origin`` keeps its first
    date: it only matters for calls still waiting "now").
    """
    week = 7 * 86400.0
    with sqlite3.connect(path) as conn:
        (last,) = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        for block in range(1, -(-weeks // block_weeks)):
            conn.execute(
                "INSERT INTO events (id, ts, type, call_id, agent_id, queue, data, schema_version) "
                "SELECT id || ?, ts + ?, type, CASE WHEN call_id IS NULL THEN NULL ELSE call_id || ? END, agent_id, queue, data, schema_version "
                "FROM events WHERE seq <= ? AND ts < ? AND ts + ? < ? ORDER BY seq",
                (f"-r{block}", block * block_weeks * week, f"-r{block}", last, first_ts + block_weeks * week,
                 block * block_weeks * week, first_ts + weeks * week),
            )
        (count,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    return int(count)


def first_monday(today: date) -> date:
    """The first Monday of the month thirteen months before ``today``.

    A year of data from there ends about a month ago, so every quarter hour of it is
    final (settled cells are stored; a future one never is, and would be replayed on
    every run).
    """
    year, month = today.year, today.month - 13
    while month <= 0:
        month += 12
        year -= 1
    day = date(year, month, 1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return day


def generate(path: Path, *, month_calls: int, weeks: int, seed: int = 1, first: date | None = None) -> dict[str, Any]:
    """A store with ``weeks`` weeks: 22 business days simulated (``month_calls`` in all), then repeated 4 weeks at a time."""
    first = first or first_monday(date.today())
    started = time.perf_counter()
    per_day = max(1, round(month_calls / 22))
    simulated = [simulate_day(d, per_day, seed + i) for i, d in enumerate(_business_days(first, 22))]
    sim_s = time.perf_counter() - started
    written = asyncio.run(write_store(path, simulated))
    first_ts = datetime(first.year, first.month, first.day, tzinfo=zone(TIMEZONE)).timestamp()
    total = repeat_weeks(path, weeks, 4, first_ts) if weeks > 5 else written
    return {
        "simulated_events": written, "events": total, "calls_per_day": per_day, "simulated_days": len(simulated),
        "weeks": weeks, "simulate_s": round(sim_s, 1), "generate_s": round(time.perf_counter() - started, 1),
    }


def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    walls = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - started)
    return walls


def report_once(path: Path, start: float, end: float, interval: str, *, by: str | None = None, use_cache: bool = True) -> str:
    from acd.metrics import render

    async def body() -> str:
        store = await EventStore.open(path, create=False)
        try:
            report = await store_report(
                store, start, end, now=time.time(), interval=interval, timezone=TIMEZONE, by=by,
                threshold_s=25.0, short_abandon_s=5.0, use_cache=use_cache,
            )
        finally:
            await store.close()
        return render.report_json(report, zone(TIMEZONE))

    return asyncio.run(body())


def rebuild_all(path: Path) -> int:
    async def body() -> int:
        store = await EventStore.open(path, create=False)
        try:
            return await rebuild(store, rules=report_rules(25.0, 5.0, None), now=time.time(), timezone=TIMEZONE)
        finally:
            await store.close()

    return asyncio.run(body())


def run_reports_bench(workdir: Path, *, month_calls: int = 40_000, year: bool = True, repeat: int = 3) -> dict[str, Any]:
    tz = zone(TIMEZONE)
    first = first_monday(date.today())
    following = (first.year + first.month // 12, first.month % 12 + 1)
    month = (datetime(first.year, first.month, 1, tzinfo=tz).timestamp(), datetime(*following, 1, tzinfo=tz).timestamp())
    year_range = (month[0], datetime(first.year + 1, first.month, 1, tzinfo=tz).timestamp())
    path = workdir / "bench-reports.sqlite"
    path.unlink(missing_ok=True)
    weeks = 52 if year else 5
    data = generate(path, month_calls=month_calls, weeks=weeks, first=first)
    result: dict[str, Any] = {"machine": machine_info(), "data": data, "timezone": TIMEZONE}
    no_cache = _timed(lambda: report_once(path, *month, "day", use_cache=False), 1)[0]
    first = _timed(lambda: report_once(path, *month, "day"), 1)[0]
    same = report_once(path, *month, "day", use_cache=False) == report_once(path, *month, "day")

    def warm(start: float, end: float, interval: str, by: str | None = None) -> dict[str, float]:
        walls = _timed(lambda: report_once(path, start, end, interval, by=by), repeat)
        return {"best_s": round(min(walls), 3), "median_s": round(statistics.median(walls), 3)}

    result["month"] = {
        "replay_raw_log_s": round(no_cache, 3),
        "first_run_fills_cache_s": round(first, 3),
        "cached_equals_replay": same,
        "by_day": warm(*month, "day"),
        "by_15_minutes": warm(*month, "15"),
        "by_day_per_skill": warm(*month, "day", "skill"),
    }
    if year:
        rebuilt = _timed(lambda: rebuild_all(path), 1)[0]
        result["year"] = {
            "rebuild_from_raw_log_s": round(rebuilt, 1),
            "by_month": warm(*year_range, "month"),
            "by_day_per_queue": warm(*year_range, "day", "queue"),
        }
    result["store_mb"] = round(path.stat().st_size / 1e6, 1)
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return result


__all__ = ["generate", "rebuild_all", "report_once", "run_reports_bench", "simulate_day"]
