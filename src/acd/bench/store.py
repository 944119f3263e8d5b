"""``acd bench store``: events per second sustained into the metrics store, SQLite vs PostgreSQL.

The events are the help line's (``acd.bench.reports.simulate_day``: the simulator's
engine events plus IVR steps and surveys, ~25 per call), appended the way the engine
does it: ``append()`` from the event loop while the store's own background task commits
a batch every ``batch_interval_s`` (0.2 s, the engine's default), each back end with its
durability on (SQLite: WAL, ``synchronous=FULL``; PostgreSQL: ``fsync`` and
``synchronous_commit`` on), each run into a fresh store.

Two figures per back end:

* **sustained**: the events are offered at a steady rate (appended every 10 ms) for
  ``seconds`` at each of ``rates``; a rate is kept up with when, after the last append,
  everything is committed within a second (the backlog did not grow).  The sustained
  figure is the highest rate kept up with;
* **burst**: ``events`` appended at once; committed ÷ the time until the last commit
  (best and median of ``repeat``).

Then, unless ``--month-calls 0``, the month of ``acd bench reports`` (the help line's,
simulated into SQLite) is moved to PostgreSQL with ``acd store migrate`` (its speed is a
figure too) and ``acd report``'s month is timed on both: the raw-log replay, the first
cached run, warm runs by day and by 15 minutes, and whether the JSON is the same.

Without ``--url`` PostgreSQL is a throwaway local cluster (``acd.lab.postgres``, the
Debian package): the same machine and disk as SQLite, over loopback TCP.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from acd.base.events import Event
from acd.bench.machine import machine_info
from acd.bench.reports import _business_days, simulate_day
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import open_store, redact

CHUNK = 1000
TIMEZONE = "America/Santiago"
HELP_LINE_MONTH_EVENTS = 886_724  # the help-line month of `acd bench reports` (43,830 calls)


def help_line_events(count: int, seed: int = 1) -> list[Event]:
    """At least ``count`` events of the simulated help line, business day after business day, cut to ``count``."""
    events: list[Event] = []
    for index, day in enumerate(_business_days(date(2026, 3, 2), 400)):
        events += simulate_day(day, 2000, seed + index)
        if len(events) >= count:
            break
    return events[:count]


async def _one_run(store: MetricsStore, events: list[Event]) -> dict[str, Any]:
    started = time.perf_counter()
    max_pending = 0
    for index in range(0, len(events), CHUNK):
        for event in events[index:index + CHUNK]:
            store.append(event)
        max_pending = max(max_pending, store.pending)
        await asyncio.sleep(0)  # the engine's loop serves other work between appends
    while store.pending:
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    committed = await store.count()
    return {"seconds": round(elapsed, 3), "events_per_s": round(committed / elapsed), "committed": committed, "max_pending": max_pending}


async def _paced_run(store: MetricsStore, events: list[Event], rate: float, seconds: float) -> dict[str, Any]:
    """Offer ``rate`` events/s for ``seconds``; how long the store then takes to catch up."""
    loop = asyncio.get_running_loop()
    count = min(len(events), int(rate * seconds))
    started = loop.time()
    sent = max_pending = 0
    while sent < count:
        due = min(count, int((loop.time() - started) * rate) + 1)
        for event in events[sent:due]:
            store.append(event)
        sent = max(sent, due)
        max_pending = max(max_pending, store.pending)
        await asyncio.sleep(0.01)
    last_append = loop.time()
    while store.pending:
        await asyncio.sleep(0.002)
    done = loop.time()
    committed = await store.count()
    return {
        "offered_events_per_s": rate,
        "achieved_events_per_s": round(committed / (done - started)),
        "drain_s": round(done - last_append, 3),
        "max_pending": max_pending,
        "kept_up": committed == count and done - last_append <= 1.0,
    }


async def _bench(
    open_fresh: Any, events: list[Event], paced_events: list[Event], repeat: int, rates: list[float], seconds: float
) -> dict[str, Any]:
    runs, steps = [], []
    attempt = 0
    for _ in range(repeat):
        store = await open_fresh(attempt)
        attempt += 1
        try:
            runs.append(await _one_run(store, events))
        finally:
            await store.close()
    for rate in rates:
        store = await open_fresh(attempt)
        attempt += 1
        try:
            steps.append(await _paced_run(store, paced_events, rate, seconds))
        finally:
            await store.close()
    burst = [r["events_per_s"] for r in runs]
    if any(r["committed"] != len(events) for r in runs):
        raise RuntimeError(f"a run committed {[r['committed'] for r in runs]} of {len(events)} events")
    kept = [s["offered_events_per_s"] for s in steps if s["kept_up"]]
    return {
        "sustained_events_per_s": max(kept) if kept else 0,
        "paced": steps,
        "burst_best_events_per_s": max(burst) if burst else None,
        "burst_median_events_per_s": round(statistics.median(burst)) if burst else None,
        "burst_runs": runs,
    }


async def _report_json(location: str | Path, start: float, end: float, interval: str, *, use_cache: bool = True) -> str:
    from acd.metrics import render
    from acd.metrics.aggregates import store_report
    from acd.metrics.timeutil import zone

    store = await open_store(location, create=False)
    try:
        report = await store_report(
            store, start, end, now=time.time(), interval=interval, timezone=TIMEZONE, threshold_s=25.0, short_abandon_s=5.0, use_cache=use_cache
        )
    finally:
        await store.close()
    return render.report_json(report, zone(TIMEZONE))


def month_reports(workdir: Path, month_calls: int, dsn: str, repeat: int) -> dict[str, Any]:
    """The reports bench's month in SQLite, migrated to ``dsn``; month report latencies on both."""
    from datetime import datetime

    from acd.bench.reports import first_monday, generate
    from acd.metrics.store_migrate import migrate_store
    from acd.metrics.store_url import parse_store_url
    from acd.metrics.timeutil import zone

    tz = zone(TIMEZONE)
    first = first_monday(date.today())
    following = (first.year + first.month // 12, first.month % 12 + 1)
    month = (datetime(first.year, first.month, 1, tzinfo=tz).timestamp(), datetime(*following, 1, tzinfo=tz).timestamp())
    path = workdir / "month.sqlite"
    data = generate(path, month_calls=month_calls, weeks=5, first=first)
    migrated = asyncio.run(migrate_store(parse_store_url(path), parse_store_url(dsn)))
    out: dict[str, Any] = {
        "data": data,
        "migrate": {"source_events": migrated.source_events, "events": migrated.copied_events, "seconds": migrated.seconds, "events_per_s": round(migrated.copied_events / max(migrated.seconds, 1e-9))},
    }
    jsons: dict[str, str] = {}
    for name, location in (("sqlite", path), ("postgresql", dsn)):
        def timed(interval: str, use_cache: bool = True, keep: str = "", name: str = name, location: str | Path = location) -> float:
            started = time.perf_counter()
            text = asyncio.run(_report_json(location, *month, interval, use_cache=use_cache))
            if keep:
                jsons[f"{name}:{keep}"] = text
            return time.perf_counter() - started

        replay = timed("day", use_cache=False, keep="replay")
        first_run = timed("day", keep="cached")
        by_day = [timed("day") for _ in range(repeat)]
        by_15 = [timed("15") for _ in range(repeat)]
        out[name] = {
            "replay_raw_log_s": round(replay, 3),
            "first_run_fills_cache_s": round(first_run, 3),
            "by_day_best_s": round(min(by_day), 3),
            "by_day_median_s": round(statistics.median(by_day), 3),
            "by_15_minutes_best_s": round(min(by_15), 3),
        }
    out["same_json_everywhere"] = len(set(jsons.values())) == 1
    return out


def run_store_bench(
    workdir: Path, *, events: int, repeat: int, url: str | None, rates: list[float], seconds: float, month_calls: int = 0
) -> dict[str, Any]:
    """Both back ends on the same events; returns the JSON-ready result."""
    data = help_line_events(max(events, int(max(rates, default=0) * seconds)))
    burst_events = data[:events]

    async def sqlite_store(attempt: int) -> MetricsStore:
        return await open_store(workdir / f"bench-{attempt}.sqlite", batch_interval_s=0.2)

    result: dict[str, Any] = {
        "benchmark": "store",
        "burst_events": events,
        "paced_seconds": seconds,
        "append_chunk": CHUNK,
        "batch_interval_s": 0.2,
        "repeat": repeat,
        "machine": machine_info(),
    }
    result["sqlite"] = asyncio.run(_bench(sqlite_store, burst_events, data, repeat, rates, seconds))

    def with_postgres(dsn_of: Any, where: str, runs: int, paced: list[float]) -> None:
        async def pg_store(attempt: int) -> MetricsStore:
            return await open_store(dsn_of(attempt), batch_interval_s=0.2)

        figures = asyncio.run(_bench(pg_store, burst_events, data, runs, paced, seconds))
        figures["server"] = where
        result["postgresql"] = figures

    if url is not None:
        # A server of the operator's: one run into the (empty) database it names; making databases there is not ours to do.
        with_postgres(lambda attempt: url, redact(url), 1, [])
    else:
        from acd.lab.postgres import Postgres

        with Postgres() as server:
            version = server.psql("SHOW server_version")
            with_postgres(lambda attempt: server.create_database(f"bench{attempt}"), f"local PostgreSQL {version} (acd.lab.postgres, loopback TCP)", repeat, rates)
            if month_calls:
                result["month_report"] = month_reports(workdir, month_calls, server.create_database("month"), repeat)
    key = "sustained_events_per_s" if result["postgresql"]["paced"] else "burst_best_events_per_s"  # like for like
    best_pg = result["postgresql"][key]
    result["postgresql_vs_sqlite"] = {key: round(best_pg / max(1, result["sqlite"][key]), 2)}
    # The goal: >= 10x the help line's peak.  Its month (acd bench reports) logs
    # 886,724 events over 22 business days of 12 h; the busiest hour is taken as 3x the
    # average hour, a generous peak for a help line.
    peak = HELP_LINE_MONTH_EVENTS / (22 * 12 * 3600) * 3
    result["help_line_peak_events_per_s"] = round(peak, 1)
    result["postgresql_vs_10x_peak"] = round(best_pg / (10 * peak), 1)
    return result


__all__ = ["help_line_events", "run_store_bench"]
