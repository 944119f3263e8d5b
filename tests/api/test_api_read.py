"""Read endpoints: what supervisors see is what the router and the live figures hold."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from acd.api.views import figures_out, under_target
from acd.asterisk.call_control import LegHungUp
from tests.api.conftest import InProcess
from tests.api.helpers import answer, park
from tests.wall_clock import clear_of_local_midnight, clear_of_quarter_hour


async def test_queues_list_every_queue_with_its_figures(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.dispatcher.agent_login("bruno")
    response = await api.get("/api/queues")
    assert response.status_code == 200
    queues = {q["name"]: q for q in response.json()}
    assert list(queues) == ["compradores", "proveedores", "general"]
    general = queues["general"]
    assert general["skills"] == ["general"] and general["threshold_s"] == 10 and general["target"] == 0.8
    assert general["waiting"] == 0 and general["under_target"] is False
    assert general["agents"] == {"logged_in": 1, "available": 1, "ringing": 0, "on_call": 0, "wrap_up": 0, "paused": 0}
    assert general["interval"]["service_level"] is None and general["day"]["offered"] == 0
    assert queues["proveedores"]["agents"]["logged_in"] == 0


async def test_a_queue_whose_caller_waited_past_the_threshold_is_under_target(inproc: InProcess, api: httpx.AsyncClient) -> None:
    await asyncio.sleep(clear_of_quarter_hour(5.0))  # the call is offered in this quarter hour's figures, read in the same one
    park(inproc.app, "c1", "general", waited_s=60)
    general = (await api.get("/api/queues/general")).json()
    assert general["waiting"] == 1 and general["longest_wait_s"] >= 60
    assert general["interval"]["offered"] == 1 and general["interval"]["service_level"] == 0.0
    assert general["under_target"] is True
    compradores = (await api.get("/api/queues/compradores")).json()
    assert compradores["under_target"] is False


async def test_unknown_queue_is_404_naming_it(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/queues/ventas")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown queue 'ventas'", "kind": "queue", "id": "ventas"}


async def test_calls_show_waiting_positions_in_serving_order(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general", waited_s=60)
    park(inproc.app, "c2", "general", waited_s=30)
    park(inproc.app, "c3", "general", waited_s=90)
    park(inproc.app, "vip", "general", waited_s=5, priority=3)
    calls = (await api.get("/api/calls")).json()
    assert [(c["id"], c["position"]) for c in calls] == [("vip", 1), ("c3", 2), ("c1", 3), ("c2", 4)]
    c1 = calls[2]
    assert c1["state"] == "waiting" and c1["queue"] == "general" and c1["skills"] == ["general"]
    assert c1["waited_s"] >= 60 and c1["priority"] == 0 and c1["agent_id"] is None and c1["talk_s"] is None
    one = (await api.get("/api/calls/c2")).json()
    assert one["position"] == 4


async def test_ringing_and_connected_calls_are_listed_with_their_agent(inproc: InProcess, api: httpx.AsyncClient) -> None:
    app = inproc.app
    app.dispatcher.agent_login("diego")
    park(app, "c1", "general", waited_s=3)
    ringing = (await api.get("/api/calls/c1")).json()
    assert ringing["state"] == "ringing" and ringing["agent_id"] == "diego" and ringing["position"] is None
    answer(app, "c1")
    calls = (await api.get("/api/calls")).json()
    assert [(c["id"], c["state"], c["agent_id"]) for c in calls] == [("c1", "connected", "diego")]
    assert calls[0]["talk_s"] is not None
    diego = (await api.get("/api/agents/diego")).json()
    assert diego["state"] == "on_call" and diego["call_id"] == "c1"


async def test_agents_show_state_skills_queues_and_calls_handled_today(inproc: InProcess, api: httpx.AsyncClient) -> None:
    await asyncio.sleep(clear_of_local_midnight(10.0))  # a call completed before local midnight is not handled "today" after it
    app = inproc.app
    app.dispatcher.agent_login("diego")
    park(app, "c1", "general")
    answer(app, "c1")
    app.dispatcher.handle(LegHungUp(leg_id="c1", channel="PJSIP/caller-c1", cause="Normal Clearing"))
    agents = {a["id"]: a for a in (await api.get("/api/agents")).json()}
    assert list(agents) == ["ana", "bruno", "carla", "diego"]
    diego = agents["diego"]
    assert diego["state"] == "wrap_up" and diego["handled_today"] == 1 and diego["call_id"] == "c1"
    assert diego["skills"] == {"general": 8} and diego["queues"] == ["general"]
    assert agents["bruno"]["queues"] == ["compradores", "general"]
    ana = agents["ana"]
    assert ana["state"] == "logged_out" and ana["in_state_s"] == 0.0 and ana["handled_today"] == 0


async def test_unknown_agent_and_call_are_404_naming_the_id(api: httpx.AsyncClient) -> None:
    agent = await api.get("/api/agents/zoe")
    call = await api.get("/api/calls/1700000000.42")
    assert agent.status_code == call.status_code == 404
    assert agent.json()["id"] == "zoe" and agent.json()["kind"] == "agent"
    assert call.json()["id"] == "1700000000.42" and "1700000000.42" in call.json()["detail"]


async def test_stats_give_queues_skills_and_agent_totals_at_one_instant(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.dispatcher.agent_login("ana")
    inproc.app.dispatcher.agent_pause("ana", "almuerzo")
    park(inproc.app, "c1", "compradores", waited_s=2)
    stats = (await api.get("/api/stats")).json()
    assert stats["site"] == "default" and stats["timezone"] == "America/Santiago"
    assert stats["interval_start"] <= stats["at"] < stats["interval_end"]
    assert stats["day_start"] <= stats["interval_start"]
    assert stats["ami_connected"] is False
    assert stats["agents"] == {"logged_in": 1, "available": 0, "ringing": 0, "on_call": 0, "wrap_up": 0, "paused": 1, "logged_out": 3}
    skills = {s["name"]: s for s in stats["skills"]}
    assert skills["compradores"]["waiting"] == 1 and skills["compradores"]["agents"]["paused"] == 1
    skills_now = (await api.get("/api/skills")).json()
    assert [(s["name"], s["waiting"], s["agents"]) for s in skills_now] == [(s["name"], s["waiting"], s["agents"]) for s in stats["skills"]]


async def test_health_reports_ami_and_fastagi(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/health")).json() == {
        "status": "ok", "site": "default", "ami_connected": False, "ami_nodes": None, "fastagi_active_sessions": 0,
    }


async def test_with_several_asterisk_servers_ami_is_up_only_when_every_node_is(inproc: InProcess, api: httpx.AsyncClient) -> None:
    nodes = {"santiago-1": True, "santiago-2": False}
    inproc.app.node_connections = lambda: dict(nodes)
    for path in ("/api/health", "/api/stats"):
        body = (await api.get(path)).json()
        assert (body["ami_connected"], body["ami_nodes"]) == (False, nodes), path
    nodes["santiago-2"] = True
    body = (await api.get("/api/health")).json()
    assert (body["ami_connected"], body["ami_nodes"]) == (True, {"santiago-1": True, "santiago-2": True})


@pytest.mark.parametrize(
    "interval, day, marked",
    [(None, None, False), (0.9, 0.5, False), (0.5, 0.9, True), (None, 0.5, True), (None, 0.9, False), (0.8, 0.1, False)],
)
def test_under_target_uses_the_interval_and_the_day_while_the_interval_is_empty(inproc: InProcess, interval: float | None, day: float | None, marked: bool) -> None:
    figures = figures_out(inproc.app.stats.snapshot(time.time()).queues["general"].interval)
    with_level = lambda level: figures.model_copy(update={"service_level": level})  # noqa: E731
    assert under_target(with_level(interval), with_level(day), 0.8) is marked
