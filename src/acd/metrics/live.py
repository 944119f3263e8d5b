"""Live figures per queue and per skill, for the current quarter hour and the day.

The engine's event bus hands every event it logs to :class:`LiveStats` (it is an event
sink like the SQLite store and the MQTT publisher), which books it in the same
:class:`~acd.metrics.ledger.Ledger` that ``acd report`` replays the log through.  So the
wallboard, the API, ``/metrics`` and the retained MQTT stats show exactly what a report
recomputed from the log shows for the same interval and ``now`` — same attribution
(an overflowed call counts in the queue that finished it), same thresholds (each
queue's own), same formulas.  ``tests/metrics/test_live_equals_report.py`` holds the
two side by side.

Agent counts (how many agents are available, on a call… right now) are a live-only
view: they come from ``agent.state`` events and the routing configuration's skills.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Hashable, Iterable, Iterator, Mapping

from acd.base.events import Event
from acd.metrics.ledger import Ledger, QueueRules, Rules
from acd.metrics.reports import Figures, figures_of
from acd.routing.config import RoutingConfig
from acd.routing.intervals import IntervalClock

# the routing configuration's names for the service-level formulas -> the reports' names
REPORT_FORMULA = {"answered_within/(offered-short_abandons)": "offered", "sl": "asterisk-sl", "sl2": "asterisk-sl2"}
_STATE_FIELD = {"available": "available", "reserved": "ringing", "on_call": "on_call", "wrap_up": "wrap_up", "paused": "paused"}
_INTERVAL, _DAY = 0, 1


@dataclass(frozen=True, slots=True)
class AgentCounts:
    logged_in: int = 0
    available: int = 0
    ringing: int = 0
    on_call: int = 0
    wrap_up: int = 0
    paused: int = 0


@dataclass(frozen=True, slots=True)
class QueueStats:
    name: str
    threshold_s: float
    target: float
    interval: Figures
    day: Figures
    waiting: int  # callers not yet talking to an agent (ringing included)
    longest_waiting_s: float
    agents: AgentCounts


@dataclass(frozen=True, slots=True)
class SkillStats:
    name: str
    interval: Figures
    day: Figures
    waiting: int
    longest_waiting_s: float
    agents: AgentCounts


@dataclass(frozen=True, slots=True)
class RoutingSnapshot:
    at: float
    timezone: str
    interval_start: float
    interval_end: float
    day_start: float
    day_end: float
    queues: Mapping[str, QueueStats]
    skills: Mapping[str, SkillStats]
    center_interval: Figures  # every queue together, with agent time and occupancy
    center_day: Figures


class ClockBuckets:
    """Quarter hours (or days) on the centre's wall clock, keyed by their start."""

    def __init__(self, clock: IntervalClock, days: bool) -> None:
        self._bounds = clock.day if days else clock.interval

    def locate(self, ts: float) -> Hashable:
        return self._bounds(ts)[0]

    def pieces(self, lo: float, hi: float) -> Iterator[tuple[Hashable, float]]:
        t = lo
        while t < hi:
            start, end = self._bounds(t)
            seconds = min(hi, end) - max(lo, start)
            if seconds > 0:
                yield start, seconds
            t = end


class LiveStats:
    """Append every logged event (an event sink); ask for a :class:`RoutingSnapshot` any time."""

    #: how often (event time) finished calls are dropped: a sweep looks at the calls of
    #: the last minutes only, so once a minute costs nothing and keeps few of them
    RETIRE_EVERY_S = 60.0

    def __init__(self, config: RoutingConfig, timezone: str | None = None, *, await_history: bool = False) -> None:
        """``await_history``: the engine will call :meth:`prime` with the log once it is open;
        until then the events received are kept so none is lost."""
        self.config = config
        self.clock = IntervalClock(timezone or config.timezone)
        self._queues = {queue.name: queue for queue in config.queues}
        self.ledger = self._new_ledger()
        self._received: list[Event] | None = [] if await_history else None
        self._day_start = float("-inf")
        self._retired_at = float("-inf")
        self._agent_state: dict[str, str] = {agent.id: "logged_out" for agent in config.agents}
        self._agent_queues = {
            agent.id: tuple(q.name for q in config.queues if agent.proficiency_for(q.skills) is not None) for agent in config.agents
        }
        self._agent_skills = {agent.id: tuple(agent.skills) for agent in config.agents}
        self._q_agents: dict[str, dict[str, int]] = {q.name: {} for q in config.queues}
        self._s_agents: dict[str, dict[str, int]] = {skill: {} for skill in config.skills}

    def reconfigure(self, config: RoutingConfig) -> None:
        """A new routing file (hot reload): its queues, skills and agents from now on.

        Figures already booked stay; a queue's new threshold or short-abandon limit applies
        to what is booked from now on (a report recomputed with the new file applies it to
        the whole range), agent counts are recounted with the new queue memberships.
        """
        self.config = config
        self._queues = {queue.name: queue for queue in config.queues}
        self.ledger.rules.per_queue.update(report_rules(config)["queue_rules"])  # type: ignore[arg-type]
        states = {agent.id: self._agent_state.get(agent.id, "logged_out") for agent in config.agents}
        self._agent_state = {agent_id: "logged_out" for agent_id in states}
        self._agent_queues = {
            agent.id: tuple(q.name for q in config.queues if agent.proficiency_for(q.skills) is not None) for agent in config.agents
        }
        self._agent_skills = {agent.id: tuple(agent.skills) for agent in config.agents}
        self._q_agents = {q.name: {} for q in config.queues}
        self._s_agents = {skill: {} for skill in config.skills}
        for agent_id, state in states.items():
            if state != "logged_out":
                self._agent_changed(agent_id, state)

    def _new_ledger(self) -> Ledger:
        return Ledger(
            [ClockBuckets(self.clock, days=False), ClockBuckets(self.clock, days=True)],
            rules=Rules(per_queue=report_rules(self.config)["queue_rules"]),  # type: ignore[arg-type]
            groups=("queue", "skill"),
        )

    # --- feeding ---------------------------------------------------------------------

    def history_start(self, now: float) -> float:
        """Where :meth:`prime` needs the log from: the start of yesterday (today's figures
        can depend on calls offered yesterday only through agent time, which the store's
        report prefix covers)."""
        day_start, _ = self.clock.day(now)
        return self.clock.day(day_start - 1)[0]

    def prime(self, history: Iterable[Event]) -> int:
        """Start from the event log, so a restarted engine shows the whole day, not only
        what happened since it started — and still equals a report recomputed from the log.

        ``history``: the logged events from :meth:`history_start` on, oldest first (as
        ``EventStore.report_events`` returns them).  Events received before priming are
        replayed after it (skipping any the log already had).
        """
        received, self._received = self._received or [], None
        self.ledger = self._new_ledger()
        self._day_start = float("-inf")
        self._retired_at = float("-inf")
        self._agent_state = {agent_id: "logged_out" for agent_id in self._agent_state}
        self._q_agents = {name: {} for name in self._q_agents}
        self._s_agents = {name: {} for name in self._s_agents}
        seen: set[str] = set()
        count = 0
        for event in history:
            seen.add(event.id)
            self._book(event)
            count += 1
        for event in received:
            if event.id not in seen:
                self._book(event)
        return count

    def append(self, event: Event) -> None:
        if self._received is not None:
            self._received.append(event)
        self._book(event)

    def _book(self, event: Event) -> None:
        self._roll(event.ts)
        self.ledger.feed(event)
        if event.type == "agent.state" and event.agent_id is not None:
            self._agent_changed(event.agent_id, str(event.data.get("state", "unknown")))

    async def close(self) -> None:
        """Nothing to flush: figures live in memory and the log has every event."""

    def _roll(self, t: float) -> None:
        """Every ``RETIRE_EVERY_S``, drop the calls whose figures are final (``Ledger.retire_settled``:
        what they added stays), so memory holds the last minutes' calls, not the day's; on a
        new day, forget what can no longer change the figures shown (yesterday and before)."""
        if t - self._retired_at >= self.RETIRE_EVERY_S:
            if self._retired_at != float("-inf"):
                self.ledger.retire_settled(t)
            self._retired_at = t
        day_start, _ = self.clock.day(t)
        if day_start > self._day_start:
            if self._day_start != float("-inf"):
                self.ledger.forget_before(self._day_start)
            self._day_start = day_start

    def _agent_changed(self, agent_id: str, state: str) -> None:
        previous = self._agent_state.get(agent_id)
        if previous is None:
            return  # not in the routing configuration
        self._agent_state[agent_id] = state
        for counts, keys in ((self._q_agents, self._agent_queues[agent_id]), (self._s_agents, self._agent_skills[agent_id])):
            for key in keys:
                bucket = counts.setdefault(key, {})
                bucket[previous] = bucket.get(previous, 0) - 1
                bucket[state] = bucket.get(state, 0) + 1

    # --- reading ---------------------------------------------------------------------

    def snapshot(self, now: float) -> RoutingSnapshot:
        interval_start, interval_end = self.clock.interval(now)
        day_start, day_end = self.clock.day(now)
        pending = self.ledger.pending_within(now)
        open_time = self.ledger.open_agent_time(now)

        def figures(index: int, key: float, group: tuple[str, str] | None, formula: str) -> Figures:
            acc = self.ledger.acc(index, key, group)
            extra = open_time.get((index, key)) if group is None else None
            return figures_of(acc, formula, pending_within=pending.get(id(acc), 0), open_time=extra, agents=group is None)

        waiting_q: dict[str, int] = {}
        longest_q: dict[str, float] = {}
        waiting_s: dict[str, int] = {}
        longest_s: dict[str, float] = {}
        for episode in self.ledger.open.values():
            waited = max(0.0, now - episode.wait_origin)
            name = episode.queue or ""
            waiting_q[name] = waiting_q.get(name, 0) + 1
            longest_q[name] = max(longest_q.get(name, 0.0), waited)
            for skill in dict.fromkeys(episode.skills):
                waiting_s[skill] = waiting_s.get(skill, 0) + 1
                longest_s[skill] = max(longest_s.get(skill, 0.0), waited)

        queues = {}
        for name, queue in self._queues.items():
            formula = REPORT_FORMULA[queue.sl_formula]
            queues[name] = QueueStats(
                name=name,
                threshold_s=queue.service_level.threshold_s,
                target=queue.service_level.target,
                interval=figures(_INTERVAL, interval_start, ("queue", name), formula),
                day=figures(_DAY, day_start, ("queue", name), formula),
                waiting=waiting_q.get(name, 0),
                longest_waiting_s=longest_q.get(name, 0.0),
                agents=_counts(self._q_agents[name]),
            )
        skills = {
            skill: SkillStats(
                name=skill,
                interval=figures(_INTERVAL, interval_start, ("skill", skill), "offered"),
                day=figures(_DAY, day_start, ("skill", skill), "offered"),
                waiting=waiting_s.get(skill, 0),
                longest_waiting_s=longest_s.get(skill, 0.0),
                agents=_counts(self._s_agents[skill]),
            )
            for skill in self.config.skills
        }
        return RoutingSnapshot(
            at=now,
            timezone=str(self.clock.tz.key),
            interval_start=interval_start,
            interval_end=interval_end,
            day_start=day_start,
            day_end=day_end,
            queues=queues,
            skills=skills,
            center_interval=figures(_INTERVAL, interval_start, None, "offered"),
            center_day=figures(_DAY, day_start, None, "offered"),
        )


def report_rules(config: RoutingConfig, *, thresholds: bool = True, formulas: bool = True) -> dict[str, object]:
    """``compute_report`` keyword arguments that apply each queue's own threshold, short-abandon
    limit and formula, as the live figures do (``acd report`` and ``acd simulate`` use them
    with a routing file).  ``thresholds``/``formulas`` False leaves that part to the
    report's single values (a command line that gave ``--threshold``, ``--sl-formula``...)."""
    rules: dict[str, object] = {}
    if thresholds:
        rules["queue_rules"] = {q.name: QueueRules(q.service_level.threshold_s, q.short_abandon_s) for q in config.queues}
    if formulas:
        rules["queue_formulas"] = {q.name: REPORT_FORMULA[q.sl_formula] for q in config.queues}
    return rules


def _counts(bucket: dict[str, int]) -> AgentCounts:
    values = {field_name: bucket.get(state, 0) for state, field_name in _STATE_FIELD.items()}
    return AgentCounts(logged_in=sum(values.values()), **values)


def ratio_of(percent: object) -> float | None:
    """A report percentage (exact ``Fraction`` 0-100) as the 0-1 ratio APIs and gauges use."""
    return None if percent is None else float(Fraction(percent) / 100)  # type: ignore[arg-type]


__all__ = ["AgentCounts", "ClockBuckets", "LiveStats", "QueueStats", "REPORT_FORMULA", "RoutingSnapshot", "SkillStats", "ratio_of", "report_rules"]
