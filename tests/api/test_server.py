"""attach_api: the API starts and stops with the engine, on its loop, without taking its signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path

import httpx
import pytest

from acd.api.tally import EventTally
from acd.asterisk.call_control import LegHungUp
from tests.api.helpers import TOKEN, answer, assemble, free_port, make_settings, park
from tests.wall_clock import clear_of_local_midnight


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_the_api_serves_while_the_engine_runs_and_leaves_its_signals_alone(tmp_path: Path) -> None:
    port = free_port()
    app, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    await app.engine.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            health = await client.get("/api/health")
            login = await client.post("/api/agents/ana/login")
            metrics = await httpx.AsyncClient().get(f"http://127.0.0.1:{port}/metrics")
        assert health.status_code == 200 and login.json()["state"] == "available"
        assert metrics.status_code == 200 and "acd_queue_waiting_calls" in metrics.text
        assert {signum: signal.getsignal(signum) for signum in before} == before
    finally:
        await app.engine.stop(grace_s=1)
    assert not listening(port)


async def test_without_a_token_the_api_stays_off_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="acd.api"):
        app, _control, _sink = assemble(make_settings(tmp_path, api_port=port, token=None))
    assert "ACD_API_TOKEN" in caplog.text
    assert not any(isinstance(sink, EventTally) for sink in app.engine.bus.sinks)
    await app.engine.start()
    try:
        assert not listening(port)
    finally:
        await app.engine.stop(grace_s=1)


async def test_a_blank_token_counts_as_none(tmp_path: Path) -> None:
    app, _control, _sink = assemble(make_settings(tmp_path, token="   "))
    assert not any(isinstance(sink, EventTally) for sink in app.engine.bus.sinks)


async def test_disabled_api_is_not_attached(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="acd.api"):
        app, _control, _sink = assemble(make_settings(tmp_path, enabled=False))
    assert "disabled" in caplog.text
    assert not any(isinstance(sink, EventTally) for sink in app.engine.bus.sinks)


async def test_a_busy_port_leaves_the_engine_running_without_its_api(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        app, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
        with caplog.at_level(logging.ERROR, logger="acd.api"):
            await app.engine.start()
        try:
            assert app.engine.started is True
            assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
            app.dispatcher.agent_login("ana")  # routing works without the API
            assert app.router.agent("ana").state == "available"  # type: ignore[union-attr]
        finally:
            await app.engine.stop(grace_s=1)


async def test_calls_handled_today_survive_an_engine_restart(tmp_path: Path) -> None:
    await asyncio.sleep(clear_of_local_midnight(60.0))  # after local midnight the count is rightly 0 again
    port = free_port()
    first, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
    await first.engine.start()
    first.dispatcher.agent_login("diego")
    park(first, "c1", "general")
    answer(first, "c1")
    first.dispatcher.handle(LegHungUp(leg_id="c1", channel="PJSIP/caller-c1", cause="Normal Clearing"))
    await first.engine.stop(grace_s=1)

    second, _control, _sink = assemble(make_settings(tmp_path, api_port=port))
    await second.engine.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            diego = (await client.get("/api/agents/diego")).json()
    finally:
        await second.engine.stop(grace_s=1)
    # signed in again by the restarted engine (acd.dispatch.sign_ins), with today's count kept
    assert diego["handled_today"] == 1 and diego["state"] == "available"
