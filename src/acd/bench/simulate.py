"""``acd bench simulate``: how many calls per second the simulator gets through, and why.

The centre is the routing benchmark's synthetic one (``acd.routing.synthetic``: skill
queues with 0/20/40 s expansion, pair queues overflowing after 60 s, agents with six
skills each), loaded to a target occupancy with traffic in proportion to each queue's
staffing, callers with patience and phones that ring before they are answered — so the
router's timers, cancellations and abandons are all on the path being timed.

Four figures, each on its own run:

* **simulation**: the event loop with a counting sink (the simulator's throughput in
  one process);
* **parallel**: the same number of calls as ``parts`` independent replications
  (``acd.planning.sim.parallel``: each its own seed, its own fresh Router and its own calls,
  each part a ``1/parts`` share of the calls) run on up to ``workers`` processes; the
  wall time runs from handing out the first part to the last result, so drawing the
  calls and forking are included.  A Router is one sequential chain of decisions and
  is never split; the figures of the parts add up and do not depend on ``workers``;
* **breakdown**: the router alone, replaying the exact Router calls of a (shorter)
  run, so the simulator's own share is measured rather than guessed, plus the router's
  hottest functions;
* **report pipeline**: the full ``acd simulate`` path (``outcome_to_event`` and
  ``compute_report``) on a smaller run, because turning outcomes into pydantic events
  costs more than routing them.

The machine is shared with whatever else runs, so the simulation is repeated and the
best and median are both printed.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

from acd.bench.machine import machine_info
from acd.bench.router_trace import TracingRouter, time_router
from acd.routing import RoutingConfig
from acd.routing.synthetic import synthetic_config
from acd.planning.sim import OutcomeCounter, ReportOptions, Scenario, constant_load, run_simulation
from acd.planning.sim.parallel import replication_scenarios, run_replications
from acd.planning.sim.report import simulate_report

GOAL_CALLS = 1_000_000
GOAL_SECONDS = 10.0
START = 1_767_610_800.0  # 2026-01-05 08:00 in Santiago; only labels report rows


@dataclass(frozen=True)
class SimBenchOptions:
    calls: int = 1_000_000
    agents: int = 200
    skills: int = 16
    occupancy: float = 0.85
    aht_s: float = 180.0
    patience_s: float | None = 240.0
    answer_delay_s: float = 2.0
    seed: int = 1
    repeat: int = 3
    breakdown_calls: int = 200_000
    report_calls: int = 20_000
    parts: int = 2  # replications in the parallel run
    workers: int = 0  # processes for the parallel run; 0 = one per core, at most one per part


def bench_scenario(config: RoutingConfig, calls: int, options: SimBenchOptions) -> Scenario:
    """About ``calls`` calls at ``occupancy``, each queue's share in proportion to its eligible agents."""
    weights = {queue.name: len(config.eligible_agents(queue)) for queue in config.queues}
    total_weight = sum(weights.values()) or 1
    total_rate = options.occupancy * len(config.agents) / options.aht_s * 3600.0  # calls per hour
    seconds = max(60.0, calls / total_rate * 3600.0)
    loads = tuple(
        constant_load(name, total_rate * weight / total_weight, options.aht_s, START, START + seconds)
        for name, weight in weights.items()
        if weight
    )
    return Scenario(
        config, loads, START, START + seconds, patience_s=options.patience_s, answer_delay_s=options.answer_delay_s, seed=options.seed
    )


def _run(scenario: Scenario, plan: Any, router: Any = None) -> tuple[float, Any]:
    gc.collect()
    stats = run_simulation(
        scenario.config, plan, logins=scenario.agents, login_at=scenario.sim_start,
        answer_delay_s=scenario.answer_delay_s, sink=OutcomeCounter(), router=router,
    )
    return stats.wall_s, stats


def run_sim_bench(options: SimBenchOptions = SimBenchOptions()) -> dict[str, Any]:
    config = synthetic_config(options.agents, options.skills, seed=options.seed)
    scenario = bench_scenario(config, options.calls, options)

    started = time.perf_counter()
    plan = scenario.plan()
    plan_s = time.perf_counter() - started
    walls = []
    stats = None
    for _ in range(max(1, options.repeat)):
        wall, stats = _run(scenario, plan)
        walls.append(wall)
    assert stats is not None
    best, median = min(walls), statistics.median(walls)
    simulation = {
        "calls": len(plan),
        "plan_s": round(plan_s, 3),
        "wall_s_best": round(best, 3),
        "wall_s_median": round(median, 3),
        "wall_s_runs": [round(w, 3) for w in walls],
        "calls_per_s": round(len(plan) / best),
        "router_calls": stats.router_calls,
        "outcomes": stats.outcomes,
        "answered": stats.answered,
        "abandoned": stats.abandoned,
        "ignored_by_router": stats.ignored,
    }

    small = bench_scenario(config, min(options.calls, options.breakdown_calls), options)
    small_plan = small.plan()
    small_walls = [_run(small, small_plan)[0] for _ in range(max(1, options.repeat))]
    tracer = TracingRouter(config)
    _run(small, small_plan, router=tracer)
    timing = time_router(config, tracer.trace)
    small_best = min(small_walls)
    own = max(0.0, small_best - timing.seconds)
    breakdown = {
        "calls": len(small_plan),
        "simulation_s": round(small_best, 3),
        "router_s": round(timing.seconds, 3),
        "router_share": round(timing.seconds / small_best, 3) if small_best else None,
        "simulator_own_s": round(own, 3),
        "router_us_per_call": round(timing.seconds / len(small_plan) * 1e6, 2) if small_plan else None,
        "simulator_own_us_per_call": round(own / len(small_plan) * 1e6, 2) if small_plan else None,
        "router_calls": timing.calls,
        "router_by_method": timing.by_method,
        "router_hotspots": timing.hotspots,
    }

    report_scenario = bench_scenario(config, min(options.calls, options.report_calls), options)
    started = time.perf_counter()
    result = simulate_report(report_scenario, ReportOptions(interval="60"))
    pipeline_s = time.perf_counter() - started
    report = {
        "calls": result.stats.calls,
        "events": result.events,
        "simulate_with_events_s": round(result.stats.wall_s, 3),
        "compute_report_s": round(result.report_wall_s, 3),
        "total_s": round(pipeline_s, 3),
        "calls_per_s": round(result.stats.calls / pipeline_s) if pipeline_s else None,
        "us_per_event": round((result.stats.wall_s - result.stats.calls / simulation["calls_per_s"]) / max(1, result.events) * 1e6, 2),
    }

    parallel = run_parallel(config, options)

    projected = GOAL_CALLS / simulation["calls_per_s"]
    parallel_projected = GOAL_CALLS / parallel["calls_per_s"]
    return {
        "centre": {"agents": options.agents, "skills": options.skills, "queues": len(config.queues), "occupancy": options.occupancy,
                   "aht_s": options.aht_s, "patience_s": options.patience_s, "answer_delay_s": options.answer_delay_s},
        "seed": options.seed,
        "simulation": simulation,
        "breakdown": breakdown,
        "parallel": parallel,
        "report_pipeline": report,
        "goal": {
            "calls": GOAL_CALLS,
            "seconds": GOAL_SECONDS,
            "projected_s": round(projected, 2),  # one process
            "met": projected <= GOAL_SECONDS,
            "parallel_projected_s": round(parallel_projected, 2),
            "parallel_met": parallel_projected <= GOAL_SECONDS,
        },
        "machine": machine_info(),
    }


def run_parallel(config: RoutingConfig, options: SimBenchOptions) -> dict[str, Any]:
    """``options.calls`` calls as ``options.parts`` replications on up to ``options.workers`` processes."""
    parts = max(1, options.parts)
    workers = options.workers or min(parts, os.cpu_count() or 1)
    part = bench_scenario(config, math.ceil(options.calls / parts), options)
    scenarios = replication_scenarios(part, parts)
    walls = []
    result = None
    for _ in range(max(1, options.repeat)):
        gc.collect()
        result = run_replications(scenarios, workers)
        walls.append(result.wall_s)
    assert result is not None
    totals = result.totals()
    best = min(walls)
    return {
        "parts": parts,
        "workers": result.workers,
        "seeds": list(result.seeds),
        "calls": totals["calls"],
        "wall_s_best": round(best, 3),
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_runs": [round(w, 3) for w in walls],
        "part_wall_s": [round(p.wall_s, 3) for p in result.parts],
        "calls_per_s": round(totals["calls"] / best),
        "answered": totals["answered"],
        "abandoned": totals["abandoned"],
        "router_calls": totals["router_calls"],
        "ignored_by_router": totals["ignored"],
    }
