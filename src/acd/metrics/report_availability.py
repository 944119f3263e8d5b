"""Report availability: how much of the month the client could reach its reports.

The contract asks that reports be available at least 95 % of the hours and fines 1 UF
per percentage point short.  Reports are served by the web console (``acd web``), its
own process, so their availability is the console's, read from the events it writes:

* ``console.started`` (data ``period_s``) when it begins serving, ``console.heartbeat``
  every ``period_s`` while it serves, ``console.stopped`` on a clean stop.
* Up from a start or beat; a **gap longer than twice the period** between two signs of
  life is an outage from the earlier one to the later (one late beat is tolerated: a busy
  machine is not an outage; a crash is counted from the last beat, an upper bound tight to
  one period).  A clean stop is down until the next start.  After the last sign of life,
  the console is down from it once more than twice the period has passed.
* **Measured from the console's first start**: hours before any console event are not
  counted either way (a site that has never run the console has nothing to report on and
  says so, rather than reading 0 %).  Every hour counts, not only business hours: the
  client's access is meant to be permanent.

Percentage and shortfall follow ``acd.metrics.sla``'s rule: the exact fraction is rounded
half-up to one decimal; the fine is per **whole** point short (94.5 % is half a point
short of 95 %: no fine; 93.9 % is 1.1 points short: 1 UF), as unavailability is fined per
whole business hour.  "Available and correct": correctness is not measured here — the
console serves figures from the same ledger as ``acd report`` (one implementation), so a
report is correct whenever the log is; an incident in the log covers anything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from acd.base.events import Event
from acd.metrics.store import CONSOLE_TYPES

DEFAULT_PERIOD_S = 60.0
#: a gap over this many periods between signs of life is an outage
MISSED_BEATS_TOLERATED = 2


@dataclass(frozen=True, slots=True)
class ConsoleOutage:
    start: float
    end: float
    reason: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ReportAvailability:
    """The console's availability over ``[measured_from, until)``; None when never measured."""

    measured_from: float | None
    until: float
    outages: tuple[ConsoleOutage, ...]

    @property
    def measured_seconds(self) -> float:
        return 0.0 if self.measured_from is None else max(0.0, self.until - self.measured_from)

    @property
    def unavailable_seconds(self) -> float:
        return math.fsum(outage.seconds for outage in self.outages)

    @property
    def fraction(self) -> Fraction | None:
        """Available share of the measured time, exact; None when nothing was measured."""
        if self.measured_seconds <= 0:
            return None
        return 1 - Fraction(self.unavailable_seconds) / Fraction(self.measured_seconds)


def console_outages(events: Iterable[Event], start: float, until: float) -> ReportAvailability:
    """The console's outages within ``[start, until)``, from its events (oldest first or not)."""
    signs = sorted((e for e in events if e.type in CONSOLE_TYPES), key=lambda e: e.ts)
    if not signs or signs[0].ts >= until:
        return ReportAvailability(None, until, ())
    measured_from = max(start, signs[0].ts)
    periods: list[ConsoleOutage] = []
    period = DEFAULT_PERIOD_S
    last: Event | None = None
    for event in signs:
        if event.type == "console.started":
            period = _period(event, period)
        if last is not None:
            if last.type == "console.stopped":
                if event.type != "console.stopped":
                    periods.append(ConsoleOutage(last.ts, event.ts, "console stopped"))
            elif event.ts - last.ts > MISSED_BEATS_TOLERATED * period:
                periods.append(ConsoleOutage(last.ts, event.ts, "no heartbeat (console down or unreachable)"))
        if last is None or last.type != "console.stopped" or event.type != "console.stopped":
            last = event
    if last is not None and last.ts < until:
        if last.type == "console.stopped":
            periods.append(ConsoleOutage(last.ts, until, "console stopped"))
        elif until - last.ts > MISSED_BEATS_TOLERATED * period:
            periods.append(ConsoleOutage(last.ts, until, "no heartbeat (console down or unreachable)"))
    clipped = []
    for outage in periods:
        lo, hi = max(outage.start, measured_from), min(outage.end, until)
        if hi > lo:
            clipped.append(ConsoleOutage(lo, hi, outage.reason))
    return ReportAvailability(measured_from, until, tuple(clipped))


def _period(event: Event, fallback: float) -> float:
    value = event.data.get("period_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 86_400:
        return float(value)
    return fallback


__all__ = ["CONSOLE_TYPES", "ConsoleOutage", "ReportAvailability", "console_outages"]
