"""``acd bench simulate`` plumbing (small runs, no timing assertions) and the router replay it relies on."""

from __future__ import annotations

import json

import pytest

from acd.bench.router_trace import TracingRouter, replay_seconds, time_router
from acd.bench.simulate import SimBenchOptions, bench_scenario
from acd.cli import main
from acd.routing import Router
from acd.routing.decisions import Outcome
from acd.routing.synthetic import synthetic_config
from acd.planning.sim import run_simulation

SMALL = ["bench", "simulate", "--calls", "3000", "--agents", "40", "--skills", "4", "--repeat", "2",
         "--breakdown-calls", "1500", "--report-calls", "500", "--seed", "2"]


def test_bench_simulate_prints_json_with_throughput_breakdown_and_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SMALL) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert set(data) == {"centre", "seed", "simulation", "breakdown", "parallel", "report_pipeline", "goal", "machine"}
    assert set(data["machine"]) == {"platform", "python", "cpu", "cores"}
    sim = data["simulation"]
    assert abs(sim["calls"] - 3000) < 300 and sim["ignored_by_router"] == 0
    assert len(sim["wall_s_runs"]) == 2 and sim["wall_s_best"] <= sim["wall_s_median"]
    assert sim["calls_per_s"] > 0 and sim["answered"] + sim["abandoned"] <= sim["calls"]
    parts = data["breakdown"]
    assert abs(parts["calls"] - 1500) < 200 and parts["router_s"] > 0
    assert {"call_arrived", "agent_answered", "call_completed", "next_deadline"} <= set(parts["router_by_method"])
    assert parts["router_hotspots"] and all(0 <= row["share_of_router"] <= 1 for row in parts["router_hotspots"])
    report = data["report_pipeline"]
    assert abs(report["calls"] - 500) < 120 and report["events"] > 5 * report["calls"]
    parallel = data["parallel"]
    assert parallel["parts"] == 2 and parallel["workers"] >= 1 and len(parallel["seeds"]) == 2
    assert abs(parallel["calls"] - 3000) < 300 and parallel["ignored_by_router"] == 0 and parallel["calls_per_s"] > 0
    assert data["goal"]["calls"] == 1_000_000 and isinstance(data["goal"]["met"], bool)
    assert isinstance(data["goal"]["parallel_met"], bool)
    assert "calls/s" in captured.err and "replications" in captured.err


def test_the_bench_centre_is_loaded_as_asked() -> None:
    options = SimBenchOptions(calls=20_000, agents=100, skills=8, occupancy=0.8)
    config = synthetic_config(100, 8, seed=1)
    scenario = bench_scenario(config, 20_000, options)
    expected = sum(load.expected_calls for load in scenario.loads)
    assert expected == pytest.approx(20_000, rel=1e-6)
    erlangs = sum(load.segments[0].calls_per_hour for load in scenario.loads) * options.aht_s / 3600
    assert erlangs == pytest.approx(0.8 * 100)


def test_replaying_a_trace_repeats_the_routers_decisions_exactly() -> None:
    """The breakdown is only honest if the replay is the same work: same calls, same outcomes."""
    config = synthetic_config(60, 6, seed=3)
    scenario = bench_scenario(config, 2000, SimBenchOptions(agents=60, skills=6))
    tracer = TracingRouter(config)
    live: list[Outcome] = []
    run_simulation(config, scenario.plan(), logins=scenario.agents, login_at=scenario.sim_start,
                   answer_delay_s=scenario.answer_delay_s, sink=live.extend, router=tracer)
    replayed: list[Outcome] = []
    fresh = Router(config)
    for name, args in tracer.trace:
        result = getattr(fresh, name)(*args)
        if isinstance(result, list):
            replayed.extend(result)
    assert replayed == live and len(live) > 10_000
    assert replay_seconds(config, tracer.trace) > 0
    timing = time_router(config, tracer.trace, top=5)
    assert timing.calls == len(tracer.trace) and len(timing.hotspots) == 5
    assert sum(row["calls"] for row in timing.by_method.values()) == len(tracer.trace)
