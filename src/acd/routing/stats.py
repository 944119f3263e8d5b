"""Live service level per queue and per skill, for the current quarter hour and the day.

The figures are derived only from the router's notifications (``LiveStats.apply``),
never from the router's internals, so the same code can rebuild them from the event
log and a report always agrees with the wallboard.

Booking rule: everything about a call is booked in the interval (and day) in which the
call was *offered* to the queue — its answer, abandon, talk and wrap-up included — so
an interval's answered calls can never exceed its offered calls and its service level
never exceeds 100 %.  A call overflowing from A to B is offered to both: in A it counts
as ``overflowed_out`` (not answered), in B it arrives with the wait it already has.

Service level formulas (``QueueConfig.sl_formula``); "within" means waited ≤ threshold:

* ``answered_within/(offered-short_abandons)`` (default) — calls that hung up within
  ``short_abandon_s`` are not counted as offered.  Calls still waiting and still within
  the threshold are left out until they are decided, so a burst of fresh arrivals does
  not dip the wallboard; once every call is decided the figure equals the textbook one.
* ``sl`` — Asterisk app_queue's ServiceLevelPerf: ``answered_within / answered``
  (Asterisk books a call when its conversation ends; here it is booked on answer).
* ``sl2`` — Asterisk's ServiceLevelPerf2:
  ``(answered_within + abandoned_within) / (answered + abandoned)``.

A skill's figures are the sum over the queues that require that skill, with the default
formula; agent counts there cover every logged-in agent holding the skill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from acd.routing.config import DEFAULT_SL_FORMULA, QueueConfig, RoutingConfig
from acd.routing.decisions import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOverflowed,
    CallQueued,
    CallRequeued,
    CallTimedOut,
    Outcome,
    RingAgent,
)
from acd.routing.intervals import IntervalClock


@dataclass(frozen=True, slots=True)
class Figures:
    """Counters and ratios for one queue or skill over one period (None = nothing to divide by)."""

    offered: int
    answered: int
    answered_within: int
    abandoned: int
    abandoned_within: int
    short_abandons: int
    overflowed_out: int
    timed_out: int
    handled: int  # answered calls whose talk and wrap-up are both over
    pending_within: int  # still waiting, still within threshold: not yet in the default formula
    sl_formula: str
    service_level: float | None
    service_levels: Mapping[str, float | None]
    asa_s: float | None  # average speed of answer
    aht_s: float | None  # average handle time: talk + wrap-up


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


# --- internal tallies -------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Tally:
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandons: int = 0
    overflowed_out: int = 0
    timed_out: int = 0
    handled: int = 0
    wait_sum: float = 0.0
    handle_sum: float = 0.0


@dataclass(slots=True, eq=False)
class _OpenCall:
    """A call offered to one queue whose figures are not final yet."""

    queue: QueueConfig
    wait_origin: float
    tallies: list[_Tally]  # queue interval, queue day, then each skill's interval and day
    talking: bool = False
    talk_s: float = 0.0
    wrap_start: float | None = None


_STATE_FIELD = {
    "available": "available",
    "reserved": "ringing",
    "on_call": "on_call",
    "wrap_up": "wrap_up",
    "paused": "paused",
}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _figures(tally: _Tally, formula: str, pending_within: int) -> Figures:
    levels = {
        DEFAULT_SL_FORMULA: _ratio(tally.answered_within, tally.offered - tally.short_abandons - pending_within),
        "sl": _ratio(tally.answered_within, tally.answered),
        "sl2": _ratio(tally.answered_within + tally.abandoned_within, tally.answered + tally.abandoned),
    }
    return Figures(
        offered=tally.offered,
        answered=tally.answered,
        answered_within=tally.answered_within,
        abandoned=tally.abandoned,
        abandoned_within=tally.abandoned_within,
        short_abandons=tally.short_abandons,
        overflowed_out=tally.overflowed_out,
        timed_out=tally.timed_out,
        handled=tally.handled,
        pending_within=pending_within,
        sl_formula=formula,
        service_level=levels[formula],
        service_levels=levels,
        asa_s=_ratio(tally.wait_sum, tally.answered),
        aht_s=_ratio(tally.handle_sum, tally.handled),
    )


class LiveStats:
    """Feed it every outcome the router returns; ask for a :class:`RoutingSnapshot` any time."""

    def __init__(self, config: RoutingConfig, timezone: str | None = None) -> None:
        self.config = config
        self.clock = IntervalClock(timezone or config.timezone)
        self._queues = {queue.name: queue for queue in config.queues}
        self._interval_start = float("-inf")
        self._day_start = float("-inf")
        self._q_interval = self._fresh(self._queues)
        self._q_day = self._fresh(self._queues)
        self._s_interval = self._fresh(config.skills)
        self._s_day = self._fresh(config.skills)
        self._open: dict[str, _OpenCall] = {}
        self._agent_state: dict[str, str] = {agent.id: "logged_out" for agent in config.agents}
        self._agent_queues: dict[str, tuple[str, ...]] = {}
        self._agent_skills: dict[str, tuple[str, ...]] = {agent.id: tuple(agent.skills) for agent in config.agents}
        for agent in config.agents:
            self._agent_queues[agent.id] = tuple(q.name for q in config.queues if agent.proficiency_for(q.skills) is not None)
        self._q_agents: dict[str, dict[str, int]] = {q.name: {} for q in config.queues}
        self._s_agents: dict[str, dict[str, int]] = {skill: {} for skill in config.skills}

    @staticmethod
    def _fresh(names: Iterable[str]) -> dict[str, _Tally]:
        return {name: _Tally() for name in names}

    # --- feeding ---------------------------------------------------------------------

    def apply(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self.apply_one(outcome)

    def apply_one(self, outcome: Outcome) -> None:
        if isinstance(outcome, AgentStateChanged):
            self._agent_changed(outcome)
        elif isinstance(outcome, CallQueued):
            self._offer(outcome.call_id, outcome.queue, outcome.wait_origin, outcome.at)
        elif isinstance(outcome, CallOverflowed):
            previous = self._close(outcome.call_id, "overflowed_out")
            origin = previous.wait_origin if previous is not None else outcome.at - outcome.waited_s
            self._offer(outcome.call_id, outcome.to_queue, origin, outcome.at)
        elif isinstance(outcome, CallAnswered):
            self._answered(outcome)
        elif isinstance(outcome, CallAbandoned):
            self._abandoned(outcome)
        elif isinstance(outcome, CallTimedOut):
            self._close(outcome.call_id, "timed_out")
        elif isinstance(outcome, CallCompleted):
            call = self._open.get(outcome.call_id)
            if call is not None:
                call.talk_s = outcome.talk_s
        elif isinstance(outcome, (RingAgent, CallRequeued)):
            pass  # the caller is still waiting either way

    def _roll(self, t: float) -> None:
        """Start fresh tallies when ``t`` enters a new interval or day (open calls keep their old ones)."""
        interval_start, _ = self.clock.interval(t)
        if interval_start > self._interval_start:
            if self._interval_start != float("-inf"):
                self._q_interval = self._fresh(self._queues)
                self._s_interval = self._fresh(self.config.skills)
            self._interval_start = interval_start
        day_start, _ = self.clock.day(t)
        if day_start > self._day_start:
            if self._day_start != float("-inf"):
                self._q_day = self._fresh(self._queues)
                self._s_day = self._fresh(self.config.skills)
            self._day_start = day_start

    def _offer(self, call_id: str, queue_name: str, wait_origin: float, at: float) -> None:
        queue = self._queues.get(queue_name)
        if queue is None:
            return
        self._roll(at)
        tallies = [self._q_interval[queue_name], self._q_day[queue_name]]
        for skill in queue.skills:
            tallies += (self._s_interval[skill], self._s_day[skill])
        for tally in tallies:
            tally.offered += 1
        self._open[call_id] = _OpenCall(queue, wait_origin, tallies)

    def _close(self, call_id: str, counter: str) -> _OpenCall | None:
        call = self._open.pop(call_id, None)
        if call is not None:
            for tally in call.tallies:
                setattr(tally, counter, getattr(tally, counter) + 1)
        return call

    def _answered(self, event: CallAnswered) -> None:
        call = self._open.get(event.call_id)
        if call is None:
            return
        call.talking = True
        within = event.waited_s <= call.queue.service_level.threshold_s
        for tally in call.tallies:
            tally.answered += 1
            tally.answered_within += within
            tally.wait_sum += event.waited_s

    def _abandoned(self, event: CallAbandoned) -> None:
        call = self._open.pop(event.call_id, None)
        if call is None:
            return
        within = event.waited_s <= call.queue.service_level.threshold_s
        short = event.waited_s <= call.queue.short_abandon_s
        for tally in call.tallies:
            tally.abandoned += 1
            tally.abandoned_within += within
            tally.short_abandons += short

    def _agent_changed(self, event: AgentStateChanged) -> None:
        if event.call_id is not None:
            self._handle_time(event)
        previous = self._agent_state.get(event.agent_id)
        if previous is None:
            return
        self._agent_state[event.agent_id] = event.state
        for counts, keys in ((self._q_agents, self._agent_queues[event.agent_id]), (self._s_agents, self._agent_skills[event.agent_id])):
            for key in keys:
                bucket = counts[key]
                bucket[previous] = bucket.get(previous, 0) - 1
                bucket[event.state] = bucket.get(event.state, 0) + 1

    def _handle_time(self, event: AgentStateChanged) -> None:
        """Talk ends -> wrap-up starts -> wrap-up ends: book talk + wrap-up when it is all over."""
        call = self._open.get(event.call_id or "")
        if call is None or not call.talking or event.previous not in ("on_call", "wrap_up"):
            return
        if event.state == "wrap_up":
            call.wrap_start = event.at
            return
        wrap = event.at - call.wrap_start if call.wrap_start is not None else 0.0
        del self._open[event.call_id or ""]
        for tally in call.tallies:
            tally.handled += 1
            tally.handle_sum += call.talk_s + wrap

    # --- reading ---------------------------------------------------------------------

    def snapshot(self, now: float) -> RoutingSnapshot:
        self._roll(now)
        pending: dict[int, int] = {}
        waiting_q: dict[str, int] = {}
        longest_q: dict[str, float] = {}
        waiting_s: dict[str, int] = {}
        longest_s: dict[str, float] = {}
        for call in self._open.values():
            if call.talking:
                continue
            waited = max(0.0, now - call.wait_origin)
            name = call.queue.name
            waiting_q[name] = waiting_q.get(name, 0) + 1
            longest_q[name] = max(longest_q.get(name, 0.0), waited)
            for skill in call.queue.skills:
                waiting_s[skill] = waiting_s.get(skill, 0) + 1
                longest_s[skill] = max(longest_s.get(skill, 0.0), waited)
            if waited <= call.queue.service_level.threshold_s:
                for tally in call.tallies:
                    pending[id(tally)] = pending.get(id(tally), 0) + 1

        def figures(tally: _Tally, formula: str) -> Figures:
            return _figures(tally, formula, pending.get(id(tally), 0))

        queues = {
            name: QueueStats(
                name=name,
                threshold_s=queue.service_level.threshold_s,
                target=queue.service_level.target,
                interval=figures(self._q_interval[name], queue.sl_formula),
                day=figures(self._q_day[name], queue.sl_formula),
                waiting=waiting_q.get(name, 0),
                longest_waiting_s=longest_q.get(name, 0.0),
                agents=self._counts(self._q_agents[name]),
            )
            for name, queue in self._queues.items()
        }
        skills = {
            skill: SkillStats(
                name=skill,
                interval=figures(self._s_interval[skill], DEFAULT_SL_FORMULA),
                day=figures(self._s_day[skill], DEFAULT_SL_FORMULA),
                waiting=waiting_s.get(skill, 0),
                longest_waiting_s=longest_s.get(skill, 0.0),
                agents=self._counts(self._s_agents[skill]),
            )
            for skill in self.config.skills
        }
        interval_start, interval_end = self.clock.interval(now)
        day_start, day_end = self.clock.day(now)
        return RoutingSnapshot(now, str(self.clock.tz.key), interval_start, interval_end, day_start, day_end, queues, skills)

    @staticmethod
    def _counts(bucket: dict[str, int]) -> AgentCounts:
        values = {field_name: bucket.get(state, 0) for state, field_name in _STATE_FIELD.items()}
        return AgentCounts(logged_in=sum(values.values()), **values)
