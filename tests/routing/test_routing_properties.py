"""Random event sequences: the router never raises and never breaks its promises."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.dispatch import outcome_to_event
from acd.metrics.live import LiveStats
from acd.routing.decisions import Ignored
from acd.routing import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallTimedOut,
    CancelRing,
    Outcome,
    RingAgent,
    RingNoAnswer,
    Router,
    RoutingConfig,
    load_routing_text,
)

CONFIG = """\
skills: [a, b, c]
queues:
  - name: qa
    skills: [a]
    wrap_up_s: 3
    ring_timeout_s: 4
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 5, min_proficiency: 3}
      - {after_s: 12, overflow: qc}
  - name: qab
    skills: [a, b]
    priority: 2
    max_wait_s: 9
    overflow: qa
  - name: qb
    skills: [b]
    max_wait_s: 20
    ring_timeout_s: 2
  - name: qc
    skills: [c]
    wrap_up_s: 1
agents:
  - {id: g0, name: G0, endpoint: PJSIP/g0, skills: {a: 9, b: 2}}
  - {id: g1, name: G1, endpoint: PJSIP/g1, skills: {a: 4, b: 8, c: 5}}
  - {id: g2, name: G2, endpoint: PJSIP/g2, skills: {a: 1, c: 9}}
  - {id: g3, name: G3, endpoint: PJSIP/g3, skills: {b: 6, c: 2}}
"""

AGENTS = ["g0", "g1", "g2", "g3", "ghost"]
CALLS = [f"c{index}" for index in range(7)]
QUEUES = ["qa", "qab", "qb", "qc", "nowhere"]


def _config() -> RoutingConfig:
    config, problems = load_routing_text(CONFIG)
    assert problems == [] and config is not None
    return config


CONFIG_OBJECT = _config()

operation = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(CALLS), st.sampled_from(QUEUES), st.integers(-1, 3)),
    st.tuples(st.just("abandon"), st.sampled_from(CALLS)),
    st.tuples(st.just("complete"), st.sampled_from(CALLS)),
    st.tuples(st.just("answer"), st.sampled_from(AGENTS), st.sampled_from(CALLS)),
    st.tuples(st.just("rona"), st.sampled_from(AGENTS), st.sampled_from(CALLS)),
    st.tuples(st.just("login"), st.sampled_from(AGENTS)),
    st.tuples(st.just("logout"), st.sampled_from(AGENTS)),
    st.tuples(st.just("pause"), st.sampled_from(AGENTS), st.sampled_from(["lunch", "break"])),
    st.tuples(st.just("unpause"), st.sampled_from(AGENTS)),
    st.tuples(st.just("priority"), st.sampled_from(CALLS), st.integers(-2, 5)),
    st.tuples(st.just("move"), st.sampled_from(CALLS), st.sampled_from(QUEUES)),
    st.tuples(st.just("advance"),),
    st.tuples(st.just("answer-ringing"),),
)
script = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5, 4.0, 7.0, 13.0]), operation), max_size=60)


def _apply(router: Router, now: float, op: tuple[Any, ...], ringing: dict[str, str]) -> list[Outcome]:
    kind = op[0]
    if kind == "arrive":
        return router.call_arrived(now, op[1], op[2], priority=None if op[3] < 0 else op[3])
    if kind == "abandon":
        return router.caller_abandoned(now, op[1])
    if kind == "complete":
        return router.call_completed(now, op[1])
    if kind == "answer":
        return router.agent_answered(now, op[1], op[2])
    if kind == "rona":
        return router.ring_no_answer(now, op[1], op[2])
    if kind == "login":
        return router.agent_login(now, op[1])
    if kind == "logout":
        return router.agent_logout(now, op[1])
    if kind == "pause":
        return router.agent_pause(now, op[1], op[2])
    if kind == "unpause":
        return router.agent_unpause(now, op[1])
    if kind == "priority":
        return router.set_priority(now, op[1], op[2])
    if kind == "move":
        return router.move_call(now, op[1], op[2])
    if kind == "answer-ringing" and ringing:
        agent_id = sorted(ringing)[0]
        return router.agent_answered(now, agent_id, ringing[agent_id])
    return router.advance(now)


class Ledger:
    """What the engine would believe from the outcomes alone; flags any double booking."""

    def __init__(self) -> None:
        self.ringing: dict[str, str] = {}  # agent -> call it is being offered
        self.talking: dict[str, str] = {}  # agent -> call it is connected to
        self.call_agent: dict[str, str] = {}  # call -> agent ringing or talking

    def apply(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, RingAgent):
                assert outcome.agent_id not in self.ringing, f"{outcome.agent_id} offered two calls"
                assert outcome.agent_id not in self.talking, f"{outcome.agent_id} offered a call while talking"
                assert outcome.call_id not in self.call_agent, f"{outcome.call_id} offered to two agents"
                self.ringing[outcome.agent_id] = outcome.call_id
                self.call_agent[outcome.call_id] = outcome.agent_id
            elif isinstance(outcome, CancelRing) and outcome.reason == "ring-timeout":
                assert outcome.agent_id not in self.ringing  # the RingNoAnswer just before ended the offer
            elif isinstance(outcome, (CancelRing, RingNoAnswer)):
                assert self.ringing.pop(outcome.agent_id) == outcome.call_id
                del self.call_agent[outcome.call_id]
            elif isinstance(outcome, CallAnswered):
                assert self.ringing.pop(outcome.agent_id) == outcome.call_id
                self.talking[outcome.agent_id] = outcome.call_id
            elif isinstance(outcome, CallCompleted):
                assert self.talking.pop(outcome.agent_id) == outcome.call_id
                del self.call_agent[outcome.call_id]
            elif isinstance(outcome, (CallAbandoned, CallTimedOut)):
                assert outcome.call_id not in self.talking.values()


def _check_waiting_calls(router: Router) -> None:
    seen: list[str] = []
    for queue in CONFIG_OBJECT.queues:
        waiting = router.waiting(queue.name)
        assert len(waiting) == router.waiting_count(queue.name)
        seen += [view.id for view in waiting]
        assert all(view.queue == queue.name and view.state == "waiting" for view in waiting)
    assert len(seen) == len(set(seen)), "a waiting call is in two queues"
    routed_waiting = {call_id for call_id in CALLS if (view := router.call(call_id)) is not None and view.state == "waiting"}
    assert set(seen) == routed_waiting, "a waiting call is in no queue"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script)
def test_random_event_sequences_never_raise_and_keep_invariants(steps: list[tuple[float, tuple[Any, ...]]]) -> None:
    router = Router(CONFIG_OBJECT)
    stats = LiveStats(CONFIG_OBJECT)
    ledger = Ledger()
    now = 1_741_600_000.0
    for gap, op in steps:
        now += gap
        outcomes = _apply(router, now, op, ledger.ringing)
        ledger.apply(outcomes)
        for outcome in outcomes:
            if (event := outcome_to_event(outcome)) is not None:
                stats.append(event)
        assert router.check_invariants() == []
        _check_waiting_calls(router)
        deadline = router.next_deadline()
        assert deadline is None or deadline > now
    snapshot = stats.snapshot(now)
    for queue in snapshot.queues.values():
        for figures in (queue.interval, queue.day):
            assert figures.answered + figures.abandoned + figures.timed_out + figures.waiting == figures.offered
            for level in figures.service_levels.values():
                assert level is None or 0 <= level <= 100
        assert queue.agents.logged_in <= 4


def _track(ringing: dict[str, str], outcomes: list[Outcome]) -> list[Outcome]:
    for outcome in outcomes:
        if isinstance(outcome, RingAgent):
            ringing[outcome.agent_id] = outcome.call_id
        elif isinstance(outcome, (CancelRing, RingNoAnswer, CallAnswered)):
            ringing.pop(outcome.agent_id, None)
    return outcomes


@settings(max_examples=100, deadline=None)
@given(script, st.lists(st.floats(0.0, 1.0), min_size=60, max_size=60))
def test_extra_advance_calls_never_change_the_outcome_stream(steps: list[tuple[float, tuple[Any, ...]]], fractions: list[float]) -> None:
    plain, probed = Router(CONFIG_OBJECT), Router(CONFIG_OBJECT)
    plain_ringing: dict[str, str] = {}
    probed_ringing: dict[str, str] = {}
    plain_out: list[Outcome] = []
    probed_out: list[Outcome] = []
    now = 0.0
    for (gap, op), fraction in zip(steps, fractions):
        probed_out += _track(probed_ringing, probed.advance(now + gap * fraction))
        now += gap
        plain_out += _track(plain_ringing, _apply(plain, now, op, plain_ringing))
        probed_out += _track(probed_ringing, _apply(probed, now, op, probed_ringing))
    # The script picks "agent answers" from its own view of who is ringing; an extra
    # advance refreshes that view, so one run may send an answer the router (rightly)
    # ignores while the other never sends it.  What must match is everything that happened.
    assert [o for o in plain_out if not isinstance(o, Ignored)] == [o for o in probed_out if not isinstance(o, Ignored)]
