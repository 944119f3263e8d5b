"""Router behaviour, replayed as event sequences against a fake clock (plain floats)."""

from __future__ import annotations

from typing import Callable, TypeVar

import pytest

from acd.base.events import EVENT_TYPES
from acd.routing import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOverflowed,
    CallQueued,
    CallRequeued,
    CallTimedOut,
    CancelRing,
    Ignored,
    Notification,
    Outcome,
    RingAgent,
    RingNoAnswer,
    Router,
    load_routing_text,
)
from acd.routing import decisions as decisions_module

CONFIG = """\
skills: [billing, english, general]
queues:
  - name: billing
    skills: [billing]
    wrap_up_s: 10
    ring_timeout_s: 15
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 20, min_proficiency: 3}
      - {after_s: 60, overflow: general}
  - name: vip
    skills: [billing]
    priority: 5
  - name: billing-en
    skills: [billing, english]
  - name: general
    skills: [general]
    max_wait_s: 300
  - name: tech
    skills: [english]
    max_wait_s: 30
agents:
  - {id: expert, name: Eva, endpoint: PJSIP/expert, skills: {billing: 9, general: 5}}
  - {id: senior, name: Sam, endpoint: PJSIP/senior, skills: {billing: 8, english: 3}}
  - {id: junior, name: Jo, endpoint: PJSIP/junior, skills: {billing: 4, english: 9}}
  - {id: novice, name: Ned, endpoint: PJSIP/novice, skills: {billing: 1, general: 9}}
"""

T = TypeVar("T", bound=Outcome)


def make_router(text: str = CONFIG) -> Router:
    config, problems = load_routing_text(text)
    assert problems == [], problems
    assert config is not None
    return Router(config)


def of(outcomes: list[Outcome], kind: type[T]) -> list[T]:
    return [outcome for outcome in outcomes if isinstance(outcome, kind)]


def rings(outcomes: list[Outcome]) -> list[tuple[str, str]]:
    return [(ring.call_id, ring.agent_id) for ring in of(outcomes, RingAgent)]


def state(router: Router, agent_id: str) -> str:
    view = router.agent(agent_id)
    assert view is not None
    return view.state


def test_call_arrival_rings_an_eligible_agent_and_reports_the_queueing() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    outcomes = router.call_arrived(5, "c1", "billing", attached={"account": "42"})
    assert outcomes == [
        CallQueued("c1", "billing", 0, ("billing",), 5, 5, {"account": "42"}),
        RingAgent("c1", "expert", "PJSIP/expert", "billing", 0, 15, 5),
        AgentStateChanged("expert", "reserved", "available", "ring", 5, "c1", "billing"),
    ]
    assert router.check_invariants() == []


def test_higher_proficiency_agent_wins_then_longest_idle() -> None:
    router = make_router(
        """\
skills: [s]
queues:
  - {name: q, skills: [s]}
agents:
  - {id: low, name: L, endpoint: PJSIP/low, skills: {s: 6}}
  - {id: high-late, name: H1, endpoint: PJSIP/h1, skills: {s: 8}}
  - {id: high-early, name: H2, endpoint: PJSIP/h2, skills: {s: 8}}
"""
    )
    router.agent_login(0, "low")  # idle the longest, but least proficient
    router.agent_login(1, "high-early")
    router.agent_login(2, "high-late")
    assert rings(router.call_arrived(10, "c1", "q")) == [("c1", "high-early")]
    assert rings(router.call_arrived(10, "c2", "q")) == [("c2", "high-late")]
    assert rings(router.call_arrived(10, "c3", "q")) == [("c3", "low")]


def test_longest_idle_breaks_ties_between_equal_proficiency() -> None:
    router = make_router(
        """\
skills: [s]
queues:
  - {name: q, skills: [s]}
agents:
  - {id: a, name: A, endpoint: PJSIP/a, skills: {s: 5}}
  - {id: b, name: B, endpoint: PJSIP/b, skills: {s: 5}}
"""
    )
    router.agent_login(0, "b")
    router.agent_login(4, "a")
    assert rings(router.call_arrived(10, "c1", "q")) == [("c1", "b")]


def test_priority_beats_wait_time() -> None:
    router = make_router()
    router.call_arrived(0, "old", "billing")  # priority 0, waiting longest
    router.call_arrived(5, "urgent", "vip")  # queue priority 5
    router.call_arrived(6, "bumped", "billing", priority=9)
    assert rings(router.agent_login(10, "expert")) == [("bumped", "expert")]
    assert rings(router.agent_login(11, "senior")) == [("urgent", "senior")]


def test_equal_priority_goes_to_longest_waiting_across_queues() -> None:
    router = make_router()
    router.call_arrived(0, "first", "billing-en")
    router.call_arrived(3, "second", "billing", priority=0)
    assert rings(router.agent_login(10, "senior")) == [("first", "senior")]


def test_set_priority_reorders_waiting_calls() -> None:
    router = make_router()
    router.call_arrived(0, "a", "billing")
    router.call_arrived(1, "b", "billing")
    assert [view.id for view in router.waiting("billing")] == ["a", "b"]
    assert router.set_priority(2, "b", 3) == []
    assert [view.id for view in router.waiting("billing")] == ["b", "a"]
    assert rings(router.agent_login(3, "expert")) == [("b", "expert")]


def test_expansion_accepts_lower_proficiency_after_20s() -> None:
    router = make_router()
    router.agent_login(0, "junior")  # billing 4: below the first step's 7
    assert rings(router.call_arrived(0, "c1", "billing")) == []
    assert router.next_deadline() == 20
    assert router.advance(19.999) == []
    outcomes = router.advance(20.5)
    assert rings(outcomes) == [("c1", "junior")]
    assert of(outcomes, RingAgent)[0].at == 20  # the decision belongs to the deadline, not to timer jitter
    assert of(outcomes, RingAgent)[0].waited_s == 20


def test_expansion_never_reaches_below_its_last_step() -> None:
    router = make_router()
    router.agent_login(0, "novice")  # billing 1, billing's widest step is 3
    router.call_arrived(0, "c1", "billing")
    assert rings(router.advance(59)) == []
    assert router.call("c1").min_proficiency == 3  # type: ignore[union-attr]


def test_overflow_after_60s_moves_call_keeping_wait() -> None:
    router = make_router()
    router.call_arrived(0, "c1", "billing")
    outcomes = router.advance(60)
    assert of(outcomes, CallOverflowed) == [CallOverflowed("c1", "billing", "general", 60, "expansion", 60)]
    view = router.call("c1")
    assert view is not None and view.queue == "general" and view.wait_origin == 0 and view.entered_queue_at == 60
    ring = of(router.agent_login(70, "novice"), RingAgent)
    assert [(r.call_id, r.agent_id, r.queue, r.waited_s) for r in ring] == [("c1", "novice", "general", 70)]
    assert of(router.agent_answered(75, "novice", "c1"), CallAnswered) == [CallAnswered("c1", "novice", "general", 75, 75)]


def test_max_wait_without_overflow_times_the_call_out() -> None:
    router = make_router()
    router.call_arrived(0, "c1", "tech")
    assert router.next_deadline() == 30
    assert router.advance(31) == [CallTimedOut("c1", "tech", 30, 30)]
    assert router.call("c1") is None
    assert router.next_deadline() is None


def test_the_deadline_heap_never_promises_a_deadline_later_than_the_real_one() -> None:
    """A driver may skip next_deadline() while the heap's first time is later than its next event.

    Its first entry can be a cancelled timer (earlier than the real deadline, never
    later), and the list stays the same one when the timers compact themselves.
    """
    router = make_router()
    heap = router.deadline_heap
    assert heap == [] and router.next_deadline() is None
    router.call_arrived(0, "c1", "tech")  # max wait 30 s
    assert heap[0][0] == router.next_deadline() == 30
    router.agent_login(1, "expert")
    for step in range(150):  # each pause cancels a 15 s ring time-out: far more than the timers keep
        now = 1 + step / 100
        router.agent_pause(now, "expert")
        router.call_arrived(now, f"b{step}", "billing")
        router.agent_unpause(now, "expert")  # rings the oldest billing call again
    assert router.deadline_heap is heap
    assert len(heap) < 2 * 150  # 150 waiting calls' expansion timers, and not every cancelled ring
    deadline = router.next_deadline()
    assert deadline == (1 + 149 / 100) + 15  # the last ring's time-out
    assert heap[0][0] <= deadline
    router.agent_answered(2.5, "expert", "b0")
    deadline = router.next_deadline()
    assert deadline == (1 + 1 / 100) + 20  # b1's expansion step, now that no ring is pending
    assert heap[0][0] <= deadline


def test_rona_pauses_agent_and_requeues_call_at_head() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(1, "c1", "billing")
    router.call_arrived(2, "c2", "billing")
    outcomes = router.ring_no_answer(8, "expert", "c1")
    assert outcomes == [
        RingNoAnswer("c1", "expert", "billing", 7, 8),
        AgentStateChanged("expert", "paused", "reserved", "no-answer", 8, "c1", "billing"),
        CallRequeued("c1", "billing", "ring-no-answer", 1, 8),
    ]
    assert [view.id for view in router.waiting("billing")] == ["c1", "c2"]
    ring = of(router.agent_login(9, "senior"), RingAgent)
    assert [(r.call_id, r.agent_id, r.waited_s) for r in ring] == [("c1", "senior", 8)]
    assert router.check_invariants() == []


def test_ring_timeout_cancels_the_ring_and_requeues() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(1, "c1", "billing")
    assert router.next_deadline() == 16
    outcomes = router.advance(100)
    assert outcomes[:4] == [
        RingNoAnswer("c1", "expert", "billing", 15, 16),
        CancelRing("c1", "expert", "PJSIP/expert", "ring-timeout", 16),
        AgentStateChanged("expert", "paused", "reserved", "no-answer", 16, "c1", "billing"),
        CallRequeued("c1", "billing", "ring-no-answer", 1, 16),
    ]
    assert state(router, "expert") == "paused"
    assert of(outcomes, CallOverflowed)[0].at == 61  # expansion kept counting from the original entry


def test_wrap_up_ends_by_itself() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(0, "c1", "billing")
    router.agent_answered(2, "expert", "c1")
    completed = router.call_completed(30, "c1")
    assert completed == [
        CallCompleted("c1", "expert", "billing", 28, 0.0, 30),
        AgentStateChanged("expert", "wrap_up", "on_call", "call-completed", 30, "c1", "billing"),
    ]
    router.call_arrived(35, "c2", "billing")
    assert router.next_deadline() == 40
    outcomes = router.advance(41)
    assert outcomes[0] == AgentStateChanged("expert", "available", "wrap_up", "wrap-up-ended", 40, "c1", "billing")
    assert rings(outcomes) == [("c2", "expert")]


def test_abandon_while_ringing_frees_agent_keeping_its_idle_place() -> None:
    router = make_router(
        """\
skills: [s]
queues:
  - {name: q, skills: [s]}
agents:
  - {id: a, name: A, endpoint: PJSIP/a, skills: {s: 5}}
  - {id: b, name: B, endpoint: PJSIP/b, skills: {s: 5}}
"""
    )
    router.agent_login(0, "a")
    router.agent_login(1, "b")
    router.call_arrived(5, "c1", "q")  # rings a, the longest idle
    outcomes = router.caller_abandoned(7, "c1")
    assert outcomes == [
        CallAbandoned("c1", "q", 2, 7),
        CancelRing("c1", "a", "PJSIP/a", "caller-abandoned", 7),
        AgentStateChanged("a", "available", "reserved", "caller-abandoned", 7, "c1", "q"),
    ]
    assert rings(router.call_arrived(8, "c2", "q")) == [("c2", "a")]  # a did not lose its turn


def test_pause_during_a_call_applies_after_wrap_up() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(0, "c1", "billing")
    router.agent_answered(1, "expert", "c1")
    assert router.agent_pause(2, "expert", "lunch") == []
    assert router.agent("expert").pending == "paused:lunch"  # type: ignore[union-attr]
    router.call_completed(10, "c1")
    router.call_arrived(12, "c2", "billing")
    outcomes = router.advance(20)
    assert outcomes == [AgentStateChanged("expert", "paused", "wrap_up", "lunch", 20, "c1", "billing")]
    assert rings(router.agent_unpause(30, "expert")) == [("c2", "expert")]


def test_logout_during_a_call_waits_for_the_hang_up() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(0, "c1", "billing")
    router.agent_answered(1, "expert", "c1")
    assert router.agent_logout(2, "expert") == []
    assert state(router, "expert") == "on_call"
    outcomes = router.call_completed(10, "c1")
    assert outcomes[-1] == AgentStateChanged("expert", "logged_out", "on_call", "logout", 10, "c1", "billing")
    assert router.next_deadline() is None


def test_pause_while_ringing_cancels_and_requeues() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.agent_login(0, "senior")
    router.call_arrived(1, "c1", "billing")  # expert (9) rings
    outcomes = router.agent_pause(3, "expert", "meeting")
    assert outcomes[:3] == [
        CancelRing("c1", "expert", "PJSIP/expert", "agent-paused", 3),
        AgentStateChanged("expert", "paused", "reserved", "meeting", 3, "c1", "billing"),
        CallRequeued("c1", "billing", "agent-paused", 1, 3),
    ]
    assert rings(outcomes) == [("c1", "senior")]


def test_move_of_a_ringing_call_cancels_the_ring_and_keeps_the_wait() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(0, "c1", "billing")  # rings expert
    outcomes = router.move_call(10, "c1", "general")
    assert of(outcomes, CancelRing) == [CancelRing("c1", "expert", "PJSIP/expert", "call-moved", 10)]
    assert of(outcomes, CallOverflowed) == [CallOverflowed("c1", "billing", "general", 10, "supervisor", 10)]
    assert [(r.call_id, r.agent_id, r.queue, r.waited_s) for r in of(outcomes, RingAgent)] == [("c1", "expert", "general", 10)]


def test_moved_call_starts_the_new_queues_expansion_from_the_move() -> None:
    router = make_router()
    router.call_arrived(0, "c1", "general")
    router.agent_login(50, "junior")  # billing 4: needs billing's 20 s step
    assert rings(router.move_call(100, "c1", "billing")) == []
    assert router.next_deadline() == 120
    assert [(r.call_id, r.waited_s) for r in of(router.advance(120), RingAgent)] == [("c1", 120)]


def test_agent_serves_every_queue_it_has_all_skills_for() -> None:
    router = make_router()
    router.call_arrived(0, "en", "billing-en")  # needs billing + english
    router.call_arrived(1, "gen", "general")
    assert rings(router.agent_login(2, "expert")) == [("gen", "expert")]  # expert lacks english
    assert rings(router.agent_login(3, "senior")) == [("en", "senior")]


def test_multi_skill_proficiency_is_the_weakest_skill() -> None:
    router = make_router()
    router.agent_login(0, "senior")  # billing 8, english 3 -> 3 for billing-en
    router.agent_login(1, "junior")  # billing 4, english 9 -> 4 for billing-en
    assert rings(router.call_arrived(5, "c1", "billing-en")) == [("c1", "junior")]


def test_wait_origin_resumes_expansion_after_a_restart() -> None:
    router = make_router()
    router.agent_login(0, "junior")
    outcomes = router.call_arrived(100, "c1", "billing", wait_origin=75)
    assert of(outcomes, CallQueued)[0].wait_origin == 75
    assert rings(outcomes) == [("c1", "junior")]  # already 25 s in: step 2 accepts proficiency 4
    assert of(outcomes, RingAgent)[0].waited_s == 25


def test_time_never_runs_backwards() -> None:
    router = make_router()
    router.call_arrived(50, "c1", "billing")
    outcomes = router.caller_abandoned(10, "c1")
    assert outcomes == [CallAbandoned("c1", "billing", 0, 50)]


def test_next_deadline_is_the_earliest_pending_change() -> None:
    router = make_router()
    assert router.next_deadline() is None
    router.call_arrived(0, "c1", "billing")  # step at 20
    router.agent_login(1, "novice")
    router.call_arrived(5, "c2", "general")  # rings novice: timeout at 20 (general default 15 s)
    assert router.next_deadline() == 20
    router.agent_answered(6, "novice", "c2")
    assert router.next_deadline() == 20
    router.caller_abandoned(7, "c1")
    assert router.next_deadline() is None


def _scenario(router: Router, extra_advances: bool) -> list[Outcome]:
    out: list[Outcome] = []
    steps: list[tuple[float, Callable[[float], list[Outcome]]]] = [
        (0, lambda t: router.agent_login(t, "junior")),
        (0, lambda t: router.call_arrived(t, "c1", "billing")),
        (1, lambda t: router.call_arrived(t, "c2", "billing")),
        (30, lambda t: router.agent_login(t, "novice")),
        (40, lambda t: router.agent_answered(t, "junior", "c2")),
        (90, lambda t: router.agent_login(t, "expert")),
        (200, lambda t: router.advance(t)),
    ]
    for at, step in steps:
        if extra_advances:
            out += router.advance(at - 0.5)
        out += step(at)
    return out


def test_extra_advance_calls_change_nothing() -> None:
    assert _scenario(make_router(), False) == _scenario(make_router(), True)


CONTRADICTIONS: dict[str, Callable[[Router], list[Outcome]]] = {
    "answer for a call ringing another agent": lambda r: r.agent_answered(9, "senior", "c1"),
    "answer for a waiting call": lambda r: r.agent_answered(9, "expert", "c2"),
    "answer from unknown agent": lambda r: r.agent_answered(9, "ghost", "c1"),
    "answer for unknown call": lambda r: r.agent_answered(9, "expert", "nope"),
    "ring-no-answer for another call": lambda r: r.ring_no_answer(9, "expert", "c2"),
    "completion of a call not yet answered": lambda r: r.call_completed(9, "c1"),
    "completion of unknown call": lambda r: r.call_completed(9, "nope"),
    "abandon of unknown call": lambda r: r.caller_abandoned(9, "nope"),
    "duplicate call id": lambda r: r.call_arrived(9, "c1", "billing"),
    "call for unknown queue": lambda r: r.call_arrived(9, "c9", "nowhere"),
    "second login": lambda r: r.agent_login(9, "expert"),
    "unpause of a ringing agent": lambda r: r.agent_unpause(9, "expert"),
    "logout of a logged-out agent": lambda r: r.agent_logout(9, "junior"),
    "pause of unknown agent": lambda r: r.agent_pause(9, "ghost", "x"),
    "move to unknown queue": lambda r: r.move_call(9, "c2", "nowhere"),
    "move to the queue it is in": lambda r: r.move_call(9, "c2", "billing"),
    "priority of unknown call": lambda r: r.set_priority(9, "nope", 3),
}


@pytest.mark.parametrize("name", sorted(CONTRADICTIONS))
def test_contradicting_event_is_ignored_not_raised(name: str) -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(1, "c1", "billing")  # rings expert
    router.call_arrived(2, "c2", "billing")  # waits
    before = (router.agents(), router.call("c1"), router.call("c2"), router.next_deadline())
    outcomes = CONTRADICTIONS[name](router)
    assert len(outcomes) == 1 and isinstance(outcomes[0], Ignored), outcomes
    assert outcomes[0].reason
    assert (router.agents(), router.call("c1"), router.call("c2"), router.next_deadline()) == before
    assert router.check_invariants() == []


def test_abandon_of_a_connected_call_is_ignored_and_completion_still_works() -> None:
    router = make_router()
    router.agent_login(0, "expert")
    router.call_arrived(1, "c1", "billing")
    router.agent_answered(2, "expert", "c1")
    assert [type(o) for o in router.caller_abandoned(3, "c1")] == [Ignored]
    assert of(router.call_completed(4, "c1"), CallCompleted)[0].talk_s == 2


def test_every_notification_maps_to_a_known_event_type() -> None:
    classes = [
        value
        for value in vars(decisions_module).values()
        if isinstance(value, type) and issubclass(value, Outcome) and value.__module__ == decisions_module.__name__
    ]
    with_events = {cls.__name__: cls.EVENT_TYPE for cls in classes if cls.EVENT_TYPE is not None}
    assert set(with_events.values()) <= set(EVENT_TYPES)
    notifications = {cls.__name__ for cls in classes if issubclass(cls, Notification) and cls is not Notification}
    assert notifications - set(with_events) == {"Ignored"}  # only the engine's log line has no event


def test_non_finite_time_is_treated_as_the_latest_known_time() -> None:
    router = make_router()
    router.call_arrived(40, "c1", "billing")
    outcomes = router.caller_abandoned(float("nan"), "c1")
    assert outcomes == [CallAbandoned("c1", "billing", 0, 40)]


def test_outcomes_stay_value_objects_the_event_log_can_read() -> None:
    """Outcomes are no longer frozen (for speed) but still compare and hash by value and
    are dataclasses, which is what ``outcome_to_event`` and sets of outcomes rely on."""
    import dataclasses

    from acd.dispatch import outcome_to_event
    from acd.routing.decisions import AgentStateChanged, RingAgent

    ring = RingAgent("c1", "a1", "PJSIP/a1", "q", 2.5, 15.0, 100.0)
    same = RingAgent("c1", "a1", "PJSIP/a1", "q", 2.5, 15.0, 100.0)
    assert ring == same and hash(ring) == hash(same) and len({ring, same}) == 1
    assert ring != RingAgent("c2", "a1", "PJSIP/a1", "q", 2.5, 15.0, 100.0)
    assert [field.name for field in dataclasses.fields(ring)] == ["call_id", "agent_id", "endpoint", "queue", "waited_s", "timeout_s", "at"]
    state = AgentStateChanged("a1", "reserved", "available", "ring", 100.0, "c1", "q")
    event = outcome_to_event(state)
    assert event is not None and event.type == "agent.state" and event.data["state"] == "reserved" and type(event.data["state"]) is str


def test_positional_constructors_make_the_very_objects_the_classes_make() -> None:
    """The router builds its common outcomes with ``positional_constructor`` (cheaper than
    calling the class); the result must be indistinguishable, every field set."""
    import dataclasses

    from acd.routing.decisions import positional_constructor

    classes = [
        value
        for value in vars(decisions_module).values()
        if dataclasses.is_dataclass(value) and isinstance(value, type) and issubclass(value, Outcome)
    ]
    assert len(classes) >= 10
    for cls in classes:
        names = [field.name for field in dataclasses.fields(cls)]
        values = [f"{cls.__name__}-{name}" for name in names]
        made = positional_constructor(cls)(*values)
        assert type(made) is cls and made == cls(*values) and hash(made) == hash(cls(*values))
        assert repr(made) == repr(cls(*values)) and [getattr(made, name) for name in names] == values
        with pytest.raises(TypeError):
            positional_constructor(cls)(*values[:-1])  # no defaults: a missing field is an error, not a gap
