"""Estimated wait: from position, agents serving and recent handle times."""

from __future__ import annotations

import pytest

from acd.base.events import Event
from acd.routing import Router
from acd.routing.config import load_routing_text
from acd.routing.estimate import HandleTimes, estimate_wait_s
from acd.features.waiting import WaitingService, estimate_accuracy

CONFIG = """
skills: [a]
queues:
  - name: q
    skills: [a]
    wrap_up_s: 10
    waiting: {announce_every_s: 30, default_handle_s: 120}
agents:
  - {id: x, name: X, endpoint: PJSIP/x, skills: {a: 5}}
  - {id: y, name: Y, endpoint: PJSIP/y, skills: {a: 5}}
"""


def test_estimate_grows_with_position_and_shrinks_with_agents() -> None:
    assert estimate_wait_s(1, 2, 100.0) == 50.0
    assert estimate_wait_s(3, 2, 100.0) == 150.0
    assert estimate_wait_s(3, 3, 100.0) == 100.0
    assert estimate_wait_s(1, 0, 100.0) is None
    with pytest.raises(ValueError):
        estimate_wait_s(0, 1, 100.0)


def test_handle_times_use_the_default_until_measured_then_a_bounded_window() -> None:
    times = HandleTimes(default_s=120.0, window=3)
    assert times.mean_s == 120.0 and times.measured == 0
    for value in (10.0, 20.0, 30.0, 40.0):
        times.add(value)
    assert times.measured == 3 and times.mean_s == 30.0


def test_waiting_service_reports_position_agents_serving_and_learned_handle_time() -> None:
    config, problems = load_routing_text(CONFIG)
    assert not problems and config is not None
    router = Router(config)
    now = 1000.0
    service = WaitingService(router=router, emit=lambda e: None, clock=lambda: now)
    router.agent_login(now, "x")
    router.agent_login(now, "y")
    router.agent_pause(now, "y", "break")
    router.call_arrived(now, "c1", "q")  # goes to x
    router.call_arrived(now + 1, "c2", "q")
    router.call_arrived(now + 2, "c3", "q")
    now = 1010.0
    info = service.info("c3")
    assert info is not None
    assert (info.position, info.agents_serving, info.estimate_s) == (2, 1, 240.0)
    assert info.waited_s == pytest.approx(8.0)
    service.append(Event(type="call.completed", ts=now, call_id="old", queue="q", data={"talk_s": 50.0, "hold_s": 0.0}))
    assert service.info("c3").estimate_s == 2 * (50.0 + 10.0)  # talk + wrap-up, learned
    assert service.info("c1") is None  # ringing an agent, not waiting


def test_estimate_accuracy_is_measured_against_the_wait_that_followed() -> None:
    events = [
        Event(type="wait.announcement", ts=1, call_id="a", data={"estimate_s": 60.0, "waited_s": 10.0}),
        Event(type="call.answered", ts=2, call_id="a", data={"waited_s": 80.0}),  # 70 s later: error 10
        Event(type="wait.announcement", ts=1, call_id="b", data={"estimate_s": 30.0, "waited_s": 0.0}),
        Event(type="call.answered", ts=2, call_id="b", data={"waited_s": 20.0}),  # error 10
        Event(type="wait.announcement", ts=1, call_id="c", data={"estimate_s": 100.0, "waited_s": 0.0}),
        Event(type="call.answered", ts=2, call_id="c", data={"waited_s": 60.0}),  # error 40
        Event(type="wait.announcement", ts=1, call_id="gone", data={"estimate_s": 5.0, "waited_s": 0.0}),
    ]
    assert estimate_accuracy(events) == {"announcements": 3, "median_abs_error_s": 10.0, "p90_abs_error_s": 34.0}
    assert estimate_accuracy([])["announcements"] == 0
