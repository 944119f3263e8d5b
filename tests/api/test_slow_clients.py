"""Half-open and idle connections cannot deny the control API to the token holder.

A real engine serves the API with uvicorn on a loopback port (``EngineThread``); the
attackers are raw sockets.  Before the guard, about 70 sockets that connected and sent
half a request line made every real request get 503 for as long as they stayed open.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from acd.api.guard import RequestLimit
from acd.settings import Settings, SettingsError, format_settings_problem, load_settings
from tests.api.helpers import TOKEN, EngineThread, free_port, make_settings

HEADER_TIMEOUT_S = 1.5
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def guarded_settings(tmp_path: Path, **api: object) -> Settings:
    settings = make_settings(tmp_path, api_port=free_port())
    return settings.model_copy(update={"api": settings.api.model_copy(update={"header_timeout_s": HEADER_TIMEOUT_S, **api})})


@pytest.fixture
def start_engine(tmp_path: Path) -> Iterator[Callable[..., EngineThread]]:
    """Start the real engine with API settings overridden (``max_connections=...``)."""
    started: list[EngineThread] = []

    def start(**api: object) -> EngineThread:
        started.append(EngineThread(guarded_settings(tmp_path, **api)).start())
        return started[-1]

    yield start
    for thread in started:
        thread.stop()


def open_half_requests(stack: ExitStack, port: int, count: int) -> list[socket.socket]:
    """Every other socket sends nothing; the rest half a request line and its first header."""
    sockets = []
    for number in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        if number % 2:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    readable, _, _ = select.select([sock], [], [], within_s)
    if not readable:
        return False
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_token_holder_gets_200_while_200_half_open_connections_are_held(start_engine: Callable[..., EngineThread]) -> None:
    engine = start_engine()
    port = engine.settings.api.port
    with ExitStack() as stack:
        attackers = open_half_requests(stack, port, 200)
        opened = time.monotonic()
        with httpx.Client(base_url=engine.url, headers=AUTH, timeout=3.0) as client:
            statuses = [client.get("/api/health").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        deadline = opened + HEADER_TIMEOUT_S + 3.0
        still_open = [s for s in attackers if not closed_by_server(s, max(0.0, deadline - time.monotonic()))]
    assert still_open == []  # the server closed every one after the header timeout


def test_a_request_trickled_after_a_keep_alive_response_is_cut_off(start_engine: Callable[..., EngineThread]) -> None:
    """uvicorn's own keep-alive timer stops at the first byte; the request deadline does not."""
    engine = start_engine()
    with socket.create_connection(("127.0.0.1", engine.settings.api.port), timeout=5) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            response += sock.recv(4096)
        assert response.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        sock.sendall(b"GET /api/hea")  # the next request, never finished
        assert closed_by_server(sock, HEADER_TIMEOUT_S + 3.0)
        assert time.monotonic() - started >= HEADER_TIMEOUT_S - 0.2


def test_over_the_connection_cap_silent_connections_make_room_for_a_real_request(start_engine: Callable[..., EngineThread]) -> None:
    engine = start_engine(max_connections=16)
    with ExitStack() as stack:
        opened = time.monotonic()
        attackers = open_half_requests(stack, engine.settings.api.port, 40)
        with httpx.Client(base_url=engine.url, headers=AUTH, timeout=3.0) as client:
            assert client.get("/api/health").status_code == 200
        evicted = [s for s in attackers[:24] if closed_by_server(s, max(0.0, opened + HEADER_TIMEOUT_S / 2 - time.monotonic()))]
    assert len(evicted) == 24  # the oldest silent ones, closed long before their request deadline


async def test_the_busy_limit_counts_requests_in_progress_only() -> None:
    release = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = RequestLimit(slow_app, limit=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://api") as client:
        first = asyncio.create_task(client.get("/api/health"))
        while limited.in_progress < 1:
            await asyncio.sleep(0)
        busy = await client.get("/api/health")
        release.set()
        assert (await first).status_code == 200
        assert (busy.status_code, busy.json()["error"], busy.headers["retry-after"]) == (503, "busy", "1")
        assert (await client.get("/api/health")).status_code == 200 and limited.in_progress == 0


@pytest.mark.parametrize("field", ["header_timeout_s: 0", "max_connections: 0"])
def test_guard_settings_out_of_range_are_named(tmp_path: Path, field: str) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text(f"api:\n  {field}\n")
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    [problem] = refused.value.problems
    assert format_settings_problem(problem).startswith(f"{path}:2:") and field.split(":")[0] in str(problem)
