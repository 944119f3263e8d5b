"""What the reports, SLA and incident pages share: the event store, rules, ranges, contract.

The pages compute nothing themselves: figures come from ``acd.metrics.aggregates``
(stored quarter-hour cells of the one ledger), with the same per-queue rules ``acd
report`` applies for the same settings (the routing file's thresholds and formulas), so
a page, its CSV and ``acd report --json`` agree.  (Not a page: the leading underscore
keeps it out of :func:`acd.web.pages.discover`.)
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

from fastapi import Request

from acd.metrics.aggregates import store_report
from acd.metrics.reports import DEFAULT_SHORT_ABANDON_S, DEFAULT_THRESHOLD_S, Report
from acd.metrics.sla import Contract, ContractError, load_contract
from acd.metrics.store import MissingDatabaseError
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import open_store, settings_location
from acd.metrics.timeutil import INTERVALS, PERIODS, TimeInputError, parse_when, period_range, zone
from acd.settings import Settings

QUICK_PERIODS = ("today", "yesterday", "this-week", "this-month", "last-month")
MAX_RANGE_S = 400 * 86400.0  # a year and a bit: anything longer is a typo, not a report


class PageInputError(ValueError):
    """A range, interval or option a person typed that cannot be used; shown on the page."""


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def timezone_of(request: Request) -> str:
    return settings_of(request).routing.timezone


@asynccontextmanager
async def event_store(request: Request, *, write: bool = False) -> AsyncIterator[MetricsStore]:
    """The metrics store the engine writes (``store.url``, else ``metrics.database``); missing: PageInputError."""
    settings = settings_of(request)
    try:
        store = await open_store(settings_location(settings), create=write)
    except MissingDatabaseError:
        raise PageInputError("error.no_data") from None
    try:
        yield store
    finally:
        await store.close()


def queue_rules(settings: Settings) -> dict[str, Any]:
    """Each queue's threshold, short-abandon limit and formula from the routing file, as ``acd report`` reads them."""
    from acd.metrics.live import report_rules
    from acd.routing import load_routing_config

    path = settings.resolve(settings.routing.config)
    if not path.is_file():
        return {}
    config, problems = load_routing_config(path, settings.limits.yaml())
    if problems or config is None:
        return {}
    return report_rules(config)


def contract_of(settings: Settings) -> Contract:
    """The settings' ``sla.contract``, else the tender's defaults (as ``acd sla`` without ``--contract``)."""
    if not settings.sla.contract:
        return Contract(timezone=settings.routing.timezone)
    try:
        return load_contract(settings.resolve(settings.sla.contract), settings.limits.yaml())
    except ContractError as exc:
        raise PageInputError("error.contract") from exc


@dataclass(frozen=True)
class Range:
    start: float
    end: float
    period: str | None  # the quick period it came from, if any


def parse_range(tz_name: str, period: str | None, start: str | None, end: str | None, now: float | None = None) -> Range:
    """A named period, else ``from``/``to`` (local dates or times, ``to`` exclusive), else today."""
    tz = zone(tz_name)
    now = time.time() if now is None else now
    if start or end:
        if not (start and end):
            raise PageInputError("error.range_both")
        try:
            lo, hi = parse_when(start, tz), parse_when(end, tz)
        except TimeInputError:
            raise PageInputError("error.range_format") from None
        if not hi > lo:
            raise PageInputError("error.range_empty")
        if hi - lo > MAX_RANGE_S:
            raise PageInputError("error.range_long")
        return Range(lo, hi, None)
    word = period or "today"
    if word not in PERIODS:
        raise PageInputError("error.period")
    lo, hi = period_range(word, tz, now)
    return Range(lo, hi, word)


def check_choice(value: str | None, choices: tuple[str, ...], key: str) -> None:
    if value is not None and value not in choices:
        raise PageInputError(key)


def default_interval(rng: Range) -> str:
    length = rng.end - rng.start
    return "60" if length <= 2 * 86400 else "day" if length <= 62 * 86400 else "month"


async def report_for(
    request: Request, rng: Range, interval: str, *, by: str | None = None, queue: str | None = None, now: float | None = None
) -> Report:
    """The report ``acd report --from --to --interval --by --queue`` prints, for the page's settings."""
    check_choice(interval, INTERVALS, "error.interval")
    check_choice(by, ("queue", "skill"), "error.by")
    settings = settings_of(request)
    rules = queue_rules(settings)
    async with event_store(request) as store:
        incidents = await store.incidents(rng.start, rng.end)
        return await store_report(
            store, rng.start, rng.end, now=time.time() if now is None else now, interval=interval,
            timezone=settings.routing.timezone, by=by, queue=queue or None,
            threshold_s=DEFAULT_THRESHOLD_S, short_abandon_s=DEFAULT_SHORT_ABANDON_S, incidents=incidents, **rules,
        )


def local_input(ts: float, tz_name: str) -> str:
    """A UNIX time as the value of an ``<input type="datetime-local">``."""
    return datetime.fromtimestamp(ts, zone(tz_name)).strftime("%Y-%m-%dT%H:%M")


def month_label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def previous_month(year: int, month: int) -> tuple[int, int]:
    first = datetime(year, month, 1) - timedelta(days=1)
    return first.year, first.month


__all__ = [
    "PageInputError",
    "QUICK_PERIODS",
    "Range",
    "check_choice",
    "contract_of",
    "default_interval",
    "event_store",
    "local_input",
    "parse_range",
    "queue_rules",
    "report_for",
    "settings_of",
    "timezone_of",
]
