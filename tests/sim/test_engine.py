"""The simulation loop drives the real Router the way the dispatcher does, at exact times."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Callable

import pytest

from acd.base.events import Event
from acd.metrics.render import report_dict
from acd.metrics.timeutil import zone
from acd.routing import Router, RoutingConfig
from acd.routing.decisions import CallAnswered, CancelRing, Outcome, RingAgent
from acd.planning.sim import EventLog, HandleTimes, OutcomeCounter, ReportOptions, Scenario, constant_load, run_simulation, simulate, simulate_report
from acd.planning.sim.traffic import CallPlan

HOUR = 3600.0


def multi_skill_scenario(config: RoutingConfig, seed: int = 3, hours: float = 6.0) -> Scenario:
    end = hours * HOUR
    loads = (
        constant_load("billing", 70, 150, 0.0, end),
        constant_load("tech", 45, 200, 0.0, end),
        constant_load("general", 20, 120, 0.0, end),
    )
    return Scenario(config, loads, 0.0, end, patience_s=120, answer_delay_s=2.0, seed=seed)


def events_by_call(events: list[Event]) -> dict[str, list[Event]]:
    calls: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.call_id is not None:
            calls[event.call_id].append(event)
    return calls


def test_multi_skill_run_routes_every_call_by_the_configured_rules(multi_skill: RoutingConfig) -> None:
    scenario = multi_skill_scenario(multi_skill)
    log = EventLog()
    stats = simulate(scenario, log)
    assert stats.ignored == 0, stats.ignored_reasons
    assert stats.answered + stats.abandoned + stats.timed_out == stats.calls
    expected = sum(load.expected_calls for load in scenario.loads)
    assert abs(stats.calls - expected) < 5 * math.sqrt(expected)

    types = Counter(event.type for event in log.events)
    assert types["call.queued"] == stats.calls
    assert types["call.answered"] == stats.answered and types["call.abandoned"] == stats.abandoned
    assert types["call.completed"] == stats.answered  # every answered call was finished by the simulator

    calls = events_by_call(log.events)
    low_billing = {"junior1"}  # proficiency 2: only from the 15 s expansion step on
    overflowed = late_juniors = 0
    for call_events in calls.values():
        queued = call_events[0]
        assert queued.type == "call.queued"
        for event in call_events:
            if event.type == "call.overflowed":
                overflowed += 1
                assert event.queue == "tech" and event.data["to_queue"] == "general"
                assert event.data["waited_s"] == pytest.approx(30.0, abs=1e-6)  # the router's own timer, fired on time
            if event.type == "call.agent_ringing" and event.queue == "billing" and event.agent_id in low_billing:
                assert event.data["waited_s"] >= 15.0 - 1e-9
                late_juniors += 1
    assert late_juniors > 0, "billing is busy enough for calls to widen to the junior"
    assert overflowed > 0, "tech is understaffed on purpose: some calls must overflow to general"

    report = simulate_report(scenario, ReportOptions(by="queue")).report
    assert sum(figures.offered for figures in report.group_totals.values()) == report.total.offered == stats.calls
    assert report.total.waiting == 0  # the run drains: nothing is left undecided
    assert report.total.agent_logged_in_s == pytest.approx(len(multi_skill.agents) * 6 * HOUR)
    assert report.group_totals["general"].offered > 0


def test_an_answer_comes_exactly_answer_delay_after_the_ring(multi_skill: RoutingConfig) -> None:
    log = EventLog()
    simulate(multi_skill_scenario(multi_skill, hours=2), log)
    checked = 0
    for call_events in events_by_call(log.events).values():
        rings = [e for e in call_events if e.type == "call.agent_ringing"]
        answers = [e for e in call_events if e.type == "call.answered"]
        if answers:
            assert answers[0].ts - rings[-1].ts == pytest.approx(2.0)
            assert answers[0].agent_id == rings[-1].agent_id
            assert answers[0].data["waited_s"] >= 2.0 - 1e-9
            checked += 1
    assert checked > 100


def test_a_caller_hanging_up_while_the_agent_rings_cancels_the_answer(multi_skill: RoutingConfig) -> None:
    """Short patience and a slow answer: rings are cancelled, and the simulator never answers them."""
    end = 2 * HOUR
    scenario = Scenario(
        multi_skill, (constant_load("billing", 200, 60, 0.0, end),), 0.0, end, patience_s=6, answer_delay_s=5.0, seed=9
    )
    outcomes: list[Outcome] = []
    stats = simulate(scenario, outcomes.extend)
    cancelled = [o for o in outcomes if isinstance(o, CancelRing) and o.reason == "caller-abandoned"]
    assert cancelled, "with 6 s patience and a 5 s answer delay some callers leave while ringing"
    answered = {o.call_id for o in outcomes if isinstance(o, CallAnswered)}
    assert not answered & {o.call_id for o in cancelled}
    assert stats.ignored == 0, stats.ignored_reasons


def test_router_timers_fire_at_their_deadline_even_with_no_other_event(fcfs: Callable[..., RoutingConfig]) -> None:
    """Wrap-up ends by the router's own deadline: the agent is free exactly wrap_up_s later."""
    config = fcfs(1, wrap_up_s=7.0)
    plan = CallPlan(times=[10.0, 11.0], queues=["q", "q"], handle_s=[30.0, 30.0], patience_s=None)
    outcomes: list[Outcome] = []
    run_simulation(config, plan, logins=["a0"], login_at=0.0, answer_delay_s=0.0, sink=outcomes.extend)
    rings = [o for o in outcomes if isinstance(o, RingAgent)]
    assert [(r.call_id, r.at) for r in rings] == [("c0", 10.0), ("c1", 47.0)]  # 10 + 30 talk + 7 wrap-up


def test_logins_limit_who_takes_calls(multi_skill: RoutingConfig) -> None:
    end = HOUR
    scenario = Scenario(multi_skill, (constant_load("billing", 30, 60, 0.0, end),), 0.0, end, logins=("expert2",), seed=4)
    outcomes: list[Outcome] = []
    simulate(scenario, outcomes.extend)
    assert {o.agent_id for o in outcomes if isinstance(o, CallAnswered)} == {"expert2"}


def test_same_seed_same_report_and_another_seed_another(multi_skill: RoutingConfig) -> None:
    tz = zone(multi_skill.timezone)

    def report_of(seed: int) -> dict:
        scenario = multi_skill_scenario(multi_skill, seed=seed, hours=2)
        return report_dict(simulate_report(scenario, ReportOptions(interval="30", by="queue")).report, tz)

    first, again, other = report_of(5), report_of(5), report_of(6)
    assert first == again
    assert first != other


def test_the_router_is_the_engines_router(multi_skill: RoutingConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """No copy of the routing logic: patching the engine's Router is seen by the simulator."""
    seen: list[str] = []
    original = Router.call_arrived

    def spy(self: Router, now: float, call_id: str, queue: str, *args: object, **kwargs: object) -> list[Outcome]:
        seen.append(call_id)
        return original(self, now, call_id, queue, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Router, "call_arrived", spy)
    stats = simulate(multi_skill_scenario(multi_skill, hours=0.5), lambda outs: None)
    assert len(seen) == stats.calls > 0


def test_lognormal_handle_times_reach_the_report(fcfs: Callable[..., RoutingConfig]) -> None:
    end = 20 * HOUR
    scenario = Scenario(
        fcfs(10), (constant_load("q", 100, 180, 0.0, end),), 0.0, end, handle=HandleTimes("lognormal", 60.0), seed=2
    )
    total = simulate_report(scenario, ReportOptions(interval="day")).report.total
    assert total.aht_s == pytest.approx(180, rel=0.03)


def test_a_counting_sink_counts_every_outcome_a_listening_sink_receives(multi_skill: RoutingConfig) -> None:
    """The simulator adds the total to an OutcomeCounter at the end instead of calling it per list."""
    scenario = multi_skill_scenario(multi_skill, hours=1)
    received: list[Outcome] = []
    listened = simulate(scenario, received.extend)
    counter = OutcomeCounter()
    counted = simulate(scenario, counter)
    assert counter.outcomes == counted.outcomes == listened.outcomes == len(received) > 0
    assert (counted.answered, counted.abandoned, counted.router_calls) == (listened.answered, listened.abandoned, listened.router_calls)


def test_events_at_the_same_moment_go_in_call_order(fcfs: Callable[..., RoutingConfig]) -> None:
    """Answers that fall due together and conversations that end together are handled in
    call order (the answer FIFO and the event heap's clash handling keep it)."""
    config = fcfs(3)
    plan = CallPlan(times=[10.0, 10.0, 10.0], queues=["q"] * 3, handle_s=[30.0, 30.0, 29.0], patience_s=None)
    outcomes: list[Outcome] = []
    stats = run_simulation(config, plan, logins=["a0", "a1", "a2"], login_at=0.0, answer_delay_s=2.0, sink=outcomes.extend)
    answered = [(o.call_id, o.at) for o in outcomes if isinstance(o, CallAnswered)]
    assert answered == [("c0", 12.0), ("c1", 12.0), ("c2", 12.0)]
    completed = [(o.call_id, o.at) for o in outcomes if type(o).__name__ == "CallCompleted"]
    assert completed == [("c2", 41.0), ("c0", 42.0), ("c1", 42.0)]
    assert stats.answered == 3 and stats.end_time == 42.0
