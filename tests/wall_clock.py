"""Tests on the real clock: keeping them from straddling a boundary of the centre's calendar.

Some code takes "now" from the wall clock and offers no way to pass another (``acd
report`` without a range is today, ``acd sla`` without ``--month`` is this month, the
engine stamps its events and counts its live figures per quarter hour and per day at the
real time). A test of it reads the clock too, or counts on two steps falling in one day or
quarter hour; if local midnight (a new day, week or month) or the next quarter hour falls
in between, the two disagree and the test fails for nothing. These tests first wait out
the few seconds before the boundary that they could straddle.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from acd.metrics.timeutil import local_midnight, zone
from acd.settings import RoutingSettings

#: The default ``routing.timezone``: the calendar of reports, SLA months and business hours.
CENTRE_TZ: str = RoutingSettings.model_fields["timezone"].default


def seconds_to_local_midnight(now: float, tz: str = CENTRE_TZ) -> float:
    """Seconds from ``now`` to the start of the next local day (01:00 when DST skips midnight)."""
    tomorrow = datetime.fromtimestamp(now, zone(tz)).date() + timedelta(days=1)
    return local_midnight(tomorrow, zone(tz)) - now


def seconds_since_local_midnight(now: float, tz: str = CENTRE_TZ) -> float:
    """Seconds from the start of ``now``'s local day (its 01:00 when DST skipped midnight)."""
    return now - local_midnight(datetime.fromtimestamp(now, zone(tz)).date(), zone(tz))


def local_month(ts: float, tz: str = CENTRE_TZ) -> str:
    """``YYYY-MM`` of ``ts`` on the centre's calendar (the month a page or ``acd sla`` is asked for)."""
    return datetime.fromtimestamp(ts, zone(tz)).strftime("%Y-%m")


def seconds_to_next_quarter_hour(now: float, tz: str = CENTRE_TZ) -> float:
    """Seconds from ``now`` to the start of the next live interval (a quarter hour, local)."""
    local = datetime.fromtimestamp(now, zone(tz))
    return 900.0 - (local.minute % 15 * 60 + local.second + local.microsecond / 1e6)


def _clear(left: float, duration_s: float) -> float:
    return left + 1.0 if left < duration_s else 0.0


def clear_of_local_midnight(duration_s: float, tz: str = CENTRE_TZ, *, now: float | None = None) -> float:
    """Seconds to wait so that a test lasting at most ``duration_s`` ends before local midnight
    or starts after it (0: start now)."""
    return _clear(seconds_to_local_midnight(time.time() if now is None else now, tz), duration_s)


def clear_of_quarter_hour(duration_s: float, tz: str = CENTRE_TZ, *, now: float | None = None) -> float:
    """The same for the next quarter hour (midnight is one too): the live figures' interval."""
    return _clear(seconds_to_next_quarter_hour(time.time() if now is None else now, tz), duration_s)


def wait_clear_of_local_midnight(duration_s: float, tz: str = CENTRE_TZ) -> None:
    time.sleep(clear_of_local_midnight(duration_s, tz))
