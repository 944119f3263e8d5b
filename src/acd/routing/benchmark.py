"""Measure routing decision latency on a synthetic centre (``acd bench routing``).

Two decisions matter on a live system: an agent becomes free and must get the best
waiting call, and a call arrives and must get the best free agent.  The benchmark fills
the queues to the requested backlog and alternates the two there ("busy": freed agents
take waiting calls, arrivals queue), then does the same in a centre with every agent
free ("quiet": each arrival chooses among many agents), timing each router call with
``perf_counter_ns``.  Due timers are applied (untimed) before each measured
call so every sample is one decision, not a batch of expansion steps.  Objects built
during setup are frozen out of the garbage collector's young generations, as a
long-running engine's configuration would be; collections during the run still count.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import random
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from acd.routing.decisions import Outcome, RingAgent
from acd.routing.router import Router
from acd.routing.synthetic import synthetic_config

STEP_S = 0.005  # simulated time between two measured decisions


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50_us: float
    p99_us: float
    max_us: float
    rang: int  # decisions that rang an agent

    @classmethod
    def of(cls, samples_ns: list[int], rang: int) -> "LatencySummary":
        ordered = sorted(samples_ns)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1000.0 if ordered else 0.0

        return cls(len(ordered), rank(0.50), rank(0.99), ordered[-1] / 1000.0 if ordered else 0.0, rang)


@dataclass(frozen=True, slots=True)
class BenchResult:
    agents: int
    skills: int
    queues: int
    waiting_target: int
    waiting_at_start: int
    waiting_at_end: int
    seed: int
    overall: LatencySummary
    by_kind: dict[str, LatencySummary]
    machine: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def summary(item: LatencySummary) -> dict[str, Any]:
            return {"decisions": item.count, "p50_us": item.p50_us, "p99_us": item.p99_us, "max_us": item.max_us, "rang_agent": item.rang}

        return {
            "agents": self.agents,
            "skills": self.skills,
            "queues": self.queues,
            "waiting_target": self.waiting_target,
            "waiting_at_start": self.waiting_at_start,
            "waiting_at_end": self.waiting_at_end,
            "seed": self.seed,
            **summary(self.overall),
            "by_kind": {kind: summary(item) for kind, item in self.by_kind.items()},
            "machine": self.machine,
        }


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model") and value.strip():
                    cpu = value.strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
    }


class _Driver:
    """Plays a simple engine: answers every ring at once and remembers who is talking."""

    def __init__(self, router: Router, seed: int) -> None:
        self.router = router
        self.rng = random.Random(seed)
        self.queues = [queue.name for queue in router.config.queues]
        # Load in proportion to staffing, as a centre plans it, so the backlog stays spread out.
        self.weights = [len(router.config.eligible_agents(queue)) or 1 for queue in router.config.queues]
        self.talking: list[str] = []
        self.now = 0.0
        self.next_id = 0

    def answer(self, outcomes: list[Outcome]) -> int:
        rang = 0
        for outcome in outcomes:
            if isinstance(outcome, RingAgent):
                rang += 1
                self.router.agent_answered(self.now, outcome.agent_id, outcome.call_id)
                self.talking.append(outcome.call_id)
        return rang

    def pick_queue(self) -> str:
        return self.rng.choices(self.queues, self.weights)[0]

    def new_call_id(self) -> str:
        self.next_id += 1
        return f"c{self.next_id}"

    def pop_talking(self) -> str:
        index = self.rng.randrange(len(self.talking))
        self.talking[index], self.talking[-1] = self.talking[-1], self.talking[index]
        return self.talking.pop()


def _measure(router: Router, driver: _Driver, decisions: int, waiting: int, phase: str, samples: dict[str, list[int]], rang: dict[str, int]) -> None:
    """Alternate "agent frees up" and "call arrives", steering the backlog towards ``waiting``."""
    for index in range(decisions):
        driver.now += STEP_S
        driver.answer(router.advance(driver.now))
        backlog = router.waiting_count()
        free_agent = driver.talking and (backlog >= waiting if waiting else index % 2 == 0)
        if free_agent:
            call_id = driver.pop_talking()
            started = perf_counter_ns()
            outcomes = router.call_completed(driver.now, call_id)
            elapsed = perf_counter_ns() - started
        else:
            call_id, queue = driver.new_call_id(), driver.pick_queue()
            started = perf_counter_ns()
            outcomes = router.call_arrived(driver.now, call_id, queue)
            elapsed = perf_counter_ns() - started
        kind = f"{'agent_free' if free_agent else 'call_arrival'}/{phase}"
        samples.setdefault(kind, []).append(elapsed)
        rang[kind] = rang.get(kind, 0) + driver.answer(outcomes)


def run_routing_bench(agents: int = 2000, skills: int = 64, waiting: int = 500, decisions: int = 20000, seed: int = 1) -> BenchResult:
    """Time ``decisions`` decisions: half in a busy centre (``waiting`` calls queued, every
    agent talking), half in a quiet one (every agent free, so each arrival picks among many)."""
    config = synthetic_config(agents, skills, seed=seed)
    samples: dict[str, list[int]] = {}
    rang: dict[str, int] = {}

    busy = Router(config)
    driver = _Driver(busy, seed)
    for agent in config.agents:
        busy.agent_login(0.0, agent.id)
    guard = agents + waiting * 20 + 100
    while busy.waiting_count() < waiting and guard > 0:
        guard -= 1
        driver.answer(busy.call_arrived(0.0, driver.new_call_id(), driver.pick_queue()))
    waiting_at_start = busy.waiting_count()

    quiet = Router(config)
    quiet_driver = _Driver(quiet, seed + 1)
    for agent in config.agents:
        quiet.agent_login(0.0, agent.id)

    gc.collect()
    gc.freeze()
    try:
        _measure(busy, driver, decisions - decisions // 2, waiting, "busy", samples, rang)
        _measure(quiet, quiet_driver, decisions // 2, 0, "quiet", samples, rang)
    finally:
        gc.unfreeze()
    everything = [sample for values in samples.values() for sample in values]
    return BenchResult(
        agents=agents,
        skills=skills,
        queues=len(config.queues),
        waiting_target=waiting,
        waiting_at_start=waiting_at_start,
        waiting_at_end=busy.waiting_count(),
        seed=seed,
        overall=LatencySummary.of(everything, sum(rang.values())),
        by_kind={kind: LatencySummary.of(samples[kind], rang.get(kind, 0)) for kind in sorted(samples)},
        machine=machine_info(),
    )
