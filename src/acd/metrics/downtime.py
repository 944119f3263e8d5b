"""Service unavailability from platform events, and its overlap with business hours.

The service is **unavailable** while the engine is stopped or, when the site uses AMI
(any ``ami.*`` event was ever logged), while the AMI connection is down: without AMI the
ACD cannot route calls to agents.

* ``engine.stopped`` → down until ``engine.started`` (and, with AMI, ``ami.connected``;
  the two may come in either order at start-up).
* ``ami.disconnected`` → down until ``ami.connected``.
* A crash leaves no ``engine.stopped``.  It is recognised when a new process announces
  itself while the old one was still "up": ``engine.started`` after ``engine.started``,
  or ``ami.connected`` while connected.  The outage is then counted from the **last event
  logged before the restart** (the last sign of life) — an upper bound of the real
  outage, tight while calls are flowing; a periodic heartbeat event would make it tight
  always (any event type counts as a sign of life, so one can be added without changing
  this code).
* Before the first platform event in the data the state is unknown and taken as up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from acd.base.schedule import Schedule
from acd.metrics.ledger import in_order
from acd.base.events import Event

UP, DOWN, UNKNOWN = "up", "down", "unknown"


@dataclass(frozen=True, slots=True)
class Outage:
    start: float
    end: float
    reason: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


def outages(events: Iterable[Event], start: float, end: float) -> list[Outage]:
    """Periods of unavailability within ``[start, end)``, in order, not overlapping."""
    engine, ami, ami_seen = UNKNOWN, UNKNOWN, False
    last_ts: float | None = None
    down_since: float | None = None
    reason = ""
    periods: list[Outage] = []

    def available() -> bool:
        return engine != DOWN and (ami != DOWN or not ami_seen)

    def update(at: float, why: str) -> None:
        nonlocal down_since, reason
        if not available() and down_since is None:
            down_since, reason = at, why
        elif available() and down_since is not None:
            periods.append(Outage(down_since, at, reason))
            down_since = None

    for event in in_order(events):
        kind = event.type
        if kind.startswith("console."):
            continue  # the web console's own signs of life say nothing about the engine's
        crashed = (kind == "engine.started" and engine == UP) or (kind == "ami.connected" and ami == UP and engine == UP)
        if crashed and last_ts is not None:
            engine, ami = DOWN, DOWN
            update(last_ts, "restart without engine.stopped (crash): down since the last logged event")
        if kind == "engine.started":
            engine = UP
        elif kind == "engine.stopped":
            engine, ami = DOWN, DOWN
        elif kind == "ami.connected":
            ami, ami_seen = UP, True
        elif kind == "ami.disconnected":
            ami, ami_seen = DOWN, True
        if kind in ("engine.started", "engine.stopped", "ami.connected", "ami.disconnected"):
            update(event.ts, kind if kind != "engine.started" else "engine started")
        last_ts = event.ts
    if down_since is not None:
        periods.append(Outage(down_since, math.inf, reason))

    clipped = []
    for period in periods:
        lo, hi = max(period.start, start), min(period.end, end)
        if hi > lo:
            clipped.append(Outage(lo, hi, period.reason))
    return clipped


def business_spans(schedule: Schedule, start: float, end: float) -> list[tuple[float, float]]:
    """The open hours of ``schedule`` within ``[start, end)`` as absolute time spans."""
    tz = ZoneInfo(schedule.timezone)
    day = datetime.fromtimestamp(start, tz).date()
    last = datetime.fromtimestamp(end, tz).date()
    spans: list[tuple[float, float]] = []
    while day <= last:
        if day not in schedule.holidays:
            for tr in schedule.hours[day.weekday()]:
                lo = _at(day, tr.start, tz)
                hi = _at(day, tr.end, tz)
                lo, hi = max(lo, start), min(hi, end)
                if hi > lo:
                    spans.append((lo, hi))
        day += timedelta(days=1)
    return spans


def _at(day: date, minutes: int, tz: ZoneInfo) -> float:
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp()
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz).timestamp()


def unavailable_business_seconds(periods: list[Outage], spans: list[tuple[float, float]]) -> float:
    """Seconds of outage that fall inside business hours."""
    pieces = []
    for period in periods:
        for lo, hi in spans:
            overlap = min(period.end, hi) - max(period.start, lo)
            if overlap > 0:
                pieces.append(overlap)
    return math.fsum(pieces)


__all__ = ["Outage", "business_spans", "outages", "unavailable_business_seconds"]
