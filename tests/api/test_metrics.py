"""/metrics: valid Prometheus text, the live figures, monotonic counters; the lag probe; the tally."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from acd.api.lag import LoopLagProbe
from acd.api.prometheus import Exposition
from acd.api.tally import EventTally
from acd.asterisk.call_control import LegHungUp
from acd.base.events import Event
from acd.routing.intervals import IntervalClock
from tests.api.conftest import InProcess
from tests.api.helpers import answer, park
from tests.wall_clock import clear_of_quarter_hour

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')
LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Check the exposition format line by line and return every sample."""
    assert text.endswith("\n")
    typed: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter") and name not in typed, line
            typed[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name = match["name"]
        assert name in typed, f"{name} has no TYPE before its samples"
        if typed[name] == "counter":
            assert name.endswith("_total"), name
        labels = frozenset((m["key"], m["value"]) for m in LABEL.finditer(match["labels"] or ""))
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match["value"])
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_show_live_figures_and_counters(inproc: InProcess, api: httpx.AsyncClient) -> None:
    await asyncio.sleep(clear_of_quarter_hour(5.0))  # the interval's figures are read in the quarter hour of its calls
    app = inproc.app
    app.dispatcher.agent_login("diego")
    app.dispatcher.agent_login("ana")
    app.dispatcher.agent_pause("ana", "almuerzo")
    park(app, "c1", "general", waited_s=2)
    answer(app, "c1")
    park(app, "c2", "general", waited_s=60)
    park(app, "c3", "compradores", waited_s=1)
    app.dispatcher.handle(LegHungUp(leg_id="c3", channel="PJSIP/caller-c3", cause="Normal Clearing"))
    samples = parse((await api.get("/metrics")).text)

    assert value(samples, "acd_queue_waiting_calls", queue="general") == 1
    assert value(samples, "acd_queue_longest_wait_seconds", queue="general") >= 60  # type: ignore[operator]
    assert value(samples, "acd_queue_calls_offered_total", queue="general") == 2
    assert value(samples, "acd_queue_calls_answered_total", queue="general") == 1
    assert value(samples, "acd_queue_calls_abandoned_total", queue="compradores") == 1
    assert value(samples, "acd_queue_calls_abandoned_total", queue="proveedores") == 0
    # c1 answered within 10 s; c2 is past the threshold: 1 of 2.
    assert value(samples, "acd_queue_service_level_ratio", queue="general", period="interval") == 0.5
    assert value(samples, "acd_queue_service_level_ratio", queue="general", period="day") == 0.5
    assert value(samples, "acd_queue_under_target", queue="general") == 1
    assert value(samples, "acd_queue_service_level_target_ratio", queue="general") == 0.8
    assert value(samples, "acd_queue_service_level_ratio", queue="proveedores", period="interval") is None  # nothing decided: absent
    assert value(samples, "acd_queue_agents", queue="general", state="on_call") == 1
    assert value(samples, "acd_queue_agents", queue="compradores", state="paused") == 1
    assert value(samples, "acd_queue_agents_logged_in", queue="compradores") == 1
    assert value(samples, "acd_skill_waiting_calls", skill="general") == 1
    assert value(samples, "acd_agents", state="logged_out") == 2
    assert value(samples, "acd_ami_connected") == 0
    assert not any(name == "acd_node_ami_connected" for name, _ in samples)  # one Asterisk: no per-node series
    assert value(samples, "acd_fastagi_active_sessions") == 0
    assert value(samples, "acd_ami_event_backlog") == 0
    assert value(samples, "acd_event_loop_lag_seconds") == 0


async def test_with_several_nodes_each_nodes_ami_connection_is_a_series(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.node_connections = lambda: {"santiago-1": True, "santiago-2": False}
    samples = parse((await api.get("/metrics")).text)
    assert value(samples, "acd_node_ami_connected", node="santiago-1") == 1
    assert value(samples, "acd_node_ami_connected", node="santiago-2") == 0


async def test_an_overflow_counts_out_of_one_queue_and_into_the_other(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general")
    await api.post("/api/calls/c1/move", json={"queue": "proveedores"})
    await api.post("/api/calls/c1/priority", json={"priority": 2})
    samples = parse((await api.get("/metrics")).text)
    assert value(samples, "acd_queue_calls_overflowed_out_total", queue="general") == 1
    assert value(samples, "acd_queue_calls_offered_total", queue="proveedores") == 1
    assert value(samples, "acd_queue_waiting_calls", queue="proveedores") == 1
    assert value(samples, "acd_call_priority_changes_total") == 1


def test_label_values_are_escaped() -> None:
    out = Exposition()
    out.family("x", "gauge", "help", [({"queue": 'a"b\\c\nd'}, 1), ({"queue": "skip"}, None)])
    assert out.text().splitlines()[-1] == 'x{queue="a\\"b\\\\c\\nd"} 1'
    assert "skip" not in out.text()


async def test_lag_probe_sees_a_blocked_loop() -> None:
    probe = LoopLagProbe(period_s=0.05)
    task = asyncio.create_task(probe.run())
    while probe.samples < 1:
        await asyncio.sleep(0.01)
    time.sleep(0.3)  # noqa: ASYNC251 -- a blocking call on the loop: exactly what the probe must expose
    seen = probe.samples
    while probe.samples == seen:
        await asyncio.sleep(0.01)
    task.cancel()
    assert probe.last_s >= 0.25 and probe.max_s >= 0.25


def test_lag_window_forgets_old_peaks() -> None:
    probe = LoopLagProbe(window_s=60)
    probe.record(1000.0, 0.5)
    probe.record(1030.0, 0.01)
    assert probe.max_s == 0.5
    probe.record(1061.0, 0.02)
    assert probe.max_s == 0.02 and probe.last_s == 0.02


def test_handled_today_starts_again_at_local_midnight() -> None:
    tally = EventTally(IntervalClock("America/Santiago"))
    day, _ = tally.clock.day(1_750_000_000.0)
    tally.seed_handled([Event(type="call.completed", ts=day + 3600, agent_id="ana", queue="q")])
    tally.append(Event(type="call.completed", ts=day + 7200, agent_id="ana", queue="q"))
    tally.append(Event(type="call.completed", ts=day - 10, agent_id="ana", queue="q"))  # yesterday: ignored
    assert tally.handled_today("ana", day + 7300) == 2
    assert tally.handled_today("ana", day + 86400 + 5) == 0  # next day, nothing completed yet
    tally.append(Event(type="call.completed", ts=day + 86400 + 60, agent_id="ana", queue="q"))
    assert tally.handled_today("ana", day + 86400 + 70) == 1
    assert tally.counter("q", "completed") == 3  # the Prometheus counter never resets
