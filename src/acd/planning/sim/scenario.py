"""What to simulate: a routing configuration, the traffic per queue, and how people behave.

A :class:`Scenario` is validated as a whole before anything runs, so every mistake a
planner can make (a queue that is not in the routing file, a negative rate, an agent
who does not exist, an answer delay the ring time-out would always cut short) is one
clear :class:`ScenarioError` message instead of a strange result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from acd.planning.forecast import Forecast
from acd.routing import RoutingConfig
from acd.planning.sim.traffic import CallPlan, HandleTimes, LoadSegment, QueueLoad, plan_calls


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; ``str()`` is one line for the planner."""


def constant_load(queue: str, calls_per_hour: float, aht_s: float, start: float, end: float) -> QueueLoad:
    """The same Poisson rate and AHT for the whole run."""
    return QueueLoad(queue, (LoadSegment(start, end, calls_per_hour, aht_s),))


def forecast_load(queue: str, forecast: Forecast, interval_s: float, tz: ZoneInfo) -> QueueLoad:
    """One segment per forecast row: its calls spread over its interval, its AHT.

    Interval starts without a UTC offset are local time in the routing file's timezone,
    as ``acd staffing --forecast`` and ``acd report`` read them.
    """
    segments = []
    for start, calls, aht in zip(forecast.starts, forecast.calls.tolist(), forecast.aht_s.tolist()):
        begin = (start if start.tzinfo is not None else start.replace(tzinfo=tz)).timestamp()
        segments.append(LoadSegment(begin, begin + interval_s, calls * 3600.0 / interval_s, aht))
    return QueueLoad(queue, tuple(segments))


def forecast_start(forecast: Forecast, tz: ZoneInfo) -> float:
    first: datetime = forecast.starts[0]
    return (first if first.tzinfo is not None else first.replace(tzinfo=tz)).timestamp()


@dataclass(frozen=True)
class Scenario:
    """One simulation run; the report covers ``[start, end)``.

    ``logins`` None logs every agent of the routing file in.  ``warmup_s`` runs the
    first segment's traffic for that long before ``start`` so the report window begins
    with a loaded centre rather than an empty one (steady-state comparisons need it).
    """

    config: RoutingConfig
    loads: tuple[QueueLoad, ...]
    start: float
    end: float
    handle: HandleTimes = field(default_factory=HandleTimes)
    patience_s: float | None = None
    answer_delay_s: float = 0.0
    logins: tuple[str, ...] | None = None
    warmup_s: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            raise ScenarioError(problem)

    def _problem(self) -> str | None:
        queues = {queue.name: queue for queue in self.config.queues}
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.end > self.start):
            return "the simulated period is empty: its end must come after its start"
        if not self.loads:
            return "no traffic: give at least one queue a call rate or a forecast"
        seen: set[str] = set()
        for load in self.loads:
            if load.queue not in queues:
                return f"unknown queue {load.queue!r} (the routing file has: {', '.join(sorted(queues))})"
            if load.queue in seen:
                return f"queue {load.queue!r} is given traffic twice"
            seen.add(load.queue)
            for segment in load.segments:
                if not (math.isfinite(segment.calls_per_hour) and segment.calls_per_hour >= 0):
                    return f"queue {load.queue!r}: calls per hour must be a number >= 0, not {segment.calls_per_hour:g}"
                if not (math.isfinite(segment.aht_s) and segment.aht_s > 0):
                    return f"queue {load.queue!r}: AHT must be a positive number of seconds, not {segment.aht_s:g}"
        if self.patience_s is not None and not (math.isfinite(self.patience_s) and self.patience_s > 0):
            return f"patience must be a positive number of seconds, not {self.patience_s:g}"
        if not (math.isfinite(self.warmup_s) and self.warmup_s >= 0):
            return f"warm-up must be a number of seconds >= 0, not {self.warmup_s:g}"
        if not (math.isfinite(self.answer_delay_s) and self.answer_delay_s >= 0):
            return f"answer delay must be a number of seconds >= 0, not {self.answer_delay_s:g}"
        shortest = min(self.config.queues, key=lambda queue: queue.ring_timeout_s)
        if self.answer_delay_s >= shortest.ring_timeout_s:
            return (
                f"answer delay {self.answer_delay_s:g} s is not shorter than queue {shortest.name!r}'s ring_timeout_s "
                f"({shortest.ring_timeout_s:g} s): every ring would time out and leave its agent paused"
            )
        known = {agent.id for agent in self.config.agents}
        for agent_id in self.logins or ():
            if agent_id not in known:
                return f"unknown agent {agent_id!r} (the routing file has: {', '.join(sorted(known)) or 'no agents'})"
        if self.handle.dist == "lognormal" and self.handle.sd_s is None:
            return "a lognormal handle time needs a standard deviation"
        return None

    @property
    def agents(self) -> tuple[str, ...]:
        return self.logins if self.logins is not None else tuple(agent.id for agent in self.config.agents)

    @property
    def sim_start(self) -> float:
        """When the simulation itself starts: the warm-up before the report window."""
        return self.start - self.warmup_s

    def warmed_loads(self) -> list[QueueLoad]:
        """The loads with each queue's first segment (if it opens the report window) also run during the warm-up."""
        if self.warmup_s <= 0:
            return list(self.loads)
        loads = []
        for load in self.loads:
            first = load.segments[0]
            # Only traffic already running when the report window opens is run early.
            early = replace(first, start=self.sim_start, end=first.start) if self.sim_start < first.start <= self.start else None
            loads.append(QueueLoad(load.queue, ((early,) if early else ()) + load.segments))
        return loads

    def plan(self) -> CallPlan:
        return plan_calls(self.warmed_loads(), self.handle, self.patience_s, self.seed)
