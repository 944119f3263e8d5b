"""Contact-centre figures kept up to date one event at a time.

This is the one implementation behind every figure ``acd`` shows: ``acd report``,
``acd sla`` and ``acd simulate`` replay the event log through a :class:`Ledger` in time
order, and the running engine feeds its own ledger (``acd.metrics.live``) each event as
it is logged.  Because both are the same code fed the same events, a report recomputed
from the log equals the live figures by construction, not by two implementations being
kept in step.

Attribution (the rules the figures follow; see ``acd.metrics.reports`` for the formulas)
    A queue **episode** is one stay of a call in the ACD, from the ``call.queued`` (or a
    ``call.requeued`` whose ``call.queued`` was lost) that finds the call not already
    waiting, until ``call.answered``, ``call.abandoned`` or ``call.timed_out``.  While it
    is open, ``call.requeued`` (ring-no-answer, resync, restart), ``call.overflowed`` and
    further ``call.queued`` events only move it; they are not new offers.  A call sent
    back to a queue after being answered starts a new episode.

    An episode belongs to the interval in which it was **offered** (its first event),
    even if it is decided in the next one, and to the queue it **ended** in (while open:
    the queue it is in now).  An overflowed call is therefore offered, answered or lost
    only in the queue that finally answered or lost it; the queue it left counts it in
    ``overflowed_out`` only.  No call is counted twice.  Its skills are those of its last
    ``call.queued``; by skill, a call with two skills counts in both rows.

    Callbacks and survey answers belong to the interval in which they happened and to
    their own queue (else their call's), with their call's skills.  They find their
    call while its episode is open or up to ``EXTRA_WINDOW_S`` after it was decided or
    completed (a survey follows its call within minutes, a callback's completion its
    answer within seconds); later, they count in their own queue without skills.  Agent
    time belongs to the interval in which it was spent, for all queues together only.

    An answered call is *handled* once it is completed and its wrap-up is over: the
    wrap-up of a call is the first ``wrap_up`` period of the answering agent that starts
    after the answer and before that agent answers another call (none: 0 s; still open:
    not known yet, so the call is not handled yet).

Why retraction: an episode can move between queues, change skills, or become
un-handled again (its wrap-up starts after ``call.completed``).  Each episode remembers
what it last added to which accumulators; when it changes it is marked dirty and, before
figures are read, its old contribution is subtracted and the new one added.  Sums of
seconds are exact (:class:`ExactSum`), so adding, subtracting and event order never
change a figure (converted once, correctly rounded, like ``math.fsum``).

Why retirement (a running engine's memory): an episode that is *settled* (decided, and
if answered completed with its wrap-up attributed or no longer attributable) can no
longer change except through callbacks and surveys.  :meth:`Ledger.retire_settled` drops
it and keeps only its queue and skills for ``EXTRA_WINDOW_S``, so the live figures hold
the calls of the last minutes, not one object per call of the day.  What it had added to
the accumulators stays; a later callback or survey answer is booked directly where a
re-booking would have put it, so the figures are the same as a report's.

Long on purpose: this file is the specification of every figure; the attribution rules
above and the :class:`Ledger` methods that apply them are read together, and one place
is what makes live and replayed figures equal by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable, Iterator, Literal, Mapping, Protocol, Sequence

from acd.base.events import Event

EpisodeOutcome = Literal["answered", "abandoned", "timed_out"]
BUSY_STATES = frozenset({"reserved", "on_call", "wrap_up"})
NO_GROUP = "(none)"
DEFAULT_THRESHOLD_S = 25.0
DEFAULT_SHORT_ABANDON_S = 5.0
#: how long after its call was decided (or completed) a callback or survey answer still
#: takes that call's queue and skills (see the module notes)
EXTRA_WINDOW_S = 3600.0

Group = tuple[str, ...] | None  # None: every call; ("queue", q), ("skill", s) or ("queue_skill", q, s)


@dataclass(frozen=True, slots=True)
class QueueRules:
    """What "within" and "short abandon" mean for one queue."""

    threshold_s: float = DEFAULT_THRESHOLD_S
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S


class Rules:
    """Per-queue thresholds, with a default for queues not listed (and for no queue)."""

    def __init__(self, default: QueueRules = QueueRules(), per_queue: Mapping[str, QueueRules] | None = None) -> None:
        self.default = default
        self.per_queue = dict(per_queue or {})

    def of(self, queue: str | None) -> QueueRules:
        return self.per_queue.get(queue, self.default) if queue is not None else self.default


class Bucketing(Protocol):
    """How time is cut into rows: a key per instant, and the keyed pieces of a period."""

    def locate(self, ts: float) -> Hashable | None: ...

    def pieces(self, lo: float, hi: float) -> Iterator[tuple[Hashable, float]]:
        """``(key, seconds)`` for each bucket overlapping ``[lo, hi)``."""
        ...


class ExactSum:
    """A running sum of floats kept exactly, as an integer count of ``2**-shift``.

    Every float is an integer times a power of two, so the sum of any floats is exactly
    ``n / 2**shift`` for some integers; Python's integer division rounds that correctly
    once at the end (the same value ``math.fsum`` gives), and subtracting a value added
    earlier restores the previous sum exactly.  Much cheaper than ``Fraction``.
    """

    __slots__ = ("n", "shift")

    def __init__(self) -> None:
        self.n = 0
        self.shift = 0

    def add(self, value: float, sign: int = 1) -> None:
        if not value:
            return
        numerator, denominator = value.as_integer_ratio()
        places = denominator.bit_length() - 1  # the denominator is a power of two
        if places > self.shift:
            self.n <<= places - self.shift
            self.shift = places
        self.n += sign * (numerator << (self.shift - places))

    def merge(self, other: ExactSum) -> ExactSum:
        total = ExactSum()
        shift = max(self.shift, other.shift)
        total.n = (self.n << (shift - self.shift)) + (other.n << (shift - other.shift))
        total.shift = shift
        return total

    def __float__(self) -> float:
        return self.n / (1 << self.shift)  # int / int is correctly rounded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExactSum):
            return NotImplemented
        shift = max(self.shift, other.shift)
        return self.n << (shift - self.shift) == other.n << (shift - other.shift)

    def __repr__(self) -> str:
        return f"ExactSum({float(self)!r})"


@dataclass(slots=True)
class Acc:
    """Running totals behind one row of figures (one bucket, one group)."""

    offered: int = 0
    waiting: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandons: int = 0
    timed_out: int = 0
    overflowed_out: int = 0
    handled: int = 0
    wait_answered: ExactSum = field(default_factory=ExactSum)
    talk: ExactSum = field(default_factory=ExactSum)
    hold: ExactSum = field(default_factory=ExactSum)
    wrap: ExactSum = field(default_factory=ExactSum)
    longest: float | None = None
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    survey_responses: int = 0
    survey_score_sum: int = 0
    survey_top2: int = 0
    logged_in: ExactSum = field(default_factory=ExactSum)
    available: ExactSum = field(default_factory=ExactSum)
    busy: ExactSum = field(default_factory=ExactSum)

    def is_empty(self) -> bool:
        """Nothing left in it (e.g. every call it had moved to another queue)."""
        return self == _EMPTY

    def add_call(self, delta: _CallDelta, sign: int) -> None:
        self.offered += sign
        self.waiting += sign * delta.waiting
        self.answered += sign * delta.answered
        self.answered_within += sign * delta.answered_within
        self.abandoned += sign * delta.abandoned
        self.abandoned_within += sign * delta.abandoned_within
        self.short_abandons += sign * delta.short_abandons
        self.timed_out += sign * delta.timed_out
        if delta.answered:
            self.wait_answered.add(delta.wait, sign)
        if delta.handled:
            self.handled += sign
            self.talk.add(delta.talk, sign)
            self.hold.add(delta.hold, sign)
            self.wrap.add(delta.wrap, sign)

    def add_extra(self, kind: str, score: int | None, sign: int) -> None:
        if kind == "callback.requested":
            self.callbacks_requested += sign
        elif kind == "callback.completed":
            self.callbacks_completed += sign
        elif score is not None:
            self.survey_responses += sign
            self.survey_score_sum += sign * score
            self.survey_top2 += sign * (score >= 4)

    def add_agent_time(self, state: str, seconds: float) -> None:
        if state == "logged_out":
            return
        self.logged_in.add(seconds)
        if state == "available":
            self.available.add(seconds)
        elif state in BUSY_STATES:
            self.busy.add(seconds)

    def see_wait(self, wait: float) -> None:
        self.longest = wait if self.longest is None else max(self.longest, wait)

    def absorb(self, other: Acc) -> None:
        """Add ``other``'s totals to these: the accumulator of two buckets together.

        Exact (integers, :class:`ExactSum` merges and a maximum), so figures of an hour, a
        day or a month made of quarter-hour accumulators are those of one bucket that size
        made of the same quarter-hour pieces (``acd.metrics.cells``).
        """
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _SUMS:
            setattr(self, name, getattr(self, name).merge(getattr(other, name)))
        if other.longest is not None:
            self.see_wait(other.longest)


_EMPTY = Acc()
_SUMS = ("wait_answered", "talk", "hold", "wrap", "logged_in", "available", "busy")
_COUNTS = tuple(name for name in Acc.__dataclass_fields__ if name not in _SUMS and name != "longest")


@dataclass(frozen=True, slots=True)
class _CallDelta:
    """What one episode adds to each accumulator it belongs to (offered is always 1)."""

    waiting: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandons: int = 0
    timed_out: int = 0
    handled: int = 0
    wait: float = 0.0
    talk: float = 0.0
    hold: float = 0.0
    wrap: float = 0.0


@dataclass(slots=True, eq=False)
class _Extra:
    """A callback or survey answer that follows its episode's queue and skills."""

    kind: str
    ts: float
    queue: str | None  # its own queue; None: the episode's
    score: int | None


@dataclass(frozen=True, slots=True)
class _Settled:
    """What a retired episode leaves for its call's later callbacks and surveys."""

    queue: str | None
    skills: tuple[str, ...]
    closed_ts: float


@dataclass(slots=True, eq=False)
class Episode:
    """One queue stay of a call (see the module docstring)."""

    call_id: str
    offered_ts: float
    wait_origin: float
    queue: str | None
    skills: tuple[str, ...]
    outcome: EpisodeOutcome | None = None
    outcome_ts: float | None = None
    waited_s: float | None = None
    agent_id: str | None = None
    talk_s: float = 0.0
    hold_s: float = 0.0
    completed: bool = False
    wrap_start: float | None = None  # the wrap-up period still open, if any
    wrap_s: float = 0.0
    wrap_seen: bool = False  # a wrap-up period was attributed (the first one counts)
    closed_ts: float | None = None  # decided, then completed: where EXTRA_WINDOW_S counts from
    extras: list[_Extra] = field(default_factory=list)
    # what was last added, so it can be taken back
    applied_calls: list[tuple[Acc, _CallDelta]] = field(default_factory=list)
    applied_extras: list[tuple[Acc, str, int | None]] = field(default_factory=list)
    longest_booked: bool = False

    @property
    def handled(self) -> bool:
        return self.outcome == "answered" and self.completed and self.wrap_start is None


def in_order(events: Iterable[Event]) -> list[Event]:
    """Events by time; equal times keep their log (append) order, so replays are deterministic."""
    return sorted(events, key=lambda e: e.ts)


def _skills(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, str) and value:
        return (value,)
    return ()


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def valid_score(value: object) -> int | None:
    """A survey score 1-5 as an int, or None for anything else (never counted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        return None
    score = int(value)
    return score if 1 <= score <= 5 else None


class Ledger:
    """Feed events in time order with :meth:`feed`; read accumulators with :meth:`acc`.

    ``bucketings``: one or more ways of cutting time (e.g. report rows and the whole
    range; or quarter hours and days); each event is booked in every one.
    ``groups``: which breakdowns to keep besides the all-calls group (``"queue"``,
    ``"skill"``, ``"queue_skill"``: each skill within each queue).  ``only_queue``: keep only calls (and callbacks/surveys) of that queue.
    ``agent_time``: keep agent-seconds (all queues together); ``until`` clips them.
    """

    def __init__(
        self,
        bucketings: Sequence[Bucketing],
        *,
        rules: Rules | None = None,
        groups: Sequence[str] = (),
        only_queue: str | None = None,
        agent_time: bool = True,
        until: float | None = None,
    ) -> None:
        self.bucketings = list(bucketings)
        self.rules = rules or Rules()
        self.by_queue = "queue" in groups
        self.by_skill = "skill" in groups
        self.by_queue_skill = "queue_skill" in groups
        self.only_queue = only_queue
        self.agent_time = agent_time and only_queue is None
        self.until = until
        self.accs: dict[tuple[int, Hashable, Group], Acc] = {}
        self.open: dict[str, Episode] = {}
        self.latest: dict[str, Episode] = {}  # each call's latest episode (callbacks, surveys)
        self.episodes: list[Episode] = []
        self._last_answered: dict[str, Episode] = {}  # by call: waiting for call.completed
        self._agent_state: dict[str, tuple[str, float]] = {}
        self._agent_episode: dict[str, Episode | None] = {}  # by agent: the last call answered
        self._dirty: dict[int, Episode] = {}
        self._settled: dict[str, _Settled] = {}  # retired episodes, oldest first (retire_settled)

    # --- feeding ---------------------------------------------------------------------

    def feed_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: Event) -> None:
        kind = event.type
        if kind.startswith("call."):
            self._call_event(event, kind)
        elif kind == "agent.state":
            if event.agent_id is not None:
                self._agent_changed(event.agent_id, str(event.data.get("state", "unknown")), event.ts)
        elif kind in ("callback.requested", "callback.completed", "survey.answer"):
            self._extra(event, kind)
        elif kind == "engine.stopped":
            for agent_id in list(self._agent_state):
                self._end_segment(agent_id, event.ts)

    def _call_event(self, event: Event, kind: str) -> None:
        call_id = event.call_id
        if call_id is None:
            return
        current = self.open.get(call_id)
        if kind in ("call.queued", "call.requeued"):
            if current is None:
                origin = _seconds(event.data.get("wait_origin"))
                current = Episode(call_id, event.ts, origin if origin is not None else event.ts, event.queue, _skills(event.data.get("skills")))
                self.open[call_id] = current
                self.latest[call_id] = current
                self.episodes.append(current)
            else:
                if event.queue is not None:
                    current.queue = event.queue
                if kind == "call.queued" and "skills" in event.data:
                    current.skills = _skills(event.data.get("skills"))
            self._touch(current)
        elif kind == "call.overflowed":
            to_queue = event.data.get("to_queue")
            if current is None or to_queue is None:
                return
            from_queue = event.queue if event.queue is not None else current.queue
            if self._wanted(from_queue):
                for acc in self._accs_at(current.offered_ts, from_queue, current.skills):
                    acc.overflowed_out += 1
            current.queue = str(to_queue)
            self._touch(current)
        elif kind in ("call.answered", "call.abandoned", "call.timed_out"):
            if kind == "call.answered" and event.agent_id is not None:
                self._agent_answered(event.agent_id, current, event.ts)
            if current is None:
                return  # not offered through the ACD (e.g. a direct transfer): no queue figure
            current.outcome = "answered" if kind == "call.answered" else "abandoned" if kind == "call.abandoned" else "timed_out"
            current.outcome_ts = current.closed_ts = event.ts
            if event.queue is not None:
                current.queue = event.queue
            waited = _seconds(event.data.get("waited_s"))
            current.waited_s = waited if waited is not None else event.ts - current.offered_ts
            current.agent_id = event.agent_id
            del self.open[call_id]
            if kind == "call.answered":
                self._last_answered[call_id] = current
            self._touch(current)
        elif kind == "call.completed":
            answered = self._last_answered.pop(call_id, None)
            if answered is not None:
                answered.completed = True
                answered.closed_ts = event.ts
                answered.talk_s = _seconds(event.data.get("talk_s")) or 0.0
                answered.hold_s = _seconds(event.data.get("hold_s")) or 0.0
                self._touch(answered)

    def _extra(self, event: Event, kind: str) -> None:
        score = valid_score(event.data.get("score")) if kind == "survey.answer" else None
        if kind == "survey.answer" and score is None:
            return
        episode = self.latest.get(event.call_id) if event.call_id is not None else None
        if episode is not None and _within(episode.closed_ts, event.ts):
            episode.extras.append(_Extra(kind, event.ts, event.queue, score))
            self._touch(episode)
            return
        queue, skills = event.queue, ()
        settled = self._settled.get(event.call_id) if episode is None and event.call_id is not None else None
        if settled is not None and _within(settled.closed_ts, event.ts):
            # what re-booking the retired episode would add: its queue (unless the event
            # has its own) and its skills, in the event's interval
            queue, skills = event.queue if event.queue is not None else settled.queue, settled.skills
        if self._wanted(queue):
            for acc in self._accs_at(event.ts, queue, skills):
                acc.add_extra(kind, score, 1)

    # --- agents: wrap-up attribution and agent time ---------------------------------

    def _agent_answered(self, agent_id: str, episode: Episode | None, ts: float) -> None:
        """A new answer ends the window in which the previous call's wrap-up can start."""
        previous = self._agent_episode.get(agent_id)
        state = self._agent_state.get(agent_id)
        if state is not None and state == ("wrap_up", ts):
            # a wrap-up period starting at the very instant of this answer (logged just
            # before it) belongs to the new call, whatever the log order of equal times
            if previous is not None and previous.wrap_start == ts:
                previous.wrap_start, previous.wrap_seen = None, False
                self._touch(previous)
            if episode is not None and not episode.wrap_seen:
                episode.wrap_start, episode.wrap_seen = ts, True
        self._agent_episode[agent_id] = episode

    def _agent_changed(self, agent_id: str, state: str, ts: float) -> None:
        self._end_segment(agent_id, ts)
        self._agent_state[agent_id] = (state, ts)
        episode = self._agent_episode.get(agent_id)
        if state == "wrap_up" and episode is not None and not episode.wrap_seen:
            episode.wrap_seen = True
            episode.wrap_start = ts
            self._touch(episode)

    def _end_segment(self, agent_id: str, ts: float) -> None:
        current = self._agent_state.pop(agent_id, None)
        if current is None:
            return
        state, since = current
        if state == "wrap_up":
            episode = self._agent_episode.get(agent_id)
            if episode is not None and episode.wrap_start == since:
                episode.wrap_s = ts - since
                episode.wrap_start = None
                self._touch(episode)
        if self.agent_time:
            self._book_agent_time(state, since, ts if self.until is None else min(ts, self.until))

    def _book_agent_time(self, state: str, lo: float, hi: float) -> None:
        if state == "logged_out" or not hi > lo:
            return  # logged-out time counts nowhere; skipping it keeps nights cheap
        for index, bucketing in enumerate(self.bucketings):
            for key, seconds in bucketing.pieces(lo, hi):
                self._acc(index, key, None).add_agent_time(state, seconds)

    # --- accumulators ----------------------------------------------------------------

    def _wanted(self, queue: str | None) -> bool:
        return self.only_queue is None or queue == self.only_queue

    def _groups(self, queue: str | None, skills: Sequence[str]) -> list[Group]:
        groups: list[Group] = [None]
        if self.by_queue:
            groups.append(("queue", queue or NO_GROUP))
        if self.by_skill:
            groups.extend(("skill", skill) for skill in (dict.fromkeys(skills) if skills else (NO_GROUP,)))
        if self.by_queue_skill:
            name = queue or NO_GROUP
            groups.extend(("queue_skill", name, skill) for skill in (dict.fromkeys(skills) if skills else (NO_GROUP,)))
        return groups

    def _acc(self, index: int, key: Hashable, group: Group) -> Acc:
        found = self.accs.get((index, key, group))
        if found is None:
            found = self.accs[(index, key, group)] = Acc()
        return found

    def _accs_at(self, ts: float, queue: str | None, skills: Sequence[str]) -> list[Acc]:
        accs = []
        groups = self._groups(queue, skills)
        for index, bucketing in enumerate(self.bucketings):
            key = bucketing.locate(ts)
            if key is not None:
                accs.extend(self._acc(index, key, group) for group in groups)
        return accs

    def acc(self, index: int, key: Hashable, group: Group = None) -> Acc | None:
        """The accumulator of bucketing ``index``, bucket ``key``, ``group`` (after pending changes)."""
        self.flush()
        return self.accs.get((index, key, group))

    def _touch(self, episode: Episode) -> None:
        self._dirty[id(episode)] = episode

    def flush(self) -> None:
        """Bring every changed episode's contribution up to date."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for episode in dirty.values():
            self._rebook(episode)

    def _rebook(self, episode: Episode) -> None:
        for acc, delta in episode.applied_calls:
            acc.add_call(delta, -1)
        for acc, kind, score in episode.applied_extras:
            acc.add_extra(kind, score, -1)
        episode.applied_calls = []
        episode.applied_extras = []
        if self._wanted(episode.queue):
            delta = self._delta(episode)
            for acc in self._accs_at(episode.offered_ts, episode.queue, episode.skills):
                acc.add_call(delta, 1)
                episode.applied_calls.append((acc, delta))
                if episode.outcome is not None and not episode.longest_booked:
                    acc.see_wait(episode.waited_s or 0.0)
            if episode.outcome is not None:
                episode.longest_booked = True  # a decided episode never moves again
        for extra in episode.extras:
            queue = extra.queue if extra.queue is not None else episode.queue
            if not self._wanted(queue):
                continue
            for acc in self._accs_at(extra.ts, queue, episode.skills):
                acc.add_extra(extra.kind, extra.score, 1)
                episode.applied_extras.append((acc, extra.kind, extra.score))

    def _delta(self, episode: Episode) -> _CallDelta:
        if episode.outcome is None:
            return _CallDelta(waiting=1)
        wait = episode.waited_s or 0.0
        rules = self.rules.of(episode.queue)
        within = int(wait <= rules.threshold_s)
        if episode.outcome == "answered":
            if episode.handled:
                return _CallDelta(
                    answered=1, answered_within=within, handled=1, wait=wait,
                    talk=episode.talk_s, hold=episode.hold_s, wrap=episode.wrap_s,
                )
            return _CallDelta(answered=1, answered_within=within, wait=wait)
        if episode.outcome == "abandoned":
            return _CallDelta(abandoned=1, abandoned_within=within, short_abandons=int(wait <= rules.short_abandon_s))
        return _CallDelta(timed_out=1)

    # --- reading what is still open ---------------------------------------------------

    def pending_within(self, now: float | None) -> dict[int, int]:
        """Per accumulator (by ``id``): calls still waiting whose wait is still within the threshold.

        The default service level leaves them out of its base until they are decided, so
        a burst of fresh arrivals does not dip the figure; at the end of the day (or of
        the data) nobody is pending and the figure is the textbook one.
        """
        self.flush()
        pending: dict[int, int] = {}
        if now is None:
            return pending
        for episode in self.open.values():
            if now - episode.wait_origin <= self.rules.of(episode.queue).threshold_s:
                for acc, _ in episode.applied_calls:
                    pending[id(acc)] = pending.get(id(acc), 0) + 1
        return pending

    def open_agent_time(self, until: float) -> dict[tuple[int, Hashable], Acc]:
        """Agent-seconds of the periods still open, up to ``until``, per (bucketing, bucket)."""
        extra: dict[tuple[int, Hashable], Acc] = {}
        if not self.agent_time:
            return extra
        for state, since in self._agent_state.values():
            if state == "logged_out" or not until > since:
                continue
            for index, bucketing in enumerate(self.bucketings):
                for key, seconds in bucketing.pieces(since, until):
                    extra.setdefault((index, key), Acc()).add_agent_time(state, seconds)
        return extra

    def _is_settled(self, episode: Episode) -> bool:
        """Nothing but a callback or survey answer can change this episode any more."""
        if episode.outcome is None:
            return False
        if episode.outcome != "answered":
            return True
        if not episode.completed or episode.wrap_start is not None:
            return False
        # completed with no wrap-up seen yet: the agent's next wrap-up (before another
        # answer) would still be this call's
        return episode.wrap_seen or self._agent_episode.get(episode.agent_id or "") is not episode

    def unsettled_accs(self) -> set[int]:
        """``id`` of every accumulator an episode that can still change has booked into.

        A bucket none of them touches changes only if a new event is logged in it
        (callbacks and surveys of settled calls are booked where they happen): what
        ``acd.metrics.cells`` needs to know before it keeps a bucket's figures for good.
        """
        self.flush()
        touched: set[int] = set()
        for episode in self.episodes:
            if self._is_settled(episode):
                continue
            touched.update(id(acc) for acc, _ in episode.applied_calls)
            touched.update(id(acc) for acc, _, _ in episode.applied_extras)
        return touched

    def retire_settled(self, now: float) -> int:
        """Drop settled episodes (a running engine calls this every few minutes).

        Each leaves its queue and skills until ``EXTRA_WINDOW_S`` after it closed, for a
        late callback or survey answer; those older than that (as seen at ``now``, less
        a minute for events logged slightly out of order) are forgotten.  Returns how
        many episodes were retired.
        """
        self.flush()
        kept: list[Episode] = []
        retired = 0
        for episode in self.episodes:
            if not self._is_settled(episode):
                kept.append(episode)
                continue
            retired += 1
            call_id = episode.call_id
            if self.latest.get(call_id) is episode:
                del self.latest[call_id]
                self._settled.pop(call_id, None)  # re-inserted: the dict stays in closing order
                self._settled[call_id] = _Settled(episode.queue, episode.skills, episode.closed_ts or episode.offered_ts)
            if episode.agent_id is not None and self._agent_episode.get(episode.agent_id) is episode:
                del self._agent_episode[episode.agent_id]  # settled: it behaves as no episode there
        self.episodes = kept
        horizon = now - EXTRA_WINDOW_S - 60.0
        while self._settled:
            call_id, settled = next(iter(self._settled.items()))
            if settled.closed_ts >= horizon:
                break
            del self._settled[call_id]
        return retired

    def forget_before(self, ts: float) -> None:
        """Drop decided episodes and buckets older than ``ts`` (a long-running engine's memory).

        Open episodes and episodes whose handle time is not final are kept whatever their
        age, so nothing still changing is lost; a survey answered more than a day after its
        call would then no longer find its episode and count without skills.
        """
        self.flush()
        kept = []
        for episode in self.episodes:
            final = episode.outcome is not None and (episode.outcome != "answered" or episode.handled)
            if final and (episode.outcome_ts or 0.0) < ts:
                if self.latest.get(episode.call_id) is episode:
                    del self.latest[episode.call_id]
                if self._last_answered.get(episode.call_id) is episode:
                    del self._last_answered[episode.call_id]
                for agent_id, answered in list(self._agent_episode.items()):
                    if answered is episode:
                        del self._agent_episode[agent_id]
                continue
            kept.append(episode)
        self.episodes = kept
        for key in [key for key in self.accs if _key_start(key[1]) < ts]:
            del self.accs[key]


def _within(closed_ts: float | None, ts: float) -> bool:
    """An extra at ``ts`` still belongs to an episode closed at ``closed_ts`` (None: open)."""
    return closed_ts is None or ts - closed_ts <= EXTRA_WINDOW_S


def _key_start(key: Hashable) -> float:
    return key if isinstance(key, (int, float)) else float("inf")


__all__ = [
    "Acc",
    "BUSY_STATES",
    "Bucketing",
    "DEFAULT_SHORT_ABANDON_S",
    "DEFAULT_THRESHOLD_S",
    "EXTRA_WINDOW_S",
    "Episode",
    "ExactSum",
    "Ledger",
    "NO_GROUP",
    "QueueRules",
    "Rules",
    "in_order",
    "valid_score",
]
