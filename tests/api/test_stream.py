"""GET /api/stream: a snapshot on connect and after each burst of changes; slow clients dropped."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from acd.api.stream import StreamHub
from acd.app import App
from acd.privacy import Personal
from tests.api.helpers import TOKEN, assemble, free_port, make_settings, park

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def snapshots(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The ``snapshot`` events of an SSE response, decoded."""
    event, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            if event == "snapshot":
                yield json.loads(data)
            event, data = "", ""


def states(snapshot: dict[str, Any]) -> dict[str, str]:
    return {agent["id"]: agent["state"] for agent in snapshot["agents"]}


async def until(stream: AsyncIterator[dict[str, Any]], test: Any) -> dict[str, Any]:
    async for snapshot in stream:
        if test(snapshot):
            return snapshot
    raise AssertionError("stream ended")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[App, str]]:
    port = free_port()
    app, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
    await app.engine.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await app.engine.stop(grace_s=1)


async def test_a_snapshot_on_connect_then_one_per_change(served: tuple[App, str]) -> None:
    app, url = served
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=10) as client:
        async with client.stream("GET", "/api/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = snapshots(response)
            first = await anext(stream)
            assert {"stats", "agents", "calls", "seq", "sent"} <= first.keys()
            assert {agent["id"]: agent["state"] for agent in first["agents"]}["ana"] == "logged_out"
            assert [queue["name"] for queue in first["stats"]["queues"]] == ["compradores", "proveedores", "general"]

            await asyncio.sleep(0.2)  # the start-up events' snapshot, if any, goes first
            started = time.monotonic()
            assert (await client.post("/api/agents/ana/login")).status_code == 200
            second = await asyncio.wait_for(until(stream, lambda s: states(s)["ana"] == "available"), 2)
            assert time.monotonic() - started < 0.5  # pushed, not the 5 s refresh
            assert second["seq"] > first["seq"]


async def test_a_burst_of_events_is_one_snapshot(served: tuple[App, str]) -> None:
    app, url = served
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=10) as client:
        async with client.stream("GET", "/api/stream") as response:
            stream = snapshots(response)
            await anext(stream)
            for index in range(20):
                park(app, f"b{index}", "general", waited_s=index)
            after = await asyncio.wait_for(until(stream, lambda s: bool(s["calls"])), 2)
            waiting = [call for call in after["calls"] if call["state"] == "waiting"]
            assert len(waiting) == 20
            assert after["stats"]["queues"][2]["waiting"] == 20
            assert waiting[0]["position"] == 1 and waiting[0]["queue"] == "general"
            with pytest.raises(asyncio.TimeoutError):  # nothing more until the next change or refresh
                await asyncio.wait_for(anext(stream), 0.5)


async def test_streams_are_capped_and_need_the_token(served: tuple[App, str]) -> None:
    app, url = served
    async with httpx.AsyncClient(base_url=url, timeout=10) as anonymous:
        assert (await anonymous.get("/api/stream")).status_code == 401
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=10) as client:
        opened = []
        try:
            for _ in range(8):
                ctx = client.stream("GET", "/api/stream")
                response = await ctx.__aenter__()
                opened.append(ctx)
                assert response.status_code == 200
            refused = await client.get("/api/stream")
            assert refused.status_code == 503 and refused.json()["error"] == "busy"
            assert (await client.get("/api/health")).status_code == 200  # ordinary requests still served
        finally:
            for ctx in opened:
                await ctx.__aexit__(None, None, None)


def fake_picture() -> dict[str, Any]:
    attached = {"rut": Personal("12345678K"), "segmento": "pyme"}
    return {"stats": {}, "agents": [], "calls": [{"id": "c1", "state": "waiting", "_attached": attached}]}


def decode(message: bytes) -> dict[str, Any]:
    line = next(line for line in message.decode().splitlines() if line.startswith("data: "))
    return json.loads(line[6:])


async def test_personal_data_is_clear_only_on_request() -> None:
    hub = StreamHub()
    hub.snapshot = fake_picture
    hub.traces.number("c1", "+56912345678")
    masked = decode(hub.subscribe(personal=False).queue.get_nowait())["calls"][0]  # type: ignore[union-attr]
    clear = decode(hub.subscribe(personal=True).queue.get_nowait())["calls"][0]  # type: ignore[union-attr]
    assert masked["attached"] == {"rut": "********K", "segmento": "pyme"} and "number" not in masked
    assert masked["caller"] == "+*******5678"
    assert clear["attached"] == {"rut": "12345678K", "segmento": "pyme"} and clear["number"] == "+56912345678"
    assert clear["personal_fields"] == ["rut"] and "_attached" not in clear


async def test_a_client_that_does_not_read_is_dropped_and_the_others_go_on() -> None:
    hub = StreamHub(queue_size=3)
    hub.snapshot = fake_picture
    slow, quick = hub.subscribe(False), hub.subscribe(False)
    assert slow is not None and quick is not None
    for _ in range(5):
        hub.publish()
        while not quick.queue.empty():
            quick.queue.get_nowait()
    assert slow.dropped and slow not in hub.subscribers and hub.dropped == 1
    assert quick in hub.subscribers and not quick.dropped


async def test_heartbeats_while_quiet_and_close_ends_the_stream() -> None:
    hub = StreamHub(heartbeat_s=0.05)
    hub.snapshot = fake_picture
    subscriber = hub.subscribe(False)
    assert subscriber is not None
    messages = hub.messages(subscriber)
    assert (await anext(messages)).startswith(b"id: ")
    assert await anext(messages) == b": heartbeat\n\n"
    hub.end()
    with pytest.raises(StopAsyncIteration):
        await anext(messages)
    assert hub.subscribe(False) is None


async def test_ivr_path_and_caller_follow_the_events() -> None:
    from acd.base.events import Event

    hub = StreamHub()
    hub.snapshot = fake_picture
    now = time.time()
    hub.append(Event(type="call.started", ts=now, call_id="c1", data={"caller": "*******5678", "caller_ref": "ab12"}))
    for node in ("bienvenida", "menu", "cola"):
        hub.append(Event(type="ivr.node", ts=now, call_id="c1", data={"node": node, "flow": "f", "flow_version": "1", "node_type": "menu"}))
    call = decode(hub.subscribe(False).queue.get_nowait())["calls"][0]  # type: ignore[union-attr]
    assert call["ivr_path"] == ["bienvenida", "menu", "cola"] and call["caller_ref"] == "ab12"
    hub.append(Event(type="call.ended", ts=now, call_id="c1", data={"cause": "caller-hangup"}))
    assert hub.traces.get("c1") is None


def test_a_queued_call_is_forgotten_when_its_queue_stay_ends_not_kept_until_the_limit() -> None:
    from acd.api.stream import CallTraces
    from acd.base.events import Event

    traces = CallTraces(limit=5000)
    for index, ending in enumerate(("call.completed", "call.abandoned", "call.timed_out")):
        call_id = f"q{index}"
        traces.append(Event(type="call.started", ts=0, call_id=call_id, data={"caller": "*******5678"}))
        traces.append(Event(type="ivr.node", ts=0, call_id=call_id, data={"node": "cola"}))
        traces.append(Event(type="call.answered", ts=1, call_id=call_id, queue="q", agent_id="a1", data={}))
        assert traces.get(call_id) is not None  # live while queued, ringing and talking
        traces.append(Event(type=ending, ts=2, call_id=call_id, queue="q", data={}))
        assert traces.get(call_id) is None, ending


async def test_a_persons_token_cannot_open_the_stream(tmp_path: Path) -> None:
    """Only the console's token (ACD_API_TOKEN): the stream carries calls and personal data."""
    from acd.accounts.store import AccountStore
    from acd.settings import WebSettings

    store = AccountStore(tmp_path / "accounts.sqlite")
    store.add("sam", "Sam Supervisor", "admin", "sam-secreto-1")
    _t, secret = store.issue_token("sam", "ops")
    port = free_port()
    settings = make_settings(tmp_path, api_port=port)
    settings = settings.model_copy(update={"web": WebSettings(accounts_database=store.path)})
    app, _control, _sink = assemble(settings)
    await app.engine.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {secret}"}) as client:
            assert (await client.get("/api/stats")).status_code == 200
            assert (await client.get("/api/stream")).status_code == 403
    finally:
        await app.engine.stop(grace_s=1)
