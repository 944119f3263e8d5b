"""Independent replications of a scenario, one Router each, run side by side on several cores.

One simulated centre is one Router, and a Router is one sequential chain of decisions:
it cannot be split without changing what it decides.  What *can* be split honestly is
the experiment: ``parts`` independent replications of the same scenario, each with its
own seed, its own fresh Router and its own calls, exactly as if run one after the other.
Their figures add up (calls, answers, abandons, router calls) and they are the usual way
to put error bars on a simulated service level.

The split never depends on the number of worker processes: replication *k* always runs
with the seed :func:`replication_seeds` gives it, so ``workers=1`` (in this process,
one after the other) and ``workers=2`` (two processes) give the same figures, and the
same command gives them again.  Only the wall time changes.

Workers are forked (``fork`` start method, where the platform has it): each builds its
plan from the scenario and runs :func:`acd.planning.sim.engine.run_simulation` with a counting
sink, returning only its :class:`~acd.planning.sim.engine.RunStats`.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from acd.planning.sim.engine import RunStats
from acd.planning.sim.report import simulate
from acd.planning.sim.scenario import Scenario, ScenarioError
from acd.planning.sim.sinks import OutcomeCounter


@dataclass(frozen=True)
class Replications:
    """The parts' own figures, in part order, and what it took to get them."""

    parts: tuple[RunStats, ...]
    seeds: tuple[int, ...]
    workers: int
    wall_s: float  # from the first part handed out to the last result back (plans and forks included)

    @property
    def calls(self) -> int:
        return sum(part.calls for part in self.parts)

    def totals(self) -> dict[str, int]:
        """The figures that add up across replications."""
        return {
            "calls": self.calls,
            "answered": sum(part.answered for part in self.parts),
            "abandoned": sum(part.abandoned for part in self.parts),
            "timed_out": sum(part.timed_out for part in self.parts),
            "router_calls": sum(part.router_calls for part in self.parts),
            "outcomes": sum(part.outcomes for part in self.parts),
            "ignored": sum(part.ignored for part in self.parts),
        }


def replication_seeds(seed: int, parts: int) -> tuple[int, ...]:
    """Seed of each replication: independent streams spawned from ``seed`` (numpy SeedSequence)."""
    if parts < 1:
        raise ScenarioError(f"replications must be at least 1, not {parts}")
    return tuple(int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(parts))


def replication_scenarios(scenario: Scenario, parts: int) -> list[Scenario]:
    """``parts`` copies of ``scenario`` that differ only in their seed."""
    return [replace(scenario, seed=seed) for seed in replication_seeds(scenario.seed, parts)]


def run_part(scenario: Scenario) -> RunStats:
    """One replication, start to finish: draw its calls and run them through a fresh Router."""
    return simulate(scenario, OutcomeCounter())


def run_replications(scenarios: list[Scenario], workers: int) -> Replications:
    """Run each scenario (usually :func:`replication_scenarios`) on up to ``workers`` processes.

    ``workers=1`` runs them here, one after the other (no processes at all).
    """
    if workers < 1:
        raise ScenarioError(f"workers must be at least 1, not {workers}")
    if not scenarios:
        raise ScenarioError("nothing to run: no replications")
    started = time.perf_counter()
    if workers == 1 or len(scenarios) == 1:
        parts = [run_part(scenario) for scenario in scenarios]
        used = 1
    else:
        used = min(workers, len(scenarios))
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=used, mp_context=context) as pool:
            parts = list(pool.map(run_part, scenarios))
    return Replications(tuple(parts), tuple(s.seed for s in scenarios), used, time.perf_counter() - started)
