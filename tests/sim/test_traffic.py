"""Arrivals, handle times and patience: right distributions, reproducible, common random numbers."""

from __future__ import annotations

import math
import statistics

import pytest

from acd.planning.sim.traffic import HandleTimes, LoadSegment, QueueLoad, plan_calls

HOUR = 3600.0


def loads(rate_a: float = 300.0, rate_b: float = 100.0, hours: float = 10.0) -> list[QueueLoad]:
    end = hours * HOUR
    return [QueueLoad("a", (LoadSegment(0.0, end, rate_a, 120.0),)), QueueLoad("b", (LoadSegment(0.0, end, rate_b, 300.0),))]


def test_arrivals_are_poisson_per_queue_and_sorted() -> None:
    plan = plan_calls(loads(), HandleTimes(), None, seed=1)
    assert plan.times == sorted(plan.times)
    counts = {queue: plan.queues.count(queue) for queue in ("a", "b")}
    assert abs(counts["a"] - 3000) < 5 * math.sqrt(3000) and abs(counts["b"] - 1000) < 5 * math.sqrt(1000)
    gaps = [b - a for a, b in zip(plan.times, plan.times[1:])]
    mean_gap = statistics.fmean(gaps)
    assert mean_gap == pytest.approx(HOUR / 400, rel=0.05)
    assert statistics.pstdev(gaps) == pytest.approx(mean_gap, rel=0.06)  # exponential gaps: sd = mean


def test_rates_follow_the_segments() -> None:
    load = QueueLoad("a", (LoadSegment(0.0, HOUR, 1000.0, 60.0), LoadSegment(HOUR, 2 * HOUR, 0.0, 60.0), LoadSegment(2 * HOUR, 3 * HOUR, 200.0, 60.0)))
    plan = plan_calls([load], HandleTimes(), None, seed=4)
    per_hour = [sum(1 for t in plan.times if k * HOUR <= t < (k + 1) * HOUR) for k in range(3)]
    assert abs(per_hour[0] - 1000) < 5 * math.sqrt(1000) and per_hour[1] == 0 and abs(per_hour[2] - 200) < 5 * math.sqrt(200)


def test_handle_times_have_the_segment_mean_and_the_asked_spread() -> None:
    exp_plan = plan_calls(loads(), HandleTimes(), None, seed=2)
    by_queue = {q: [h for h, name in zip(exp_plan.handle_s, exp_plan.queues) if name == q] for q in ("a", "b")}
    assert statistics.fmean(by_queue["a"]) == pytest.approx(120, rel=0.06)
    assert statistics.fmean(by_queue["b"]) == pytest.approx(300, rel=0.1)
    lognormal = plan_calls(loads(rate_b=0.0, hours=40), HandleTimes("lognormal", 45.0), None, seed=2)
    assert statistics.fmean(lognormal.handle_s) == pytest.approx(120, rel=0.02)
    assert statistics.pstdev(lognormal.handle_s) == pytest.approx(45, rel=0.06)


def test_patience_is_exponential_with_the_given_mean() -> None:
    plan = plan_calls(loads(), HandleTimes(), 90.0, seed=3)
    assert plan.patience_s is not None and len(plan.patience_s) == len(plan)
    assert statistics.fmean(plan.patience_s) == pytest.approx(90, rel=0.05)
    assert plan_calls(loads(), HandleTimes(), None, seed=3).patience_s is None


def test_same_seed_same_calls_and_patience_does_not_move_arrivals() -> None:
    first = plan_calls(loads(), HandleTimes(), None, seed=7)
    again = plan_calls(loads(), HandleTimes(), None, seed=7)
    patient = plan_calls(loads(), HandleTimes(), 60.0, seed=7)
    other = plan_calls(loads(), HandleTimes(), None, seed=8)
    assert first == again
    assert (patient.times, patient.queues, patient.handle_s) == (first.times, first.queues, first.handle_s)
    assert other.times != first.times


def test_lognormal_needs_a_positive_spread() -> None:
    with pytest.raises(ValueError):
        HandleTimes("lognormal", None)
    with pytest.raises(ValueError):
        HandleTimes("gamma")  # type: ignore[arg-type]
