"""Token-stamped pools and timers: counts stay exact when stale entries pile up and get compacted."""

from __future__ import annotations

from dataclasses import dataclass

from acd.routing import Router, load_routing_text
from acd.routing.pools import Pool, Timers


@dataclass(eq=False)
class Owner:
    name: str
    token: int = 0
    timer_token: int = 0


def test_pool_returns_the_smallest_live_entry_and_counts_exactly_through_compaction() -> None:
    pool: Pool[Owner] = Pool()
    owners = [Owner(f"o{index}", token=index + 1) for index in range(300)]
    for index, owner in enumerate(owners):
        pool.push((float(index),), owner)
    for owner in owners[:250]:  # far past the compaction threshold
        owner.token = 0
        pool.forget_one()
    assert len(pool) == 50
    assert len(pool.heap) < 300  # compacted at least once
    top = pool.top()
    assert top is not None and top[-1] is owners[250]
    assert [owner.name for owner in pool.live()] == [owner.name for owner in owners[250:]]


def test_timers_keep_one_deadline_per_owner_and_skip_cancelled_ones() -> None:
    timers: Timers[Owner] = Timers()
    a, b = Owner("a"), Owner("b")
    timers.schedule(10, a)
    timers.schedule(5, b)
    timers.schedule(20, b)  # replaces b's 5
    for _ in range(200):
        timers.schedule(30, a)  # churn: many stale entries
    assert len(timers) == 2
    assert timers.next_at() == 20
    assert timers.pop_due(25) == (20, b)
    assert timers.pop_due(25) is None
    timers.cancel(a)
    assert timers.next_at() is None and len(timers) == 0


def test_priority_churn_keeps_the_router_consistent() -> None:
    config, problems = load_routing_text("skills: [s]\nqueues:\n  - {name: q, skills: [s]}\n")
    assert config is not None, problems
    router = Router(config)
    for index in range(20):
        router.call_arrived(index, f"c{index}", "q")
    for round_ in range(30):
        for index in range(20):
            router.set_priority(100 + round_, f"c{index}", (index * 7 + round_) % 5)
    assert router.check_invariants() == []
    final = {index: (index * 7 + 29) % 5 for index in range(20)}
    expected = sorted(range(20), key=lambda index: (-final[index], index))
    assert [view.id for view in router.waiting("q")] == [f"c{index}" for index in expected]
