"""Write endpoints: agent controls and supervisor actions go through the dispatcher."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import InProcess
from tests.api.helpers import answer, park, settle


async def test_login_pause_unpause_logout(inproc: InProcess, api: httpx.AsyncClient) -> None:
    login = await api.post("/api/agents/ana/login")
    assert login.status_code == 200 and login.json()["state"] == "available"
    pause = await api.post("/api/agents/ana/pause", json={"reason": "almuerzo"})
    assert pause.json()["state"] == "paused" and pause.json()["reason"] == "almuerzo"
    unpause = await api.post("/api/agents/ana/unpause")
    assert unpause.json()["state"] == "available"
    logout = await api.post("/api/agents/ana/logout", json={"reason": "fin de turno"})
    assert logout.json()["state"] == "logged_out" and logout.json()["reason"] == "fin de turno"
    states = [(e.data["previous"], e.data["state"]) for e in inproc.sink.of_type("agent.state")]
    assert states == [("logged_out", "available"), ("available", "paused"), ("paused", "available"), ("available", "logged_out")]


async def test_pause_and_logout_without_a_body_use_default_reasons(api: httpx.AsyncClient) -> None:
    await api.post("/api/agents/ana/login")
    assert (await api.post("/api/agents/ana/pause")).json()["reason"] == "pause"
    assert (await api.post("/api/agents/ana/logout")).json()["reason"] == "logout"


async def test_a_logged_in_agent_takes_the_waiting_call(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "compradores", waited_s=5)
    ana = (await api.post("/api/agents/ana/login")).json()
    assert ana["state"] == "reserved" and ana["call_id"] == "c1"
    await settle()
    assert inproc.control.rings == [("c1", "ana")]


async def test_logout_during_a_call_waits_for_the_call_to_end(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.dispatcher.agent_login("ana")
    park(inproc.app, "c1", "compradores")
    answer(inproc.app, "c1")
    ana = (await api.post("/api/agents/ana/logout", json={"reason": "medico"})).json()
    assert ana["state"] == "on_call" and ana["pending"] == "logged_out:medico"


async def test_refused_agent_changes_are_409_with_the_router_reason(api: httpx.AsyncClient) -> None:
    paused_logged_out = await api.post("/api/agents/ana/pause", json={"reason": "almuerzo"})
    assert paused_logged_out.status_code == 409
    assert paused_logged_out.json() == {"error": "conflict", "detail": "agent 'ana' is logged out", "kind": "agent", "id": "ana"}
    await api.post("/api/agents/ana/login")
    again = await api.post("/api/agents/ana/login")
    assert again.status_code == 409 and "already logged in" in again.json()["detail"]


@pytest.mark.parametrize("action", ["login", "logout", "pause", "unpause"])
async def test_unknown_agent_is_404_for_every_action(api: httpx.AsyncClient, action: str) -> None:
    response = await api.post(f"/api/agents/zoe/{action}")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown agent 'zoe'", "kind": "agent", "id": "zoe"}


@pytest.mark.parametrize(
    "body",
    [{"reason": ""}, {"reason": "x" * 65}, {"reason": "a;b"}, {"reason": "line\nbreak"}, {"reason": 5}, {"reason": "ok", "extra": 1}, [1]],
)
async def test_bad_pause_bodies_are_422(api: httpx.AsyncClient, body: object) -> None:
    await api.post("/api/agents/ana/login")
    response = await api.post("/api/agents/ana/pause", json=body)
    assert response.status_code == 422
    assert (await api.get("/api/agents/ana")).json()["state"] == "available"


async def test_priority_change_reorders_the_queue_and_is_logged(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general", waited_s=60)
    park(inproc.app, "c2", "general", waited_s=10)
    response = await api.post("/api/calls/c2/priority", json={"priority": 5})
    assert response.status_code == 200
    assert response.json()["priority"] == 5 and response.json()["position"] == 1
    assert [c["id"] for c in (await api.get("/api/calls")).json()] == ["c2", "c1"]
    [event] = inproc.sink.of_type("call.priority_changed")
    assert event.call_id == "c2" and event.queue == "general" and event.data == {"priority": 5, "previous": 0}


async def test_priority_of_an_answered_call_is_409_and_not_logged(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.dispatcher.agent_login("diego")
    park(inproc.app, "c1", "general")
    answer(inproc.app, "c1")
    response = await api.post("/api/calls/c1/priority", json={"priority": 5})
    assert response.status_code == 409 and response.json()["id"] == "c1"
    assert inproc.sink.of_type("call.priority_changed") == []


@pytest.mark.parametrize("body", [{"priority": "high"}, {"priority": 1001}, {"priority": -1001}, {"priority": 1.5}, {}, None])
async def test_bad_priority_bodies_are_422(inproc: InProcess, api: httpx.AsyncClient, body: object) -> None:
    park(inproc.app, "c1", "general")
    response = await api.post("/api/calls/c1/priority", json=body)
    assert response.status_code == 422
    assert inproc.app.router.call("c1").priority == 0  # type: ignore[union-attr]


async def test_move_keeps_the_wait_and_rings_an_agent_of_the_new_queue(inproc: InProcess, api: httpx.AsyncClient) -> None:
    inproc.app.dispatcher.agent_login("ana")
    park(inproc.app, "c1", "general", waited_s=40)
    response = await api.post("/api/calls/c1/move", json={"queue": "compradores"})
    assert response.status_code == 200
    moved = response.json()
    assert moved["queue"] == "compradores" and moved["state"] == "ringing" and moved["agent_id"] == "ana"
    assert moved["waited_s"] >= 40 and moved["in_queue_s"] < moved["waited_s"]
    [overflow] = inproc.sink.of_type("call.overflowed")
    assert overflow.queue == "general" and overflow.data["to_queue"] == "compradores" and overflow.data["reason"] == "supervisor"
    await settle()
    assert inproc.control.rings == [("c1", "ana")]


async def test_move_refusals(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general")
    unknown_queue = await api.post("/api/calls/c1/move", json={"queue": "ventas"})
    assert unknown_queue.status_code == 404 and unknown_queue.json()["kind"] == "queue" and unknown_queue.json()["id"] == "ventas"
    same_queue = await api.post("/api/calls/c1/move", json={"queue": "general"})
    assert same_queue.status_code == 409 and "already in 'general'" in same_queue.json()["detail"]
    unknown_call = await api.post("/api/calls/nope/move", json={"queue": "general"})
    assert unknown_call.status_code == 404 and unknown_call.json()["id"] == "nope"
    for body in ({"queue": ""}, {}, {"queue": 3}):
        assert (await api.post("/api/calls/c1/move", json=body)).status_code == 422
    assert inproc.sink.of_type("call.overflowed") == []


async def test_unknown_call_priority_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/calls/nope/priority", json={"priority": 1})
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "unknown call 'nope'", "kind": "call", "id": "nope"}


async def test_a_body_that_is_not_text_is_422(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general")
    response = await api.post("/api/calls/c1/priority", content=b"\xff\xfe\x00", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body"]
    assert (await api.get("/api/nowhere")).status_code == 404  # other HTTP errors keep their status


@pytest.mark.parametrize(
    "path",
    ["/api/agents/ana%0D%0AAction:%20Originate/login", "/api/agents/ana%0A/pause", "/api/calls/c1%0A/priority", "/api/calls/c1%00/move"],
)
async def test_an_id_with_a_line_break_or_nul_is_422_before_any_lookup(inproc: InProcess, api: httpx.AsyncClient, path: str) -> None:
    park(inproc.app, "c1", "general")
    body = {"priority": 1} if path.endswith("priority") else {"queue": "general"} if path.endswith("move") else None
    response = await api.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "path"


async def test_a_move_to_a_queue_name_with_a_line_break_is_422(inproc: InProcess, api: httpx.AsyncClient) -> None:
    park(inproc.app, "c1", "general")
    response = await api.post("/api/calls/c1/move", json={"queue": "general\r\nAction: Hangup"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "queue"]
