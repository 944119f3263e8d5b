"""Run a scenario and compute its report with the very code ``acd report`` uses.

The simulated engine's outcomes become events through ``outcome_to_event`` (see
:mod:`acd.planning.sim.sinks`) and those events go to :func:`acd.metrics.reports.compute_report`
unchanged, so a simulated service level means exactly what a reported one means:
same attribution of calls to intervals, same formulas, same rounding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from acd.metrics.live import report_rules
from acd.base.events import Event
from acd.metrics.reports import DEFAULT_SHORT_ABANDON_S, DEFAULT_THRESHOLD_S, Report, compute_report
from acd.planning.sim.engine import Progress, RunStats, Sink, run_simulation
from acd.planning.sim.scenario import Scenario
from acd.planning.sim.sinks import EventLog


@dataclass(frozen=True)
class ReportOptions:
    """How to cut the report.

    Left as None, the threshold, short-abandon limit and formula are each queue's own
    (the routing file's, as ``acd report --routing`` and the live figures apply them);
    given, they apply to every queue, as the same flags do for ``acd report``.
    """

    interval: str = "60"
    by: str | None = None
    threshold_s: float | None = None
    short_abandon_s: float | None = None
    sl_formula: str | None = None


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    report: Report
    stats: RunStats
    events: int
    report_wall_s: float


def simulate(scenario: Scenario, sink: Sink, progress: Progress | None = None) -> RunStats:
    """Run ``scenario`` once, handing every list of router outcomes to ``sink``."""
    return run_simulation(
        scenario.config,
        scenario.plan(),
        logins=scenario.agents,
        login_at=scenario.sim_start,
        answer_delay_s=scenario.answer_delay_s,
        sink=sink,
        progress=progress,
    )


def _shared(values: set[float], default: float) -> float:
    return values.pop() if len(values) == 1 else default


def default_threshold_s(scenario: Scenario) -> float:
    """The service-level threshold of the simulated queues if they share one, else 25 s."""
    names = {load.queue for load in scenario.loads}
    return _shared({q.service_level.threshold_s for q in scenario.config.queues if q.name in names}, DEFAULT_THRESHOLD_S)


def default_short_abandon_s(scenario: Scenario) -> float:
    names = {load.queue for load in scenario.loads}
    return _shared({q.short_abandon_s for q in scenario.config.queues if q.name in names}, DEFAULT_SHORT_ABANDON_S)


def simulate_report(
    scenario: Scenario, options: ReportOptions = ReportOptions(), progress: Progress | None = None, *, keep: list[Event] | None = None
) -> SimulationResult:
    """Simulate, then report on ``[scenario.start, scenario.end)`` as ``acd report`` would.

    ``keep``: a list that receives the simulated events (``acd simulate --db`` stores them)."""
    log = EventLog()
    stats = simulate(scenario, log, progress)
    if keep is not None:
        keep.extend(log.events)
    started = time.perf_counter()
    rules = report_rules(
        scenario.config,
        thresholds=options.threshold_s is None and options.short_abandon_s is None,
        formulas=options.sl_formula is None,
    )
    report = compute_report(
        log.events,
        scenario.start,
        scenario.end,
        interval=options.interval,
        timezone=scenario.config.timezone,
        by=options.by,
        threshold_s=options.threshold_s if options.threshold_s is not None else default_threshold_s(scenario),
        short_abandon_s=options.short_abandon_s if options.short_abandon_s is not None else default_short_abandon_s(scenario),
        sl_formula=options.sl_formula or "offered",
        now=scenario.end,
        **rules,  # type: ignore[arg-type]
    )
    return SimulationResult(scenario, report, stats, len(log.events), time.perf_counter() - started)
