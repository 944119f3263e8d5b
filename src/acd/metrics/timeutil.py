"""Report intervals aligned on the local clock, and the date syntax the CLI accepts.

Intervals are aligned in a timezone (default America/Santiago) because supervisors and
the contract think in local hours: "the 09:00-09:15 interval" and "March" are local.
Chile changes its clock at local midnight, so a day can last 23 or 25 hours and, in the
autumn, the 23:00 hour happens twice; intervals are therefore built in absolute time
from each local midnight, and labelled with their UTC offset so the two 23:00 intervals
stay distinct.  (This assumes UTC offset changes are whole multiples of the interval,
which holds for Chile and nearly everywhere.)
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "America/Santiago"
INTERVALS = ("15", "30", "60", "day", "month")


class TimeInputError(ValueError):
    """A date, month, interval or timezone the user typed is not understood (one-line message)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One report interval ``[start, end)`` in UNIX seconds; ``label`` is the local start."""

    start: float
    end: float
    label: datetime


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeInputError(f"unknown timezone '{name}' (use an IANA name such as America/Santiago)") from None


def local_midnight(day: date, tz: ZoneInfo) -> float:
    """UNIX time at which ``day`` starts locally (01:00 when midnight is skipped by DST)."""
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def month_start(year: int, month: int, tz: ZoneInfo) -> float:
    return local_midnight(date(year, month, 1), tz)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _aligned(start: float, end: float, interval: str, tz: ZoneInfo) -> list[float]:
    """Aligned boundaries covering ``[start, end)``: the first is <= start, the last >= end."""
    first_day = datetime.fromtimestamp(start, tz).date()
    if interval == "month":
        year, month = first_day.year, first_day.month
        bounds = [month_start(year, month, tz)]
        while bounds[-1] < end:
            year, month = next_month(year, month)
            bounds.append(month_start(year, month, tz))
        return bounds
    day = first_day
    bounds = [local_midnight(day, tz)]
    if bounds[0] > start:  # only possible in a DST gap at midnight
        day -= timedelta(days=1)
        bounds = [local_midnight(day, tz)]
    step = None if interval == "day" else int(interval) * 60
    while bounds[-1] < end:
        day_end = local_midnight(day + timedelta(days=1), tz)
        if step is not None:
            t = bounds[-1] + step
            while t < day_end:
                bounds.append(t)
                t += step
        bounds.append(day_end)
        day += timedelta(days=1)
    return bounds


def buckets(start: float, end: float, interval: str, tz: ZoneInfo) -> list[Bucket]:
    """The report intervals of ``[start, end)``, clipped to it (the first/last may be partial)."""
    if interval not in INTERVALS:
        raise TimeInputError(f"unknown interval '{interval}' (use one of {', '.join(INTERVALS)})")
    if not end > start:
        return []
    bounds = _aligned(start, end, interval, tz)
    result = []
    for lo, hi in zip(bounds, bounds[1:]):
        if hi <= start or lo >= end:
            continue
        result.append(Bucket(max(lo, start), min(hi, end), datetime.fromtimestamp(lo, tz)))
    return result


def bucket_of(bucket_starts: list[float], end: float, ts: float) -> int | None:
    """Index of the bucket holding ``ts`` given the sorted bucket starts, or None if outside."""
    if not bucket_starts or ts < bucket_starts[0] or ts >= end:
        return None
    return bisect.bisect_right(bucket_starts, ts) - 1


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> tuple[int, int]:
    """``'2026-03'`` → (2026, 3)."""
    match = _MONTH.match(text.strip())
    if match is None:
        raise TimeInputError(f"'{text}' is not a month: use YYYY-MM, e.g. 2026-03")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise TimeInputError(f"'{text}' is not a month: the month must be 01 to 12")
    if year < 1970:
        raise TimeInputError(f"'{text}' is not a month this system can have data for")
    return year, month


def parse_when(text: str, tz: ZoneInfo) -> float:
    """A CLI date/time → UNIX seconds; without a UTC offset it is local time in ``tz``.

    Accepts ``2026-03-01``, ``2026-03-01T09:30``, ``2026-03-01 09:30:15`` and the same
    with an offset (``-03:00``) or ``Z``.
    """
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            parsed = datetime.combine(date.fromisoformat(raw), time(0))
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?", raw):
            parsed = datetime.fromisoformat(raw)
        else:
            raise ValueError
    except ValueError:
        raise TimeInputError(
            f"'{text}' is not a date/time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time unless an offset is given)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


PERIODS = ("today", "yesterday", "this-week", "last-week", "this-month", "last-month")


def period_range(word: str, tz: ZoneInfo, now: float) -> tuple[float, float]:
    """A named period on the centre's calendar → ``[start, end)`` in UNIX seconds.

    Weeks start on Monday; "this" periods run to their natural end (a report of them
    shows the hours still to come as empty).
    """
    today = datetime.fromtimestamp(now, tz).date()
    if word == "today":
        first, last = today, today + timedelta(days=1)
    elif word == "yesterday":
        first, last = today - timedelta(days=1), today
    elif word in ("this-week", "last-week"):
        monday = today - timedelta(days=today.weekday()) - timedelta(days=7 if word == "last-week" else 0)
        first, last = monday, monday + timedelta(days=7)
    elif word in ("this-month", "last-month"):
        first = today.replace(day=1)
        if word == "last-month":
            first = (first - timedelta(days=1)).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    else:
        raise TimeInputError(f"'{word}' is not a period: use one of {', '.join(PERIODS)}")
    return datetime.combine(first, time(0), tz).timestamp(), datetime.combine(last, time(0), tz).timestamp()


def fmt_local(ts: float, tz: ZoneInfo, *, date_only: bool = False) -> str:
    moment = datetime.fromtimestamp(ts, tz)
    if date_only:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds")


__all__ = [
    "PERIODS",
    "period_range",
    "Bucket",
    "DEFAULT_TIMEZONE",
    "INTERVALS",
    "TimeInputError",
    "bucket_of",
    "buckets",
    "fmt_local",
    "local_midnight",
    "month_start",
    "next_month",
    "parse_month",
    "parse_when",
    "zone",
]
