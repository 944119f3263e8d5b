"""Replications split over processes: each part is a full run of its own, and the split changes no figure."""

from __future__ import annotations

import dataclasses

import pytest

from acd.routing import RoutingConfig
from acd.planning.sim import OutcomeCounter, Scenario, constant_load, run_simulation
from acd.planning.sim.parallel import replication_scenarios, replication_seeds, run_replications
from acd.planning.sim.scenario import ScenarioError

HOUR = 3600.0


def busy_scenario(config: RoutingConfig, seed: int = 5) -> Scenario:
    loads = (
        constant_load("billing", 90, 150, 0.0, 2 * HOUR),
        constant_load("tech", 50, 200, 0.0, 2 * HOUR),
    )
    return Scenario(config, loads, 0.0, 2 * HOUR, patience_s=90, answer_delay_s=2.0, seed=seed)


def figures(stats: object) -> dict[str, object]:
    """A run's figures without its wall time."""
    values = dataclasses.asdict(stats)  # type: ignore[call-overload]
    values.pop("wall_s")
    return values


def test_two_processes_give_the_same_figures_as_one_for_the_same_seed(multi_skill: RoutingConfig) -> None:
    scenarios = replication_scenarios(busy_scenario(multi_skill), 3)
    alone = run_replications(scenarios, workers=1)
    split = run_replications(scenarios, workers=2)
    assert split.workers == 2 and alone.workers == 1
    assert [figures(part) for part in split.parts] == [figures(part) for part in alone.parts]
    assert split.totals() == alone.totals()
    assert split.totals()["answered"] > 0 and split.totals()["abandoned"] > 0


def test_each_part_is_a_whole_run_of_the_real_router_with_its_own_seed(multi_skill: RoutingConfig) -> None:
    """A part's figures are those of simulating its scenario directly: nothing is shared or skipped."""
    scenarios = replication_scenarios(busy_scenario(multi_skill), 2)
    result = run_replications(scenarios, workers=2)
    for scenario, part in zip(scenarios, result.parts):
        direct = run_simulation(
            scenario.config, scenario.plan(), logins=scenario.agents, login_at=scenario.sim_start,
            answer_delay_s=scenario.answer_delay_s, sink=OutcomeCounter(),
        )
        assert figures(part) == figures(direct)
        assert part.router_calls >= 3 * part.answered  # arrival, answer and completion of every answered call
    assert figures(result.parts[0]) != figures(result.parts[1])  # different seeds, different calls


def test_replication_seeds_are_reproducible_distinct_and_change_with_the_seed() -> None:
    seeds = replication_seeds(7, 4)
    assert seeds == replication_seeds(7, 4)
    assert len(set(seeds)) == 4
    assert replication_seeds(7, 2) == seeds[:2]  # adding parts does not move the first ones
    assert set(replication_seeds(8, 4)).isdisjoint(seeds)


def test_impossible_splits_are_refused_with_a_plain_message(multi_skill: RoutingConfig) -> None:
    with pytest.raises(ScenarioError, match="replications must be at least 1, not 0"):
        replication_seeds(1, 0)
    with pytest.raises(ScenarioError, match="workers must be at least 1, not 0"):
        run_replications(replication_scenarios(busy_scenario(multi_skill), 2), workers=0)
    with pytest.raises(ScenarioError, match="no replications"):
        run_replications([], workers=2)
