"""The simulator against queueing theory: single-queue FCFS must agree with Erlang C and A.

Conditions of the textbook models: one queue, N identical agents, no expansion or
overflow, no wrap-up, exponential handle times, Poisson arrivals, callers answered at
once when an agent is free.  Figures come from the full path a planner sees — the
engine's Router, ``outcome_to_event`` and ``compute_report`` — after a warm-up, so the
comparison is with the steady state.

Run sizes: the service level of a queue is strongly autocorrelated, so its standard
error is several times the binomial one.  Measured over 8 seeds, the standard deviation
of the simulated service level is about 0.33 points for the Erlang C run below and
0.25 points for the Erlang A run (abandonment 0.2), so the 1-point tolerance is a
3-5 sigma test while the runs stay under ~10 s each.
"""

from __future__ import annotations

from typing import Callable

import pytest

from acd.planning.erlang import erlang_a, erlang_c_figures
from acd.routing import RoutingConfig
from acd.planning.sim import ReportOptions, Scenario, constant_load, simulate_report


def steady_run(config: RoutingConfig, erlangs: float, aht_s: float, calls: int, seed: int, patience_s: float | None = None):
    """Total figures of a run offering about ``calls`` calls after a 20-AHT warm-up."""
    rate = erlangs / aht_s * 3600.0
    seconds = calls / rate * 3600.0
    scenario = Scenario(
        config, (constant_load("q", rate, aht_s, 0.0, seconds),), 0.0, seconds, warmup_s=20 * aht_s, seed=seed, patience_s=patience_s
    )
    result = simulate_report(scenario, ReportOptions(interval="day", short_abandon_s=0.0))
    assert result.stats.ignored == 0, result.stats.ignored_reasons
    return result.report.total


def points(fraction) -> float:  # noqa: ANN001 - Fraction or float percentage
    return float(fraction)


def test_fcfs_service_level_agrees_with_erlang_c(fcfs: Callable[..., RoutingConfig]) -> None:
    agents, erlangs, aht, threshold = 2, 0.8, 60.0, 20.0
    total = steady_run(fcfs(agents, threshold_s=threshold), erlangs, aht, calls=60_000, seed=11)
    expected = erlang_c_figures(agents, erlangs, aht, threshold)
    assert total.offered > 58_000 and total.answered == total.offered and total.abandoned == 0
    assert points(total.service_level) == pytest.approx(expected.service_level * 100, abs=1.0)
    assert points(total.occupancy) == pytest.approx(expected.occupancy * 100, abs=1.0)
    assert total.asa_s == pytest.approx(expected.asa_seconds, rel=0.08)


def test_fcfs_with_patience_agrees_with_erlang_a(fcfs: Callable[..., RoutingConfig]) -> None:
    agents, erlangs, aht, patience, threshold = 2, 1.2, 100.0, 60.0, 20.0
    total = steady_run(fcfs(agents, threshold_s=threshold), erlangs, aht, calls=50_000, seed=12, patience_s=patience)
    expected = erlang_a(agents, erlangs, aht, patience, threshold)
    assert expected.abandonment_rate is not None and expected.abandonment_rate > 0.1  # a real abandonment test
    assert total.offered > 48_000 and total.answered + total.abandoned == total.offered
    assert points(total.abandonment_rate) == pytest.approx(expected.abandonment_rate * 100, abs=1.0)
    assert points(total.service_level) == pytest.approx(expected.service_level * 100, abs=1.0)
    assert points(total.occupancy) == pytest.approx(expected.occupancy * 100, abs=1.0)
