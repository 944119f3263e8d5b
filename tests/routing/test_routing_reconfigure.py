"""A new routing file applied to a running router: no call lost, nothing rung twice,
every live state carried across (rules: acd.routing.reconfigure)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.routing import (
    AgentStateChanged,
    CallRequeued,
    CancelRing,
    Outcome,
    RingAgent,
    Router,
    RoutingConfig,
    load_routing_text,
)
from acd.routing.decisions import CallTimedOut, Ignored
from acd.routing.reconfigure import routing_changes
from tests.routing.test_routing_properties import CONFIG, CONFIG_OBJECT, Ledger, _apply, _track, script

T0 = 1_741_600_000.0


def config_of(text: str) -> RoutingConfig:
    config, problems = load_routing_text(text)
    assert problems == [] and config is not None, problems
    return config


# Variants of the property tests' file: an agent removed, a queue removed, proficiencies
# changed, an agent added, tighter rules.
VARIANTS = [
    CONFIG_OBJECT,
    config_of(CONFIG.replace("  - {id: g1, name: G1, endpoint: PJSIP/g1, skills: {a: 4, b: 8, c: 5}}\n", "")),
    config_of(CONFIG.replace("skills: {a: 9, b: 2}", "skills: {a: 2, b: 9}").replace("skills: {a: 1, c: 9}", "skills: {a: 8, c: 9}")),
    config_of(CONFIG + "  - {id: g4, name: G4, endpoint: PJSIP/g4, skills: {a: 10, b: 10, c: 10}}\n"),
    config_of(CONFIG.replace("    max_wait_s: 20\n    ring_timeout_s: 2\n", "    max_wait_s: 3\n    ring_timeout_s: 1\n")),
    config_of(
        CONFIG.replace("      - {after_s: 12, overflow: qc}\n", "")
        .replace("  - name: qc\n    skills: [c]\n    wrap_up_s: 1\n", "")
        .replace("skills: [a, b, c]", "skills: [a, b, c]")
    ),
]


def _reconfigure_step(router: Router, now: float, variant: int, ledger: Ledger) -> list[Outcome]:
    outcomes = router.reconfigure(now, VARIANTS[variant])
    ledger.apply(outcomes)
    return outcomes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script, st.lists(st.tuples(st.integers(0, 59), st.integers(0, len(VARIANTS) - 1)), max_size=4))
def test_reconfiguring_at_random_moments_never_raises_double_books_or_breaks_invariants(
    steps: list[tuple[float, tuple[Any, ...]]], reloads: list[tuple[int, int]]
) -> None:
    router = Router(CONFIG_OBJECT)
    ledger = Ledger()
    now = T0
    at_step = dict(reloads)
    for index, (gap, op) in enumerate(steps):
        now += gap
        ledger.apply(_apply(router, now, op, ledger.ringing))
        if index in at_step:
            _reconfigure_step(router, now, at_step[index], ledger)
        assert router.check_invariants() == []
        deadline = router.next_deadline()
        assert deadline is None or deadline > now
    # Every call still routed is accounted for by exactly one place: waiting, ringing or talking.
    for view in [router.call(c) for c in {*ledger.call_agent, *(f"c{i}" for i in range(7))}]:
        if view is not None and view.state != "waiting":
            assert ledger.call_agent.get(view.id) == view.agent_id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script, st.integers(0, 59))
def test_applying_the_same_file_changes_nothing_now_or_later(steps: list[tuple[float, tuple[Any, ...]]], reload_at: int) -> None:
    plain, reloaded = Router(CONFIG_OBJECT), Router(CONFIG_OBJECT)
    plain_ringing: dict[str, str] = {}
    reloaded_ringing: dict[str, str] = {}
    plain_out: list[Outcome] = []
    reloaded_out: list[Outcome] = []
    now = T0
    for index, (gap, op) in enumerate(steps):
        now += gap
        plain_out += _track(plain_ringing, _apply(plain, now, op, plain_ringing))
        reloaded_out += _track(reloaded_ringing, _apply(reloaded, now, op, reloaded_ringing))
        if index == reload_at:
            assert reloaded.reconfigure(now, CONFIG_OBJECT) == []
    assert [o for o in plain_out if not isinstance(o, Ignored)] == [o for o in reloaded_out if not isinstance(o, Ignored)]


TWO_AGENTS = """\
skills: [ventas]
queues:
  - name: ventas
    skills: [ventas]
    ring_timeout_s: 10
    wrap_up_s: 5
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/ana, skills: {ventas: 5}}
"""


def test_an_agent_added_while_calls_wait_takes_them_once_logged_in() -> None:
    router = Router(config_of(TWO_AGENTS))
    router.agent_login(T0, "ana")
    router.call_arrived(T0, "c1", "ventas")
    router.agent_answered(T0 + 1, "ana", "c1")
    router.call_arrived(T0 + 2, "c2", "ventas")
    added = config_of(TWO_AGENTS + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {ventas: 7}}\n")
    assert router.reconfigure(T0 + 3, added) == []  # bea starts logged out, like any agent at start
    assert router.agent("ana").state == "on_call" and router.agent("bea").state == "logged_out"  # type: ignore[union-attr]
    rings = [o for o in router.agent_login(T0 + 4, "bea") if isinstance(o, RingAgent)]
    assert [(r.call_id, r.agent_id, r.waited_s) for r in rings] == [("c2", "bea", 2.0)]  # c2 keeps its wait


def test_a_new_proficiency_rings_an_available_agent_at_once() -> None:
    text = TWO_AGENTS + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {otra: 5}}\n"
    text = text.replace("skills: [ventas]\nqueues", "skills: [ventas, otra]\nqueues")
    router = Router(config_of(text))
    router.agent_login(T0, "bea")
    router.call_arrived(T0, "c1", "ventas")
    outcomes = router.reconfigure(T0 + 1, config_of(text.replace("skills: {otra: 5}", "skills: {otra: 5, ventas: 3}")))
    assert [(o.call_id, o.agent_id) for o in outcomes if isinstance(o, RingAgent)] == [("c1", "bea")]
    assert router.check_invariants() == []


def test_a_removed_agent_finishes_the_call_and_is_gone() -> None:
    both = config_of(TWO_AGENTS + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {ventas: 7}}\n")
    router = Router(both)
    router.agent_login(T0, "bea")
    router.call_arrived(T0, "c1", "ventas")
    router.agent_answered(T0 + 1, "bea", "c1")
    assert router.reconfigure(T0 + 2, config_of(TWO_AGENTS)) == []  # the call is never cut
    assert router.agent("bea").state == "on_call"  # type: ignore[union-attr]
    assert [o.agent_id for o in router.agent_login(T0 + 3, "bea") if isinstance(o, Ignored)] == ["bea"]
    done = router.call_completed(T0 + 30, "c1")
    states = [(o.agent_id, o.state, o.reason) for o in done if isinstance(o, AgentStateChanged)]
    assert states == [("bea", "logged_out", "removed")]
    assert router.agent("bea") is None and router.check_invariants() == []


def test_a_call_ringing_a_removed_agent_goes_back_to_its_place_and_rings_another() -> None:
    both = config_of(TWO_AGENTS + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {ventas: 7}}\n")
    router = Router(both)
    router.agent_login(T0, "bea")
    router.call_arrived(T0, "c1", "ventas")  # rings bea
    router.agent_login(T0 + 1, "ana")
    outcomes = router.reconfigure(T0 + 2, config_of(TWO_AGENTS))
    kinds = [(type(o).__name__, getattr(o, "agent_id", None)) for o in outcomes]
    assert kinds == [
        ("CancelRing", "bea"), ("CallRequeued", None), ("AgentStateChanged", "bea"), ("RingAgent", "ana"), ("AgentStateChanged", "ana"),
    ]
    requeued = next(o for o in outcomes if isinstance(o, CallRequeued))
    assert requeued.wait_origin == T0 and next(o for o in outcomes if isinstance(o, CancelRing)).reason == "agent-removed"


def test_a_ring_and_a_wrap_up_keep_their_deadlines() -> None:
    text = TWO_AGENTS + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {ventas: 7}}\n"
    router = Router(config_of(text))
    router.agent_login(T0, "ana")
    router.agent_login(T0, "bea")
    router.call_arrived(T0, "c1", "ventas")  # bea (better) rings until T0+10
    router.call_arrived(T0, "c2", "ventas")  # ana rings
    router.agent_answered(T0 + 1, "ana", "c2")
    router.call_completed(T0 + 2, "c2")  # ana wraps up until T0+7
    router.reconfigure(T0 + 3, config_of(text.replace("wrap_up_s: 5", "wrap_up_s: 50").replace("ring_timeout_s: 10", "ring_timeout_s: 99")))
    assert router.next_deadline() == T0 + 7
    ended = router.advance(T0 + 7)
    assert [(o.agent_id, o.state) for o in ended if isinstance(o, AgentStateChanged)] == [("ana", "available")]
    assert router.next_deadline() == T0 + 10
    assert [type(o).__name__ for o in router.advance(T0 + 10)][:2] == ["RingNoAnswer", "CancelRing"]


def test_a_removed_queue_keeps_its_callers_until_answered_and_takes_no_new_ones() -> None:
    text = TWO_AGENTS.replace("agents:", "  - name: soporte\n    skills: [ventas]\n    max_wait_s: 600\nagents:")
    router = Router(config_of(text))
    router.call_arrived(T0, "c1", "soporte")
    router.call_arrived(T0 + 1, "c2", "ventas")
    only_ventas = config_of(TWO_AGENTS)
    assert router.reconfigure(T0 + 2, only_ventas) == []
    assert [o.reason for o in router.call_arrived(T0 + 3, "c3", "soporte") if isinstance(o, Ignored)]
    rings = [o for o in router.agent_login(T0 + 4, "ana") if isinstance(o, RingAgent)]
    assert [(r.call_id, r.queue) for r in rings] == [("c1", "soporte")]  # the longest wait first, in its queue
    router.agent_answered(T0 + 5, "ana", "c1")
    router.call_completed(T0 + 9, "c1")
    assert "soporte" in router.queue_names()
    assert router.reconfigure(T0 + 10, only_ventas) == [] and router.queue_names() == ["ventas"]


def test_a_shorter_maximum_wait_applies_at_once() -> None:
    text = TWO_AGENTS.replace("    wrap_up_s: 5\n", "    wrap_up_s: 5\n    max_wait_s: 600\n")
    router = Router(config_of(text))
    router.call_arrived(T0, "c1", "ventas")
    outcomes = router.reconfigure(T0 + 120, config_of(text.replace("max_wait_s: 600", "max_wait_s: 60")))
    assert [(o.call_id, o.waited_s) for o in outcomes if isinstance(o, CallTimedOut)] == [("c1", 120.0)]


def test_routing_changes_names_what_the_new_file_changes() -> None:
    old = config_of(TWO_AGENTS.replace("agents:", "  - name: soporte\n    skills: [ventas]\nagents:"))
    new = config_of(
        TWO_AGENTS.replace("skills: {ventas: 5}", "skills: {ventas: 6}").replace("wrap_up_s: 5", "wrap_up_s: 9")
        + "  - {id: bea, name: Bea, endpoint: PJSIP/bea, skills: {ventas: 7}}\n"
    )
    changes = routing_changes(old, new)
    assert {k: v for k, v in changes.items() if v} == {
        "agents_added": ["bea"], "agents_changed": ["ana"], "queues_removed": ["soporte"], "queues_changed": ["ventas"],
    }
