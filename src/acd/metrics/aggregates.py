"""Reports from stored quarter-hour cells: a month in well under a second.

Replaying a month of events through the ledger takes seconds (a year, minutes), so the
final cells of ``acd.metrics.cells`` are kept in the event store (table
``report_cells``), keyed by the rules and the code that made them.  A report then reads
stored cells, computes only the missing ones from the events (the last hours, or a
range never asked for before) and stores those that became final: the cache fills
itself on read and survives restarts.  Days of a day or month report are also stored
whole (the exact merge of their quarters), so a year is 365 reads.

Identity with a replay is by construction (the same ``compute_cells`` on the same
events; merges are exact) and checked by ``tests/metrics/test_aggregates.py``.
:func:`rebuild` drops the stored cells and recomputes them from the raw log.
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from acd.metrics.cells import CELL_S, DAY_S, Cell, GroupKey, QuarterBuckets, compute_cells, decode_cell, encode_cell, merge_cells, rules_key
from acd.metrics.ledger import QueueRules, Rules
from acd.metrics.reports import Report, ReportParams, compose_report, report_rules, selection
from acd.metrics.store import Incident, StoreError
from acd.metrics.store_interface import MetricsStore as EventStore  # either back end
from acd.metrics.timeutil import buckets, local_midnight, zone

log = logging.getLogger(__name__)

CHUNK_S = 7 * DAY_S  # events replayed at once: a week plus a day of margin each side
JOIN_GAP_S = 2 * DAY_S  # missing spans closer than this are replayed together (margins overlap)


def _full_days(start: float, end: float, timezone: str) -> list[tuple[float, float]]:
    """Local days lying wholly inside ``[start, end)``."""
    tz = zone(timezone)
    days = []
    for bucket in buckets(start, end, "day", tz):
        day = bucket.label.date()
        lo, hi = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        if bucket.start == lo and bucket.end == hi and lo % CELL_S == 0 and hi % CELL_S == 0:
            days.append((lo, hi))
    return days


def _spans(starts: Sequence[float]) -> list[tuple[float, float]]:
    """Sorted quarter starts as few replay spans as is worth it (see ``JOIN_GAP_S``)."""
    spans: list[tuple[float, float]] = []
    for lo in starts:
        if spans and lo - spans[-1][1] < JOIN_GAP_S:
            spans[-1] = (spans[-1][0], lo + CELL_S)
        else:
            spans.append((lo, lo + CELL_S))
    return spans


async def _replay(store: EventStore, key: str, lo: float, hi: float, rules: Rules, now: float, save: bool) -> list[Cell]:
    """Cells of ``[lo, hi)`` from the raw log, a week at a time; final ones are stored."""
    cells: list[Cell] = []
    chunk_lo = lo
    while chunk_lo < hi:
        chunk_hi = min(hi, chunk_lo + CHUNK_S)
        events = await store.report_events(chunk_lo, chunk_hi)
        computed = compute_cells(events, chunk_lo, chunk_hi, rules=rules, now=now)
        del events
        if save:
            await _save(store, key, [c for c in computed if c.final])
        cells.extend(computed)
        chunk_lo = chunk_hi
    return cells


async def _save(store: EventStore, key: str, cells: Sequence[Cell]) -> None:
    try:
        await store.save_cells(key, [(c.start, c.end, encode_cell(c)) for c in cells])
    except (sqlite3.Error, StoreError) as exc:  # a read-only copy of the log still reports, only slower
        log.warning("report cells not stored (%s): reports will replay the events", exc)


async def report_cells(
    store: EventStore,
    start: float,
    end: float,
    *,
    rules: Rules,
    now: float,
    timezone: str,
    whole_days: bool,
    use_cache: bool = True,
    wanted: Callable[[GroupKey], bool] | None = None,
) -> list[Cell]:
    """The cells covering ``[start, end)``: stored ones, the rest replayed (and stored when final).

    ``whole_days``: the report's rows are days or months, so stored whole days may stand
    for their quarters.  ``use_cache=False`` replays everything and stores nothing.
    """
    key = rules_key(rules)
    if not use_cache:
        return await _replay(store, key, start, end, rules, now, save=False)
    cells: list[Cell] = []
    covered: list[tuple[float, float]] = []  # whole days read back, in order
    days = _full_days(start, end, timezone) if whole_days else []
    if days:
        stored = {(a, b): blob for a, b, blob in await store.cached_cells(key, start, end, days=True)}
        for day in days:
            if day in stored:
                cells.append(decode_cell(day[0], day[1], stored[day]))
                covered.append(day)
    covered_starts = [lo for lo, _ in covered]

    def inside_covered(ts: float) -> bool:
        index = bisect.bisect_right(covered_starts, ts) - 1
        return index >= 0 and ts < covered[index][1]

    by_start: dict[float, Cell] = {}
    missing = []
    stored_quarters = {a: blob for a, _, blob in await store.cached_cells(key, start, end, days=False)}
    for bucket in QuarterBuckets(start, end).buckets:
        if inside_covered(bucket.start):
            continue
        blob = stored_quarters.get(bucket.start) if bucket.end - bucket.start == CELL_S else None
        if blob is not None:
            by_start[bucket.start] = decode_cell(bucket.start, bucket.end, blob, None if days else wanted)
        else:
            missing.append(bucket.start)
    del stored_quarters
    for lo, hi in _spans(missing):
        for cell in await _replay(store, key, max(lo, start), min(hi, end), rules, now, save=True):
            if not inside_covered(cell.start) and (cell.start not in by_start or not by_start[cell.start].final):
                by_start[cell.start] = cell
    ordered = sorted(by_start)
    new_days = []
    for day in days:
        if covered and inside_covered(day[0]):
            continue
        parts = [by_start[q] for q in ordered[bisect.bisect_left(ordered, day[0]):bisect.bisect_left(ordered, day[1])]]
        merged = merge_cells(parts, *day)
        if merged.final and parts:
            new_days.append(merged)
    await _save(store, key, new_days)
    cells.extend(by_start[q] for q in ordered)
    return cells


async def store_report(
    store: EventStore,
    start: float,
    end: float,
    *,
    now: float,
    interval: str = "60",
    timezone: str,
    by: str | None = None,
    queue: str | None = None,
    threshold_s: float,
    short_abandon_s: float,
    sl_formula: str = "offered",
    incidents: Sequence[Incident] = (),
    queue_rules: Mapping[str, QueueRules] | None = None,
    queue_formulas: Mapping[str, str] | None = None,
    use_cache: bool = True,
) -> Report:
    """``compute_report`` over the store's events for ``[start, end)``, through stored cells."""
    params = ReportParams(start, end, interval, timezone, threshold_s, short_abandon_s, sl_formula, by, queue, now)
    buckets(start, end, interval, zone(timezone))  # an unknown interval or zone fails before the work
    rules = report_rules(threshold_s, short_abandon_s, queue_rules)
    total, name_of = selection(by, queue)
    cells = await report_cells(
        store, start, end, rules=rules, now=now, timezone=timezone,
        whole_days=interval in ("day", "month"), use_cache=use_cache,
        wanted=lambda group: group == total or name_of(group) is not None,
    )
    return compose_report(cells, params, incidents=incidents, queue_rules=queue_rules, queue_formulas=queue_formulas)


async def rebuild(
    store: EventStore,
    *,
    rules: Rules,
    now: float,
    timezone: str,
    start: float | None = None,
    end: float | None = None,
) -> int:
    """Drop the stored cells of ``[start, end)`` (default: all) and recompute them from the raw log.

    Returns how many cells (quarters and days) are stored afterwards for these rules.
    """
    first = await store.first_event_ts()
    await store.drop_cells(start, end)
    if first is None:
        return 0
    tz = zone(timezone)
    lo = (start if start is not None else local_midnight(datetime.fromtimestamp(first, tz).date(), tz)) // CELL_S * CELL_S
    hi = min(end if end is not None else now, now) // CELL_S * CELL_S
    if not hi > lo:
        return 0
    cells = await report_cells(store, lo, hi, rules=rules, now=now, timezone=timezone, whole_days=True)
    return sum(1 for c in cells if c.final)


__all__ = ["CHUNK_S", "rebuild", "report_cells", "store_report"]
