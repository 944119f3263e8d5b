"""The router follows what Asterisk shows after a gap or a restart (rules: acd.routing.restore)."""

from __future__ import annotations

from acd.routing import Router, load_routing_text
from acd.routing.decisions import AgentStateChanged, CallAnswered, CallCompleted, CallRequeued, CancelRing, Ignored, RingAgent

T0 = 1_741_600_000.0
ROUTING = """
skills: [general]
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}
  - {id: beto, name: Beto, endpoint: PJSIP/beto, skills: {general: 5}}
queues:
  - name: general
    skills: [general]
    ring_timeout_s: 10
    wrap_up_s: 5
"""


def router_with(*logged_in: str) -> Router:
    config, problems = load_routing_text(ROUTING)
    assert config is not None and problems == []
    router = Router(config)
    for agent_id in logged_in:
        router.agent_login(T0, agent_id)
    return router


def test_an_answer_missed_while_blind_connects_the_call_with_its_real_time() -> None:
    router = router_with("ana")
    [ring] = [o for o in router.call_arrived(T0 + 1, "c1", "general", wait_origin=T0) if isinstance(o, RingAgent)]
    assert ring.agent_id == "ana"
    out = router.restore_call(T0 + 3, "c1", "general", "ana", answered_at=T0 + 2.5)
    [answered] = [o for o in out if isinstance(o, CallAnswered)]
    assert (answered.at, answered.waited_s) == (T0 + 2.5, 2.5)
    assert router.call("c1").state == "connected" and router.agent("ana").state == "on_call"
    # The ring time-out that was due is gone: nothing happens at T0 + 20 but the call goes on.
    assert not [o for o in router.advance(T0 + 20) if isinstance(o, (CancelRing, CallRequeued))]
    assert router.check_invariants() == []
    assert router.restore_call(T0 + 21, "c1", "general", "ana", answered_at=T0 + 2.5) == []  # already believed


def test_a_wrong_ring_no_answer_pause_is_undone_and_the_call_taken_back_from_the_queue() -> None:
    router = router_with("ana", "beto")
    router.agent_pause(T0, "beto")
    router.call_arrived(T0 + 1, "c1", "general", wait_origin=T0 + 1)
    router.advance(T0 + 11)  # ana's ring times out: she is paused, the call waits again
    assert router.agent("ana").state == "paused" and router.call("c1").state == "waiting"
    out = router.restore_call(T0 + 12, "c1", "general", "ana", answered_at=T0 + 10.5)
    assert router.call("c1").state == "connected" and router.agent("ana").state == "on_call"
    assert router.agent("ana").pending is None  # the no-answer pause was a mistake
    assert router.waiting_count() == 0 and not [o for o in out if isinstance(o, RingAgent)]
    router.call_completed(T0 + 30, "c1")
    assert router.agent("ana").state == "wrap_up"
    assert router.check_invariants() == []


def test_a_supervisor_pause_is_kept_until_the_call_ends() -> None:
    router = router_with("ana")
    router.agent_pause(T0, "ana", "lunch")
    router.restore_call(T0 + 1, "c9", "general", "ana", answered_at=T0 + 0.5, wait_origin=T0 - 10)
    assert router.agent("ana").state == "on_call" and router.agent("ana").pending == "paused:lunch"
    router.call_completed(T0 + 5, "c9")
    router.advance(T0 + 11)
    assert router.agent("ana").state == "paused" and router.agent("ana").reason == "lunch"


def test_a_restarted_router_learns_calls_ringing_and_talking_without_ringing_anyone() -> None:
    router = router_with("ana", "beto")
    talking = router.restore_call(T0, "c1", "general", "ana", answered_at=T0 - 30, wait_origin=T0 - 40)
    ringing = router.restore_call(T0, "c2", "general", "beto", answered_at=None, wait_origin=T0 - 5)
    assert not [o for o in talking + ringing if isinstance(o, (RingAgent, Ignored))]
    assert [o.waited_s for o in talking if isinstance(o, CallAnswered)] == [10.0]
    assert router.agent("beto").state == "reserved" and router.call("c2").state == "ringing"
    # A new caller finds nobody free: both agents are busy in Asterisk's picture.
    assert not [o for o in router.call_arrived(T0 + 1, "c3", "general") if isinstance(o, RingAgent)]
    # beto answers c2 normally, and its ring time-out still applies if he does not.
    assert [o for o in router.agent_answered(T0 + 2, "beto", "c2") if isinstance(o, CallAnswered)]
    assert router.check_invariants() == []


def test_an_agent_found_talking_gives_up_the_call_ringing_it_and_ends_the_one_it_had() -> None:
    router = router_with("ana")
    router.call_arrived(T0, "c1", "general")  # rings ana
    out = router.restore_call(T0 + 1, "c2", "general", "ana", answered_at=T0 + 0.5)
    assert [(o.call_id, o.reason) for o in out if isinstance(o, CancelRing)] == [("c1", "agent-busy")]
    assert router.call("c1").state == "waiting"
    router2 = router_with("ana")
    router2.restore_call(T0, "c1", "general", "ana", answered_at=T0)
    out = router2.restore_call(T0 + 1, "c2", "general", "ana", answered_at=T0 + 0.5)
    assert [o.call_id for o in out if isinstance(o, CallCompleted)] == ["c1"] and router2.call("c1") is None
    assert [o.state for o in out if isinstance(o, AgentStateChanged)] == ["on_call"]
    assert router.check_invariants() == [] and router2.check_invariants() == []


def test_a_call_moved_to_the_agent_that_answered_frees_the_one_the_router_rang() -> None:
    router = router_with("ana", "beto")
    router.call_arrived(T0, "c1", "general")  # rings ana (longest idle, first logged in)
    rung = router.call("c1").agent_id
    other = "beto" if rung == "ana" else "ana"
    router.agent_pause(T0, other)
    router.agent_unpause(T0, other)
    out = router.restore_call(T0 + 1, "c1", "general", other, answered_at=T0 + 0.5)
    assert [(o.agent_id, o.reason) for o in out if isinstance(o, CancelRing)] == [(rung, "answered-elsewhere")]
    assert router.agent(rung).state == "available" and router.agent(other).state == "on_call"
    assert router.check_invariants() == []


def test_unknown_agents_and_queues_are_refused_with_a_reason() -> None:
    router = router_with("ana")
    [ignored] = router.restore_call(T0, "c1", "general", "nobody", answered_at=None)
    assert isinstance(ignored, Ignored) and "nobody" in ignored.reason
    [ignored] = router.restore_call(T0, "c1", "sales", "ana", answered_at=None)
    assert isinstance(ignored, Ignored) and "sales" in ignored.reason
