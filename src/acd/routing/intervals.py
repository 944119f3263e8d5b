"""Reporting intervals on the contact centre's wall clock.

Supervisors read "the 10:15 interval" and "today" in local time, so intervals align to
local quarter hours and days to local midnight in a configured time zone — including
days of 23 or 25 hours when daylight saving time starts or ends (Chile moves its clocks
at local midnight, so a Santiago "midnight" can even be missing).  Bounds are cached:
most calls land in the interval already computed and cost two comparisons.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

INTERVAL_S = 900


class IntervalClock:
    """Maps UNIX seconds to ``[start, end)`` of their local quarter hour and local day."""

    __slots__ = ("tz", "_interval", "_day")

    def __init__(self, timezone: str = "America/Santiago") -> None:
        self.tz = ZoneInfo(timezone)
        self._interval = (0.0, 0.0)
        self._day = (0.0, 0.0)

    def interval(self, t: float) -> tuple[float, float]:
        start, end = self._interval
        if start <= t < end:
            return self._interval
        local = datetime.fromtimestamp(t, self.tz)
        floor = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
        start = floor.timestamp()
        self._interval = (start, start + INTERVAL_S)
        return self._interval

    def day(self, t: float) -> tuple[float, float]:
        start, end = self._day
        if start <= t < end:
            return self._day
        today = datetime.fromtimestamp(t, self.tz).date()
        start = self._midnight(today)
        end = self._midnight(today + timedelta(days=1))
        if start > t:  # the day's midnight did not exist and the zone resolved it later
            start = t
        self._day = (start, end)
        return self._day

    def _midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()
