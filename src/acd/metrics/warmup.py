"""Building the stored report cells of past days ahead of the first report that needs them.

Stored cells (``acd.metrics.aggregates``) are keyed by the rules and by the code that
made them, so an upgrade that touches the ledger, or a changed threshold, retires every
stored cell at once.  That is what keeps figures right (a report never reads a cell
another version computed), but the first month or year asked for afterwards replays its
whole raw log while someone waits: tens of seconds for a month, minutes for a year.

:func:`warm_cells` builds the missing *day* cells of past days (and their quarters)
before anyone asks, newest week first (the weeks people look at), one week per step.
It goes through :func:`~acd.metrics.aggregates.report_cells`, the very path a report
takes, so the figures are the same whoever computes a cell first; a report asked
meanwhile computes what it lacks itself, and a cell is stored whole in one transaction,
so nothing half-built is ever read.  Today is left alone: its cells are not final yet.

``acd report --warm`` runs it; ``acd web`` runs that in a background process at start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from acd.metrics.aggregates import _full_days, report_cells
from acd.metrics.cells import rules_key
from acd.metrics.ledger import Rules
from acd.metrics.store import EventStore
from acd.metrics.timeutil import local_midnight, zone

#: How far back a warm-up looks by default: the longest range a console report may ask.
HORIZON_DAYS = 400
WEEK_DAYS = 7


@dataclass
class WarmResult:
    days_missing: int = 0  # past days without a stored day cell when the warm-up looked
    days_built: int = 0  # of those, stored afterwards (a day not final yet stays missing)
    weeks: int = 0  # week-long steps that had something to build
    seconds: float = 0.0


async def missing_days(store: EventStore, rules: Rules, start: float, end: float, timezone: str) -> list[tuple[float, float]]:
    """Local days wholly inside ``[start, end)`` that have no stored day cell for ``rules``."""
    days = _full_days(start, end, timezone)
    if not days:
        return []
    stored = {(a, b) for a, b, _ in await store.cached_cells(rules_key(rules), start, end, days=True)}
    return [day for day in days if day not in stored]


async def warm_cells(
    store: EventStore,
    *,
    rules: Rules,
    timezone: str,
    now: float | None = None,
    horizon_days: int = HORIZON_DAYS,
    should_stop: Callable[[], bool] = lambda: False,
) -> WarmResult:
    """Store the day cells missing for the past ``horizon_days`` days (not today), newest first."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    result = WarmResult()
    first = await store.first_event_ts()
    if first is None:
        return result
    tz = zone(timezone)
    today = datetime.fromtimestamp(now, tz).date()
    oldest = max(datetime.fromtimestamp(first, tz).date(), today - timedelta(days=horizon_days))
    day = today
    while day > oldest and not should_stop():
        week_start = max(oldest, day - timedelta(days=WEEK_DAYS))
        lo, hi = local_midnight(week_start, tz), local_midnight(day, tz)
        missing = await missing_days(store, rules, lo, hi, timezone)
        if missing:
            result.days_missing += len(missing)
            result.weeks += 1
            await report_cells(store, missing[0][0], missing[-1][1], rules=rules, now=now, timezone=timezone, whole_days=True)
            result.days_built += len(missing) - len(await missing_days(store, rules, lo, hi, timezone))
        day = week_start
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["HORIZON_DAYS", "WarmResult", "missing_days", "warm_cells"]
