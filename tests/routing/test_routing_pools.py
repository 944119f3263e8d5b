"""Token-stamped pools and timers: counts stay exact (call pools) or memory stays bounded (agent pools) as stale entries pile up."""

from __future__ import annotations

from dataclasses import dataclass

from acd.routing import RingAgent, Router, load_routing_text
from acd.routing.pools import AgentPool, Pool, Timers


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


def test_agent_pool_skips_stale_entries_and_compacts_in_place() -> None:
    pool = AgentPool()
    shared = pool.line  # the router keeps this very deque on its agent records
    owners = [Owner(f"o{index}", token=index + 1) for index in range(10)]
    for index, owner in enumerate(owners):
        pool.add((float(index), owner.token, owner))
    for owner in owners[:4] + owners[6:8]:
        owner.token = 0  # busy: nothing is recorded in the pool
    top = pool.top()
    assert top is not None and top[-1] is owners[4]
    pool.compact()
    assert pool.line is shared and len(shared) == 4
    assert [owner.name for owner in pool.live()] == ["o4", "o5", "o8", "o9"]


def test_agent_pool_keeps_longest_idle_first_whatever_the_order_agents_come_back() -> None:
    """Agents go back mostly in time order, but one whose ring was cancelled keeps an older place."""
    pool = AgentPool()
    owners = [Owner(f"o{index}", token=index + 1) for index in range(6)]
    for idle_since, owner in zip([5.0, 1.0, 7.0, 3.0, 3.0, 9.0], owners):
        pool.add((idle_since, owner.token, owner))
    assert [owner.name for owner in pool.live()] == ["o1", "o3", "o4", "o0", "o2", "o5"]
    owners[1].token = 0
    top = pool.top()
    assert top is not None and top[-1] is owners[3] and len(pool.line) == 5  # the stale head is gone


def test_agent_pools_of_a_queue_without_calls_do_not_grow_with_every_freed_agent() -> None:
    """Agents serving two queues but answering only one's calls leave a stale entry in the
    other's pool each time; the router's sweep must keep that pool bounded."""
    text = (
        "skills: [s]\nqueues:\n  - {name: busy, skills: [s]}\n  - {name: idle, skills: [s]}\n"
        "agents:\n  - {id: a0, name: A0, endpoint: PJSIP/a0, skills: {s: 5}}\n"
        "  - {id: a1, name: A1, endpoint: PJSIP/a1, skills: {s: 5}}\n"
    )
    config, problems = load_routing_text(text)
    assert config is not None, problems
    router = Router(config)
    router.agent_login(0, "a0")
    router.agent_login(0, "a1")
    idle_pools = [pool for _level, pool in router._queues["idle"].agent_pools]
    largest = 0
    for index in range(2000):
        now = float(index)
        ring = next(o for o in router.call_arrived(now, f"c{index}", "busy") if isinstance(o, RingAgent))
        router.agent_answered(now, ring.agent_id, f"c{index}")
        router.call_completed(now + 0.5, f"c{index}")
        largest = max(largest, *(len(pool.line) for pool in idle_pools))
    assert largest <= 32  # 2000 frees: unswept, the idle queue's pool would hold ~2000 entries
    assert [agent.id for pool in idle_pools for agent in pool.live()] and router.check_invariants() == []
