"""Contact-center reports: pure functions from a list of events to exact figures.

The same function serves live figures, the ``acd report`` command and SLA penalties, and
takes a plain list of ``Event``; the SQLite store is only one way to get that list.  So a
report recomputed from the log is, by construction, the report computed live.

Attribution
    A queue episode (see ``acd.metrics.calls``) belongs to the interval in which it was
    **offered** (its first ``call.queued``), even if it is answered or abandoned in the
    next one.  It belongs to the queue it **ended** in: an overflowed call is offered,
    answered or abandoned only in the queue that finally answered or lost it, and not
    in the queue it overflowed from, so no call is ever counted twice and every queue
    answers for the calls it actually finished.  Skills are those of the last
    ``call.queued`` of the episode; with ``by="skill"`` a call with two skills counts in
    both rows, so skill rows need not add up to the total.
    Callbacks, survey answers and agent time belong to the interval in which they
    happened; callbacks and surveys take the queue/skills of their call.

Figures (``T`` = service-level threshold, default 25 s; ``N`` = short-abandon limit,
default 5 s; waits are ``data.waited_s``, measured from when the caller started waiting)
    offered            episodes offered in the interval
    answered           ... answered by an agent
    answered_within    ... answered with wait <= T
    abandoned          ... abandoned by the caller in the queue
    abandoned_within   ... abandoned with wait <= T (only for Asterisk's SL2)
    short_abandons     ... abandoned with wait <= N (callers who hung up almost at once)
    waiting            offered but neither answered nor abandoned: still queued at the
                       end of the data, or gone another way (e.g. took a callback with
                       no ``call.abandoned`` logged); it stays in the offered base of
                       the default service level
    service_level %    formula ``offered`` (default, the tender's):
                           answered_within / (offered - short_abandons)
                       formula ``asterisk-sl``:  answered_within / answered
                       formula ``asterisk-sl2``:
                           (answered_within + abandoned_within) / (answered + abandoned)
                       (Asterisk's ServicelevelPerf and ServicelevelPerf2, over our
                       attribution).  All three are always reported; ``sl_formula`` picks
                       which one is ``service_level``.
    abandonment_rate % (abandoned - short_abandons) / (offered - short_abandons)
    asa_s              average speed of answer: mean wait of answered episodes
    aht_s              average handle time ("TMO"): mean of talk + hold + wrap-up over
                       *handled* episodes (answered, completed and wrap-up finished);
                       wrap-up is the agent's ``wrap_up`` period after the call
    longest_wait_s     longest wait among answered and abandoned episodes
    callbacks_*        ``callback.requested`` / ``callback.completed`` events
    survey_*           ``survey.answer`` events with a score 1-5: responses, average
                       score, % of responses scoring 4 or 5
    agent_*_s          agent-seconds logged in (any state but logged_out), available,
                       busy (reserved + on_call + wrap_up); only for all queues together,
                       because an agent's time cannot be split between queues
    occupancy %        busy / (available + busy): paused time is excluded
A figure whose denominator is zero is ``None`` (shown as "-"), never 0 % or 100 %.

Exactness: counts are integers, rates are ``fractions.Fraction`` (exact), sums of
seconds use ``math.fsum`` (correctly rounded, so independent of event order).  Rounding
happens only when a figure is displayed (half-up, see ``pct``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Literal, Sequence

from acd.metrics.calls import Episode, Replay, replay
from acd.metrics.events import Event
from acd.metrics.store import Incident
from acd.metrics.timeutil import DEFAULT_TIMEZONE, Bucket, bucket_of, buckets, zone

SlFormula = Literal["offered", "asterisk-sl", "asterisk-sl2"]
SL_FORMULAS: tuple[str, ...] = ("offered", "asterisk-sl", "asterisk-sl2")
GroupBy = Literal["queue", "skill"]
NO_GROUP = "(none)"
BUSY_STATES = frozenset({"reserved", "on_call", "wrap_up"})

DEFAULT_THRESHOLD_S = 25.0
DEFAULT_SHORT_ABANDON_S = 5.0


def ratio(numerator: int | float | Fraction, denominator: int | float | Fraction) -> Fraction | None:
    """``numerator / denominator`` as an exact percentage, or None when undefined."""
    if denominator <= 0:
        return None
    return Fraction(numerator) * 100 / Fraction(denominator)


def round_half_up(value: Fraction | float | None, places: int = 2) -> Decimal | None:
    """``value`` rounded half-up to ``places`` decimals, decided on its exact value.

    Floats are taken at their exact binary value (``Fraction(0.15)`` is a hair below
    0.15), so the result never depends on how a float happens to print.
    """
    if value is None:
        return None
    exact = value if isinstance(value, Fraction) else Fraction(value)
    rounded = math.floor(exact * 10**places + Fraction(1, 2))
    return Decimal(rounded).scaleb(-places)


pct = round_half_up  # percentages are displayed with it


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one interval (or total) for one group; see the module docstring."""

    offered: int
    answered: int
    answered_within: int
    abandoned: int
    abandoned_within: int
    short_abandons: int
    waiting: int
    wait_answered_s: float
    longest_wait_s: float | None
    handled: int
    talk_s: float
    hold_s: float
    wrap_s: float
    handle_s: float
    callbacks_requested: int
    callbacks_completed: int
    survey_responses: int
    survey_score_sum: int
    survey_top2: int
    agent_logged_in_s: float | None
    agent_available_s: float | None
    agent_busy_s: float | None
    sl_formula: str = "offered"

    @property
    def sl_offered(self) -> Fraction | None:
        return ratio(self.answered_within, self.offered - self.short_abandons)

    @property
    def sl_asterisk(self) -> Fraction | None:
        return ratio(self.answered_within, self.answered)

    @property
    def sl2_asterisk(self) -> Fraction | None:
        return ratio(self.answered_within + self.abandoned_within, self.answered + self.abandoned)

    @property
    def service_level(self) -> Fraction | None:
        return {"offered": self.sl_offered, "asterisk-sl": self.sl_asterisk, "asterisk-sl2": self.sl2_asterisk}[
            self.sl_formula
        ]

    @property
    def abandonment_rate(self) -> Fraction | None:
        return ratio(self.abandoned - self.short_abandons, self.offered - self.short_abandons)

    @property
    def asa_s(self) -> float | None:
        return self.wait_answered_s / self.answered if self.answered else None

    @property
    def aht_s(self) -> float | None:
        return self.handle_s / self.handled if self.handled else None

    @property
    def survey_average(self) -> Fraction | None:
        return Fraction(self.survey_score_sum, self.survey_responses) if self.survey_responses else None

    @property
    def survey_top2_pct(self) -> Fraction | None:
        return ratio(self.survey_top2, self.survey_responses)

    @property
    def occupancy(self) -> Fraction | None:
        if self.agent_busy_s is None or self.agent_available_s is None:
            return None
        return ratio(Fraction(self.agent_busy_s), Fraction(self.agent_available_s) + Fraction(self.agent_busy_s))


@dataclass(slots=True)
class _Acc:
    """Mutable accumulator behind one ``Figures``."""

    agents: bool
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandons: int = 0
    waiting: int = 0
    waits_answered: list[float] = field(default_factory=list)
    longest: float | None = None
    handled: int = 0
    talk: list[float] = field(default_factory=list)
    hold: list[float] = field(default_factory=list)
    wrap: list[float] = field(default_factory=list)
    handle: list[float] = field(default_factory=list)
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    survey_responses: int = 0
    survey_score_sum: int = 0
    survey_top2: int = 0
    logged_in: list[float] = field(default_factory=list)
    available: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)

    def add_episode(self, episode: Episode, threshold_s: float, short_abandon_s: float) -> None:
        self.offered += 1
        if episode.outcome is None:
            self.waiting += 1
            return
        wait = episode.waited_s if episode.waited_s is not None else 0.0
        self.longest = wait if self.longest is None else max(self.longest, wait)
        if episode.outcome == "answered":
            self.answered += 1
            self.waits_answered.append(wait)
            if wait <= threshold_s:
                self.answered_within += 1
            if episode.handled:
                self.handled += 1
                self.talk.append(episode.talk_s or 0.0)
                self.hold.append(episode.hold_s or 0.0)
                self.wrap.append(episode.wrap_s or 0.0)
                self.handle.append(episode.handle_s)
        else:
            self.abandoned += 1
            if wait <= threshold_s:
                self.abandoned_within += 1
            if wait <= short_abandon_s:
                self.short_abandons += 1

    def add_agent_time(self, state: str, seconds: float) -> None:
        if state == "logged_out":
            return
        self.logged_in.append(seconds)
        if state == "available":
            self.available.append(seconds)
        elif state in BUSY_STATES:
            self.busy.append(seconds)

    def figures(self, sl_formula: str) -> Figures:
        return Figures(
            offered=self.offered,
            answered=self.answered,
            answered_within=self.answered_within,
            abandoned=self.abandoned,
            abandoned_within=self.abandoned_within,
            short_abandons=self.short_abandons,
            waiting=self.waiting,
            wait_answered_s=math.fsum(self.waits_answered),
            longest_wait_s=self.longest,
            handled=self.handled,
            talk_s=math.fsum(self.talk),
            hold_s=math.fsum(self.hold),
            wrap_s=math.fsum(self.wrap),
            handle_s=math.fsum(self.handle),
            callbacks_requested=self.callbacks_requested,
            callbacks_completed=self.callbacks_completed,
            survey_responses=self.survey_responses,
            survey_score_sum=self.survey_score_sum,
            survey_top2=self.survey_top2,
            agent_logged_in_s=math.fsum(self.logged_in) if self.agents else None,
            agent_available_s=math.fsum(self.available) if self.agents else None,
            agent_busy_s=math.fsum(self.busy) if self.agents else None,
            sl_formula=sl_formula,
        )


@dataclass(frozen=True, slots=True)
class ReportParams:
    start: float
    end: float
    interval: str = "60"
    timezone: str = DEFAULT_TIMEZONE
    threshold_s: float = DEFAULT_THRESHOLD_S
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S
    sl_formula: str = "offered"
    by: str | None = None
    queue: str | None = None
    now: float | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One interval: its totals, its per-group figures and the incidents overlapping it."""

    start: float
    end: float
    label: datetime
    figures: Figures
    groups: dict[str, Figures]
    incidents: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Report:
    params: ReportParams
    rows: list[Row]
    total: Figures
    group_totals: dict[str, Figures]
    incidents: list[Incident]


def _valid_score(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    score = int(value)
    return score if 1 <= score <= 5 else None


class _Builder:
    def __init__(self, params: ReportParams, bks: list[Bucket]) -> None:
        self.params = params
        self.buckets = bks
        self.starts = [b.start for b in bks]
        agents = params.queue is None
        self.rows = [_Acc(agents) for _ in bks]
        self.row_groups: list[dict[str, _Acc]] = [{} for _ in bks]
        self.total = _Acc(agents)
        self.group_totals: dict[str, _Acc] = {}

    def index(self, ts: float) -> int | None:
        return bucket_of(self.starts, self.params.end, ts)

    def targets(self, index: int, groups: Sequence[str]) -> list[_Acc]:
        accs = [self.rows[index], self.total]
        if self.params.by is not None:
            for group in dict.fromkeys(groups or [NO_GROUP]):
                accs.append(self.row_groups[index].setdefault(group, _Acc(False)))
                accs.append(self.group_totals.setdefault(group, _Acc(False)))
        return accs

    def groups_of(self, queue: str | None, skills: Sequence[str]) -> list[str]:
        if self.params.by == "skill":
            return list(skills) or [NO_GROUP]
        return [queue or NO_GROUP]

    def wanted(self, queue: str | None) -> bool:
        return self.params.queue is None or queue == self.params.queue


def _context(rp: Replay, event: Event) -> tuple[str | None, tuple[str, ...]]:
    """Queue and skills for a callback or survey event: its own queue, else its call's."""
    episode = rp.episode_at(event.call_id, event.ts)
    queue = event.queue if event.queue is not None else (episode.queue if episode else None)
    return queue, (episode.skills if episode else ())


def compute_report(
    events: Iterable[Event],
    start: float,
    end: float,
    *,
    interval: str = "60",
    timezone: str = DEFAULT_TIMEZONE,
    by: str | None = None,
    queue: str | None = None,
    threshold_s: float = DEFAULT_THRESHOLD_S,
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S,
    sl_formula: str = "offered",
    now: float | None = None,
    incidents: Sequence[Incident] = (),
) -> Report:
    """Figures per interval of ``[start, end)`` (and in total) from ``events``.

    ``now`` (UNIX s) ends agent states still open at the end of the data; without it they
    run to ``end``.  Pass the same ``now`` to get the same figures again.
    """
    if by not in (None, "queue", "skill"):
        raise ValueError(f"by must be 'queue' or 'skill', not {by!r}")
    if sl_formula not in SL_FORMULAS:
        raise ValueError(f"sl_formula must be one of {SL_FORMULAS}, not {sl_formula!r}")
    params = ReportParams(start, end, interval, timezone, threshold_s, short_abandon_s, sl_formula, by, queue, now)
    bks = buckets(start, end, interval, zone(timezone))
    builder = _Builder(params, bks)
    rp = replay(events)

    for episode in rp.episodes:
        index = builder.index(episode.offered_ts)
        if index is None or not builder.wanted(episode.queue):
            continue
        for acc in builder.targets(index, builder.groups_of(episode.queue, episode.skills)):
            acc.add_episode(episode, threshold_s, short_abandon_s)

    for event in rp.events:
        if event.type not in ("callback.requested", "callback.completed", "survey.answer"):
            continue
        index = builder.index(event.ts)
        if index is None:
            continue
        event_queue, skills = _context(rp, event)
        if not builder.wanted(event_queue):
            continue
        score = _valid_score(event.data.get("score")) if event.type == "survey.answer" else None
        if event.type == "survey.answer" and score is None:
            continue
        for acc in builder.targets(index, builder.groups_of(event_queue, skills)):
            if event.type == "callback.requested":
                acc.callbacks_requested += 1
            elif event.type == "callback.completed":
                acc.callbacks_completed += 1
            elif score is not None:
                acc.survey_responses += 1
                acc.survey_score_sum += score
                acc.survey_top2 += score >= 4

    if queue is None:
        until = end if now is None else min(end, now)
        for segments in rp.timelines.values():
            for segment in segments:
                _add_segment(builder, segment.state, segment.start, segment.end, until)

    rows = []
    for index, bucket in enumerate(bks):
        rows.append(
            Row(
                start=bucket.start,
                end=bucket.end,
                label=bucket.label,
                figures=builder.rows[index].figures(sl_formula),
                groups={g: a.figures(sl_formula) for g, a in sorted(builder.row_groups[index].items())},
                incidents=tuple(i.id for i in incidents if i.overlaps(bucket.start, bucket.end)),
            )
        )
    return Report(
        params=params,
        rows=rows,
        total=builder.total.figures(sl_formula),
        group_totals={g: a.figures(sl_formula) for g, a in sorted(builder.group_totals.items())},
        incidents=[i for i in incidents if i.overlaps(start, end)],
    )


def _add_segment(builder: _Builder, state: str, seg_start: float, seg_end: float | None, until: float) -> None:
    if state == "logged_out":
        return  # counts nowhere; skipping it keeps nights and weekends cheap
    lo = max(seg_start, builder.params.start)
    hi = until if seg_end is None else min(seg_end, until)
    if not hi > lo:
        return
    index = builder.index(lo)
    while index is not None and index < len(builder.buckets) and builder.buckets[index].start < hi:
        bucket = builder.buckets[index]
        seconds = min(hi, bucket.end) - max(lo, bucket.start)
        if seconds > 0:
            builder.rows[index].add_agent_time(state, seconds)
            builder.total.add_agent_time(state, seconds)
        index += 1


__all__ = [
    "DEFAULT_SHORT_ABANDON_S",
    "DEFAULT_THRESHOLD_S",
    "Figures",
    "Report",
    "ReportParams",
    "Row",
    "SL_FORMULAS",
    "compute_report",
    "pct",
    "ratio",
    "round_half_up",
]
