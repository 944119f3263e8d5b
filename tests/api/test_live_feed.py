"""The console's live feed (acd.web.live): one engine stream fanned out to browsers, masked per viewer, stale when away.

Here rather than in tests/web: Playwright's sync API (the browser tests there) keeps an event
loop running for the session, and asyncio tests after it cannot start theirs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from acd.app import App
from acd.web.live import LiveClient, LiveFeed, Shape, mask_call, shape
from tests.api.helpers import TOKEN, assemble, free_port, make_settings, park

EVERYTHING = Shape(calls=True, personal=True)
MASKED = Shape(calls=True, personal=False)
WALLBOARD = Shape(calls=False, personal=False)


def body(message: bytes) -> dict[str, Any]:
    line = next(line for line in message.decode().splitlines() if line.startswith("data: "))
    return json.loads(line[6:])


async def next_body(client: LiveClient, test: Any = lambda b: True, timeout: float = 3.0) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message = await client.queue.get()
            assert message is not None, "stream ended"
            decoded = body(message)
            if test(decoded):
                return decoded

    return await asyncio.wait_for(wait(), timeout)


def states(snapshot: dict[str, Any]) -> dict[str, str]:
    return {agent["id"]: agent["state"] for agent in snapshot.get("agents", [])}


async def start_engine(tmp_path: Path, port: int) -> App:
    tmp_path.mkdir(exist_ok=True)
    app, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
    await app.engine.start()
    return app


@pytest.fixture
async def feed_and_engine(tmp_path: Path) -> AsyncIterator[tuple[LiveFeed, App, int]]:
    port = free_port()
    app = await start_engine(tmp_path / "one", port)
    feed = LiveFeed(f"http://127.0.0.1:{port}", TOKEN, backoff_min_s=0.1, backoff_max_s=0.3)
    feed.start()
    try:
        yield feed, app, port
    finally:
        await feed.stop()
        await app.engine.stop(grace_s=1)


async def test_every_browser_gets_each_change_shaped_for_its_viewer(feed_and_engine: tuple[LiveFeed, App, int]) -> None:
    feed, app, _port = feed_and_engine
    supervisor, viewer, wall = feed.subscribe(EVERYTHING), feed.subscribe(MASKED), feed.subscribe(WALLBOARD)
    assert supervisor is not None and viewer is not None and wall is not None
    await next_body(wall, lambda b: "stats" in b)
    app.dispatcher.agent_login("ana")
    assert app.caller_number is not None  # the engine's hook at call start (the IVR route calls it)
    app.caller_number("c1", "+56912345678")
    park(app, "c1", "compradores", waited_s=4)
    got = {}
    for name, client in (("supervisor", supervisor), ("viewer", viewer), ("wall", wall)):
        got[name] = await next_body(client, lambda b: states(b).get("ana") == "reserved")
        assert got[name]["status"]["stale"] is False
    assert "calls" not in got["wall"]  # a wallboard-only viewer never receives calls
    clear, masked = got["supervisor"]["calls"][0], got["viewer"]["calls"][0]
    assert clear["id"] == masked["id"] == "c1" and clear["state"] == "ringing" and clear["agent_id"] == "ana"
    assert clear["number"] == "+56912345678"
    assert "number" not in masked and masked["caller"] == "+*******5678"


def test_masking_hides_number_and_every_attached_value() -> None:
    call = {"id": "c1", "number": "+56912345678", "caller": "+*******5678", "attached": {"rut": "12345678K", "segmento": "pyme"}}
    masked = mask_call(call)
    assert "number" not in masked and masked["caller"] == "+*******5678"
    assert masked["attached"] == {"rut": "********K", "segmento": "***e"}
    snapshot = {"stats": {}, "agents": [], "calls": [call]}
    assert shape(snapshot, EVERYTHING)["calls"][0]["number"] == "+56912345678"
    assert "calls" not in shape(snapshot, WALLBOARD)
    assert snapshot["calls"][0] is call and call["attached"]["rut"] == "12345678K"  # shared snapshot untouched


async def test_the_engine_going_away_marks_the_picture_stale_and_a_new_engine_is_followed(tmp_path: Path) -> None:
    port = free_port()
    app = await start_engine(tmp_path / "first", port)
    feed = LiveFeed(f"http://127.0.0.1:{port}", TOKEN, backoff_min_s=0.1, backoff_max_s=0.3)
    feed.start()
    try:
        client = feed.subscribe(WALLBOARD)
        assert client is not None
        await next_body(client, lambda b: "stats" in b and not b["status"]["stale"])
        await app.engine.stop(grace_s=1)
        gone = await next_body(client, lambda b: b["status"]["stale"])
        assert "stats" in gone  # the last picture stays, marked
        assert gone["status"]["stale_since"] is not None and gone["status"]["problem"]
        app = await start_engine(tmp_path / "second", port)
        back = await next_body(client, lambda b: not b["status"]["stale"], timeout=5)
        assert back["status"]["problem"] == "" and feed.connects == 2
    finally:
        await feed.stop()
        await app.engine.stop(grace_s=1)


async def test_a_wrong_token_is_named() -> None:
    port = free_port()
    feed = LiveFeed(f"http://127.0.0.1:{port}", "nope", backoff_min_s=0.05, backoff_max_s=0.1)
    feed.start()
    try:
        client = feed.subscribe(WALLBOARD)
        assert client is not None
        first = body(client.queue.get_nowait())  # type: ignore[arg-type]
        assert first["status"]["stale"] is True and "stats" not in first
        got = await next_body(client, lambda b: "reachable" in b["status"]["problem"])
        assert str(port) in got["status"]["problem"]
    finally:
        await feed.stop()


async def test_a_browser_that_does_not_read_is_dropped_and_the_rest_go_on() -> None:
    feed = LiveFeed("http://127.0.0.1:9", TOKEN, client_queue=3)
    slow, quick = feed.subscribe(WALLBOARD), feed.subscribe(WALLBOARD)
    assert slow is not None and quick is not None
    for seq in range(6):
        feed._received({"stats": {"at": seq}, "agents": [], "calls": [], "seq": seq})
        while not quick.queue.empty():
            last = quick.queue.get_nowait()
    assert slow.dropped and slow not in feed.clients and feed.dropped == 1
    assert quick in feed.clients and body(last)["stats"]["at"] == 5  # type: ignore[arg-type]
    messages = feed.messages(slow)
    assert await anext(messages) == b"retry: 2000\n\n"
    with pytest.raises(StopAsyncIteration):  # the dropped browser's stream ends (it reconnects)
        await anext(messages)


async def test_browsers_are_capped_and_streams_end_for_a_session_check() -> None:
    feed = LiveFeed("http://127.0.0.1:9", TOKEN, max_clients=2)
    first, second = feed.subscribe(WALLBOARD), feed.subscribe(WALLBOARD)
    assert feed.subscribe(WALLBOARD) is None
    assert first is not None and second is not None
    messages = feed.messages(first, heartbeat_s=0.05, max_s=0.12)
    got = [message async for message in messages]
    assert got[0] == b"retry: 2000\n\n" and got[1].startswith(b"event: snapshot") and b": heartbeat\n\n" in got
    assert first not in feed.clients
