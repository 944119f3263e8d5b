"""Contact-center reports: pure functions from a list of events to exact figures.

``compute_report`` replays a plain list of ``Event`` (the SQLite store is only one way
to get it) through :class:`acd.metrics.ledger.Ledger`, the same code the running engine
feeds event by event for its live figures (``acd.metrics.live``).  So a report
recomputed from the log is, by construction, what the wallboard showed.  The
attribution rules (which interval and queue a call belongs to, overflows, skills,
wrap-up) are documented in ``acd.metrics.ledger``.

Figures (``T`` = service-level threshold, default 25 s; ``N`` = short-abandon limit,
default 5 s; waits are ``data.waited_s``, measured from when the caller started waiting)
    offered            episodes offered in the interval
    answered           ... answered by an agent
    answered_within    ... answered with wait <= T
    abandoned          ... abandoned by the caller in the queue
    abandoned_within   ... abandoned with wait <= T (only for Asterisk's SL2)
    short_abandons     ... abandoned with wait <= N (callers who hung up almost at once)
    timed_out          ... that reached the queue's max wait with nowhere to overflow
                       (not answered: they stay in the service-level base)
    overflowed_out     calls that left this queue for another (counted as offered in
                       the queue that finished them, not here)
    waiting            offered and not decided yet: still queued at the end of the
                       data, or gone another way (e.g. took a callback with no
                       ``call.abandoned`` logged); it stays in the offered base of the
                       default service level, except ...
    pending_within     ... calls still waiting at ``now`` whose wait is still within T:
                       not yet a success or a failure, left out of the default base
                       (so fresh arrivals do not dip the wallboard; 0 once all decided)
    service_level %    formula ``offered`` (default, the tender's):
                           answered_within / (offered - short_abandons - pending_within)
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
    longest_wait_s     longest wait among decided episodes (answered, abandoned, timed out)
    callbacks_*        ``callback.requested`` / ``callback.completed`` events
    survey_*           ``survey.answer`` events with a score 1-5: responses, average
                       score, % of responses scoring 4 or 5
    agent_*_s          agent-seconds logged in (any state but logged_out), available,
                       busy (reserved + on_call + wrap_up); only for all queues together,
                       because an agent's time cannot be split between queues
    occupancy %        busy / (available + busy): paused time is excluded
A figure whose denominator is zero is ``None`` (shown as "-"), never 0 % or 100 %.

Exactness: counts are integers, rates are ``fractions.Fraction`` (exact), sums of
seconds are exact (``acd.metrics.ledger.ExactSum``) converted once (correctly rounded, like ``math.fsum``, so
independent of event order).  Rounding
happens only when a figure is displayed (half-up, see ``pct``).

Long on purpose: the formulas above and the code that applies them (figures from
accumulators, the report's rows, the fast integer paths pinned to those formulas by
``tests/metrics/test_report_fast_paths.py``) are read together; split, a formula and its
fast path would drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import Callable, Iterable, Iterator, Literal, Mapping, Sequence

from acd.metrics.cells import Cell, GroupKey, compute_cells
from acd.metrics.estimates import summarize
from acd.base.events import Event
from acd.metrics.ledger import (
    _COUNTS as ACC_COUNTS,
    _SUMS as ACC_SUMS,
    DEFAULT_SHORT_ABANDON_S,
    DEFAULT_THRESHOLD_S,
    NO_GROUP,
    Acc,
    ExactSum,
    QueueRules,
    Rules,
    in_order,
)
from acd.metrics.store import Incident
from acd.metrics.timeutil import DEFAULT_TIMEZONE, Bucket, bucket_of, buckets, zone

SlFormula = Literal["offered", "asterisk-sl", "asterisk-sl2"]
SL_FORMULAS: tuple[str, ...] = ("offered", "asterisk-sl", "asterisk-sl2")


def ratio(numerator: int | float | Fraction, denominator: int | float | Fraction) -> Fraction | None:
    """``numerator / denominator`` as an exact percentage, or None when undefined."""
    if denominator <= 0:
        return None
    if type(numerator) is int and type(denominator) is int:  # the usual case: one normalisation, not three
        return Fraction(numerator * 100, denominator)
    return Fraction(numerator) * 100 / Fraction(denominator)


def round_half_up(value: Fraction | float | None, places: int = 2) -> Decimal | None:
    """``value`` rounded half-up to ``places`` decimals, decided on its exact value.

    Floats are taken at their exact binary value (``Fraction(0.15)`` is a hair below
    0.15), so the result never depends on how a float happens to print.
    """
    if value is None:
        return None
    # floor(n/d * 10^places + 1/2) in integers: exact, and a month of quarter hours has
    # tens of thousands of these (Fraction arithmetic made them half of a report's time)
    n, d = (value.numerator, value.denominator) if isinstance(value, Fraction) else value.as_integer_ratio()
    rounded = (2 * n * 10**places + d) // (2 * d)
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
    timed_out: int = 0
    overflowed_out: int = 0
    pending_within: int = 0
    sl_formula: str = "offered"

    @property
    def sl_offered(self) -> Fraction | None:
        return ratio(self.answered_within, self.offered - self.short_abandons - self.pending_within)

    @property
    def service_levels(self) -> dict[str, Fraction | None]:
        """Every formula's value, keyed by formula name."""
        return {"offered": self.sl_offered, "asterisk-sl": self.sl_asterisk, "asterisk-sl2": self.sl2_asterisk}

    @property
    def sl_asterisk(self) -> Fraction | None:
        return ratio(self.answered_within, self.answered)

    @property
    def sl2_asterisk(self) -> Fraction | None:
        return ratio(self.answered_within + self.abandoned_within, self.answered + self.abandoned)

    @property
    def service_level(self) -> Fraction | None:
        if self.sl_formula == "offered":  # the usual one, without computing the other two
            return self.sl_offered
        return self.service_levels[self.sl_formula]

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
        # busy / (available + busy) of two floats, exactly, in integers (floats are n / 2^k)
        busy_n, busy_d = float(self.agent_busy_s).as_integer_ratio()
        free_n, free_d = float(self.agent_available_s).as_integer_ratio()
        return ratio(busy_n * free_d, free_n * busy_d + busy_n * free_d)


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
    wait_estimates: dict[str, float | int | None] = field(default_factory=dict)  # see acd.metrics.estimates
    queue_rules: dict[str, QueueRules] = field(default_factory=dict)  # queues with their own threshold


class RowBuckets:
    """Report rows as a :class:`~acd.metrics.ledger.Bucketing`: keys are row indexes."""

    def __init__(self, bks: Sequence[Bucket], end: float) -> None:
        self.buckets = list(bks)
        self.starts = [b.start for b in bks]
        self.end = end

    def locate(self, ts: float) -> int | None:
        return bucket_of(self.starts, self.end, ts)

    def pieces(self, lo: float, hi: float) -> Iterator[tuple[int, float]]:
        if not self.buckets:
            return
        lo = max(lo, self.starts[0])
        index = self.locate(lo)
        while index is not None and index < len(self.buckets) and self.buckets[index].start < hi:
            bucket = self.buckets[index]
            seconds = min(hi, bucket.end) - max(lo, bucket.start)
            if seconds > 0:
                yield index, seconds
            index += 1


class WholeRange:
    """The report's total: one key for the whole range, made of the same pieces as the rows."""

    def __init__(self, rows: RowBuckets) -> None:
        self.rows = rows

    def locate(self, ts: float) -> int | None:
        return None if self.rows.locate(ts) is None else 0

    def pieces(self, lo: float, hi: float) -> Iterator[tuple[int, float]]:
        for _, seconds in self.rows.pieces(lo, hi):
            yield 0, seconds


_NO_ACC = Acc()  # read only: what an interval without calls or agents shows


def figures_of(acc: Acc | None, sl_formula: str, *, pending_within: int = 0, open_time: Acc | None = None, agents: bool = True) -> Figures:
    """Display-ready figures of one ledger accumulator (``None``: nothing happened there)."""
    acc = acc or _NO_ACC

    def agent_s(name: str) -> float | None:
        if not agents:
            return None
        mine = getattr(acc, name)
        return float(mine if open_time is None else mine.merge(getattr(open_time, name)))

    return Figures(
        offered=acc.offered,
        answered=acc.answered,
        answered_within=acc.answered_within,
        abandoned=acc.abandoned,
        abandoned_within=acc.abandoned_within,
        short_abandons=acc.short_abandons,
        waiting=acc.waiting,
        wait_answered_s=float(acc.wait_answered),  # each sum rounded once, exactly
        longest_wait_s=acc.longest,
        handled=acc.handled,
        talk_s=float(acc.talk),
        hold_s=float(acc.hold),
        wrap_s=float(acc.wrap),
        handle_s=float(acc.talk.merge(acc.hold).merge(acc.wrap)),
        callbacks_requested=acc.callbacks_requested,
        callbacks_completed=acc.callbacks_completed,
        survey_responses=acc.survey_responses,
        survey_score_sum=acc.survey_score_sum,
        survey_top2=acc.survey_top2,
        agent_logged_in_s=agent_s("logged_in"),
        agent_available_s=agent_s("available"),
        agent_busy_s=agent_s("busy"),
        timed_out=acc.timed_out,
        overflowed_out=acc.overflowed_out,
        pending_within=pending_within,
        sl_formula=sl_formula,
    )


def _check_options(by: str | None, sl_formula: str, formulas: Mapping[str, str]) -> None:
    if by not in (None, "queue", "skill"):
        raise ValueError(f"by must be 'queue' or 'skill', not {by!r}")
    for formula in (sl_formula, *formulas.values()):
        if formula not in SL_FORMULAS:
            raise ValueError(f"sl_formula must be one of {SL_FORMULAS}, not {formula!r}")


def report_rules(threshold_s: float, short_abandon_s: float, queue_rules: Mapping[str, QueueRules] | None) -> Rules:
    """The ledger's rules for a report's thresholds (the cells depend on nothing else)."""
    return Rules(QueueRules(threshold_s, short_abandon_s), queue_rules)


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
    queue_rules: Mapping[str, QueueRules] | None = None,
    queue_formulas: Mapping[str, str] | None = None,
) -> Report:
    """Figures per interval of ``[start, end)`` (and in total) from ``events``.

    ``now`` (UNIX s) ends agent states still open at the end of the data (without it they
    run to ``end``) and tells which waiting calls are still within their threshold (see
    ``pending_within``).  Pass the same ``now`` to get the same figures again.
    ``queue_rules`` gives queues their own threshold and short-abandon limit (the
    routing configuration's) instead of ``threshold_s``/``short_abandon_s``;
    ``queue_formulas`` their own service-level formula in the per-queue rows.
    The events become quarter-hour cells (``acd.metrics.cells``) merged into rows, the
    same path a report from stored cells takes (``acd.metrics.aggregates``).
    """
    formulas = dict(queue_formulas or {})
    _check_options(by, sl_formula, formulas)
    params = ReportParams(start, end, interval, timezone, threshold_s, short_abandon_s, sl_formula, by, queue, now)
    buckets(start, end, interval, zone(timezone))  # an unknown interval or zone fails before the work
    rules = report_rules(threshold_s, short_abandon_s, queue_rules)
    cells = compute_cells(in_order(events), start, end, rules=rules, now=now)
    return compose_report(cells, params, incidents=incidents, queue_rules=queue_rules, queue_formulas=formulas)


def selection(by: str | None, queue: str | None) -> tuple[GroupKey, Callable[[GroupKey], str | None]]:
    """Which cell group is a report's total, and the row-group name (if any) of each cell group.

    ``--queue q`` reads the ``("queue", q)`` group, and ``--queue q --by skill`` the
    ``("queue_skill", q, s)`` groups: the ledger books a call in the same accumulators
    whether or not other queues are kept beside it.
    """
    total: GroupKey = () if queue is None else ("queue", queue)

    def name(group: GroupKey) -> str | None:
        if by == "queue":
            return group[1] if group[:1] == ("queue",) and (queue is None or group[1] == queue) else None
        if by == "skill":
            if queue is None:
                return group[1] if group[:1] == ("skill",) else None
            return group[2] if group[:2] == ("queue_skill", queue) else None
        return None

    return total, name


class _Sums:
    """Accumulators of one row (or the total) gathered from cells, by selected group, summed once at the end."""

    def __init__(self) -> None:
        self.totals: list[Acc] = []
        self.pending = 0
        self.group_accs: dict[str, list[Acc]] = {}
        self.group_pending: dict[str, int] = {}

    def add(self, cell: Cell, total_key: GroupKey, names: dict[GroupKey, str | None], name_of: Callable[[GroupKey], str | None]) -> None:
        for group, acc in cell.accs.items():
            if group == total_key:
                self.totals.append(acc)
                self.pending += cell.pending.get(group, 0)
                continue
            if group not in names:
                names[group] = name_of(group)
            name = names[group]
            if name is None:
                continue
            self.group_accs.setdefault(name, []).append(acc)
            self.group_pending[name] = self.group_pending.get(name, 0) + cell.pending.get(group, 0)

    @property
    def total(self) -> Acc | None:
        return summed(self.totals)

    @property
    def groups(self) -> dict[str, Acc]:
        return {name: summed(accs) for name, accs in self.group_accs.items()}  # type: ignore[misc]


_COUNT_GETTERS = tuple((name, attrgetter(name)) for name in ACC_COUNTS)
_SUM_GETTERS = tuple((name, attrgetter(name)) for name in ACC_SUMS)


def summed(accs: Sequence[Acc]) -> Acc | None:
    """The exact sum of ``accs`` (as :meth:`Acc.absorb` one by one would give), in one pass per field.

    A month in quarter hours merges thousands of cells: field by field with ``sum`` it is
    several times faster than absorbing them one at a time.  One accumulator is returned
    as is (the figures only read it)."""
    if not accs:
        return None
    if len(accs) == 1:
        return accs[0]
    out = Acc()
    for name, get in _COUNT_GETTERS:
        setattr(out, name, sum(map(get, accs)))
    for name, get in _SUM_GETTERS:
        parts = list(map(get, accs))
        shift = max(part.shift for part in parts)
        total = ExactSum()
        total.n = sum(part.n << (shift - part.shift) for part in parts)
        total.shift = shift
        setattr(out, name, total)
    longest = [acc.longest for acc in accs if acc.longest is not None]
    out.longest = max(longest) if longest else None
    return out


def compose_report(
    cells: Iterable[Cell],
    params: ReportParams,
    *,
    incidents: Sequence[Incident] = (),
    queue_rules: Mapping[str, QueueRules] | None = None,
    queue_formulas: Mapping[str, str] | None = None,
) -> Report:
    """A report's rows and totals merged from the cells covering ``[params.start, params.end)``."""
    p = params
    formulas = dict(queue_formulas or {})
    _check_options(p.by, p.sl_formula, formulas)
    bks = buckets(p.start, p.end, p.interval, zone(p.timezone))
    starts = [b.start for b in bks]
    total_key, name_of = selection(p.by, p.queue)
    names: dict[GroupKey, str | None] = {}
    row_sums = [_Sums() for _ in bks]
    grand = _Sums()
    errors: list[float] = []
    for cell in cells:
        index = bucket_of(starts, p.end, cell.start)
        if index is None:
            continue
        row_sums[index].add(cell, total_key, names, name_of)
        grand.add(cell, total_key, names, name_of)
        errors.extend(error for queue, error in cell.errors if p.queue is None or queue == p.queue)
    agents = p.queue is None

    def figures(sums: _Sums) -> Figures:
        return figures_of(sums.total, p.sl_formula, pending_within=sums.pending, agents=agents)

    def groups(sums: _Sums) -> dict[str, Figures]:
        return {
            name: figures_of(acc, formulas.get(name, p.sl_formula) if p.by == "queue" else p.sl_formula,
                             pending_within=sums.group_pending.get(name, 0), agents=False)
            for name, acc in sorted(sums.groups.items()) if acc is not None and not acc.is_empty()
        }

    rows = [
        Row(
            start=bucket.start,
            end=bucket.end,
            label=bucket.label,
            figures=figures(sums),
            groups=groups(sums),
            incidents=tuple(i.id for i in incidents if i.overlaps(bucket.start, bucket.end)),
        )
        for bucket, sums in zip(bks, row_sums)
    ]
    return Report(
        params=p,
        rows=rows,
        total=figures(grand),
        group_totals=groups(grand),
        incidents=[i for i in incidents if i.overlaps(p.start, p.end)],
        wait_estimates=summarize(errors),
        queue_rules=dict(queue_rules or {}),
    )


__all__ = [
    "DEFAULT_SHORT_ABANDON_S",
    "DEFAULT_THRESHOLD_S",
    "Figures",
    "NO_GROUP",
    "QueueRules",
    "RowBuckets",
    "WholeRange",
    "figures_of",
    "in_order",
    "Report",
    "ReportParams",
    "Row",
    "SL_FORMULAS",
    "compose_report",
    "compute_report",
    "report_rules",
    "selection",
    "pct",
    "ratio",
    "round_half_up",
]
