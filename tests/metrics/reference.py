"""Brute-force reference figures, computed differently from ``acd.metrics.reports``.

* Calls: straight from the ``CallSpec`` descriptions (no events, no episodes), with the
  interval found by flooring the *local wall clock* (``datetime.replace``), not by
  building boundaries in absolute time.
* Agents: per-second sampling — for every whole second, which state is each agent in
  after applying all events up to that second — instead of summing period overlaps.
* SLA: integer arithmetic on counts (no Fraction, no Decimal rounding helper).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from acd.base.events import Event

from .factories import CallSpec


def bucket_start(ts: float, interval: str, tz: ZoneInfo) -> float:
    local = datetime.fromtimestamp(ts, tz)
    if interval == "month":
        floored = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0, fold=0)
    elif interval == "day":
        floored = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    else:
        size = int(interval)
        floored = local.replace(minute=local.minute - local.minute % size, second=0, microsecond=0)
    return floored.timestamp()


@dataclass
class Ref:
    offered: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short: int = 0
    waiting: int = 0
    timed_out: int = 0
    overflowed_out: int = 0
    answered_waits: list[Fraction] = field(default_factory=list)
    all_waits: list[float] = field(default_factory=list)
    handles: list[Fraction] = field(default_factory=list)
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    scores: list[int] = field(default_factory=list)

    def pct(self, num: int, den: int) -> Fraction | None:
        return None if den <= 0 else Fraction(100 * num, den)

    @property
    def service_level(self) -> Fraction | None:
        return self.pct(self.within, self.offered - self.short)

    @property
    def sl_asterisk(self) -> Fraction | None:
        return self.pct(self.within, self.answered)

    @property
    def sl2_asterisk(self) -> Fraction | None:
        return self.pct(self.within + self.abandoned_within, self.answered + self.abandoned)

    @property
    def abandonment_rate(self) -> Fraction | None:
        return self.pct(self.abandoned - self.short, self.offered - self.short)

    @property
    def asa(self) -> Fraction | None:
        return sum(self.answered_waits, Fraction(0)) / len(self.answered_waits) if self.answered_waits else None

    @property
    def aht(self) -> Fraction | None:
        return sum(self.handles, Fraction(0)) / len(self.handles) if self.handles else None

    @property
    def longest(self) -> float | None:
        return max(self.all_waits) if self.all_waits else None

    @property
    def survey_average(self) -> Fraction | None:
        return Fraction(sum(self.scores), len(self.scores)) if self.scores else None

    @property
    def survey_top2(self) -> Fraction | None:
        return self.pct(sum(1 for s in self.scores if s >= 4), len(self.scores))


Key = tuple[float | None, str | None]  # (interval start or None for the total, group or None for all)


def reference_calls(
    specs: list[CallSpec],
    start: float,
    end: float,
    interval: str,
    tz: ZoneInfo,
    *,
    by: str | None = None,
    queue: str | None = None,
    threshold: float = 25.0,
    short: float = 5.0,
) -> dict[Key, Ref]:
    figures: dict[Key, Ref] = defaultdict(Ref)

    def groups(queue_name: str, skills: tuple[str, ...]) -> list[str | None]:
        if by == "queue":
            return [None, queue_name]
        if by == "skill":
            return [None, *(sorted(set(skills)) or ["(none)"])]
        return [None]

    def refs(ts: float, queue_name: str, skills: tuple[str, ...]) -> list[Ref]:
        if not (start <= ts < end) or (queue is not None and queue_name != queue):
            return []
        b = bucket_start(ts, interval, tz)
        return [figures[(key, g)] for g in groups(queue_name, skills) for key in (b, None)]

    for spec in specs:
        if spec.overflow != "none":  # the queue it left, with the skills it had there
            for ref in refs(spec.offered_ts, spec.queue, spec.skills):
                ref.overflowed_out += 1
        for ref in refs(spec.offered_ts, spec.ended_queue, spec.ended_skills):
            ref.offered += 1
            if spec.outcome == "waiting":
                ref.waiting += 1
                continue
            ref.all_waits.append(spec.wait_s)
            if spec.outcome == "timed_out":
                ref.timed_out += 1
            elif spec.outcome == "answered":
                ref.answered += 1
                ref.answered_waits.append(Fraction(spec.wait_s))
                ref.within += spec.wait_s <= threshold
                if spec.completed and spec.wrap_s is not None:
                    ref.handles.append(Fraction(spec.talk_s) + Fraction(spec.hold_s) + Fraction(spec.wrap_s))
            else:
                ref.abandoned += 1
                ref.abandoned_within += spec.wait_s <= threshold
                ref.short += spec.wait_s <= short
        if spec.callback:
            for ref in refs(spec.callback_ts, spec.queue, spec.ended_skills):
                ref.callbacks_requested += 1
            if spec.callback_done:
                for ref in refs(spec.callback_done_ts, spec.queue, spec.ended_skills):
                    ref.callbacks_completed += 1
        if spec.outcome == "answered" and spec.completed:
            for index, score in enumerate(spec.scores):
                for ref in refs(spec.survey_ts(index), spec.ended_queue, spec.ended_skills):
                    ref.scores.append(score)
    return figures


@dataclass
class AgentRef:
    logged_in: int = 0
    available: int = 0
    busy: int = 0

    @property
    def occupancy(self) -> Fraction | None:
        den = self.available + self.busy
        return None if den == 0 else Fraction(100 * self.busy, den)


def reference_agents(events: list[Event], start: int, until: int, interval: str, tz: ZoneInfo) -> dict[float | None, AgentRef]:
    """Agent-seconds per interval by sampling every second (events at whole seconds)."""
    ordered = sorted(events, key=lambda e: e.ts)
    state: dict[str, str] = {}
    figures: dict[float | None, AgentRef] = defaultdict(AgentRef)
    pointer = 0
    for second in range(int(ordered[0].ts) if ordered else start, until):
        while pointer < len(ordered) and ordered[pointer].ts <= second:
            event = ordered[pointer]
            if event.type == "agent.state" and event.agent_id:
                state[event.agent_id] = event.data["state"]
            elif event.type == "engine.stopped":
                state.clear()
            pointer += 1
        if second < start:
            continue
        b = bucket_start(second, interval, tz)
        for current in state.values():
            for ref in (figures[b], figures[None]):
                if current != "logged_out":
                    ref.logged_in += 1
                if current == "available":
                    ref.available += 1
                if current in ("reserved", "on_call", "wrap_up"):
                    ref.busy += 1
    return figures


def sla_tenths(numerator: int, denominator: int) -> int:
    """100·num/den in tenths of a point, rounded half-up, with integers only."""
    return (2000 * numerator + denominator) // (2 * denominator)


def sla_penalty_half_uf(
    within: int, offered: int, abandoned: int, short: int, sl_min_tenths: int, ab_max_tenths: int
) -> tuple[int | None, int | None, int]:
    """(SL tenths, abandonment tenths, penalty in halves of a UF)."""
    den = offered - short
    if den <= 0:
        return None, None, 0
    sl = sla_tenths(within, den)
    ab = sla_tenths(abandoned - short, den)
    return sl, ab, max(0, sl_min_tenths - sl) + 2 * max(0, ab - ab_max_tenths)
