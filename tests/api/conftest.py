"""Fixtures: an assembled (not started) App behind an in-process ASGI client, and a served engine."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest

from acd.api.http import create_api
from acd.api.lag import LoopLagProbe
from acd.api.tally import EventTally
from tests.api.helpers import TOKEN, EngineThread, assemble, free_port, make_settings


class InProcess:
    """An App built by ``build_app`` (not started) with its API, reached through httpx's ASGI transport."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = make_settings(tmp_path)
        self.app, self.control, self.sink = assemble(self.settings)
        self.tally = EventTally(self.app.stats.clock)
        self.app.engine.bus.sinks.append(self.tally)
        self.lag = LoopLagProbe()
        self.asgi = create_api(self.app, token=TOKEN, tally=self.tally, lag=self.lag)

    def client(self, *, token: str | None = TOKEN, peer: str = "127.0.0.1") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        transport = httpx.ASGITransport(app=self.asgi, client=(peer, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://acd.test", headers=headers)


@pytest.fixture
def inproc(tmp_path: Path) -> InProcess:
    return InProcess(tmp_path)


@pytest.fixture
async def api(inproc: InProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with inproc.client() as client:
        yield client


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    """The real engine with its API on a free loopback port, in a thread (the CLI is synchronous)."""
    running = EngineThread(make_settings(tmp_path, api_port=free_port(), auto_login=("ana",))).start()
    yield running
    running.stop()
