"""A stop always ends: a component, sink or task that stalls is abandoned and named in the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd import engine as engine_module
from acd.engine import Engine
from acd.lab.ports import free_port
from acd.settings import AgiSettings, Settings


class _StallingSink:
    def __init__(self) -> None:
        self.events: list[object] = []

    def append(self, event: object) -> None:
        self.events.append(event)

    async def close(self) -> None:
        await asyncio.Event().wait()


class _FlushingSink(_StallingSink):
    closed = False

    async def close(self) -> None:
        self.closed = True


async def test_stalled_shutdown_step_sink_and_task_are_abandoned_and_named(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(engine_module, "SHUTDOWN_STEP_S", 0.2)
    engine = Engine(Settings(agi=AgiSettings(port=free_port(), key="test-agi-key-0123456789")))  # type: ignore[arg-type]  # a key: no agi-key file in the working folder
    flushing = _FlushingSink()
    engine.bus.sinks[:] = [flushing, _StallingSink()]  # the stalling one closes first

    async def stalled_component(_: Engine) -> None:
        await asyncio.Event().wait()

    released = asyncio.Event()

    async def stubborn_task() -> None:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue  # ignores its cancellation until the test releases it

    engine.on_shutdown(stalled_component)
    await engine.start()
    engine.spawn(stubborn_task(), "stubborn")
    with caplog.at_level(logging.ERROR, logger="acd.engine"):
        try:
            await asyncio.wait_for(engine.stop(grace_s=0.1), 10)
        finally:
            released.set()
    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert "stalled_component did not finish" in messages
    assert "background task stubborn ignored its cancellation" in messages
    assert "closing event sink _StallingSink did not finish" in messages
    assert flushing.closed, "the sinks after a stalled one are still flushed"
    assert [e.type for e in flushing.events][-1] == "engine.stopped"  # type: ignore[attr-defined]


async def test_a_failing_shutdown_step_is_logged_and_the_rest_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(Settings(agi=AgiSettings(port=free_port(), key="test-agi-key-0123456789")))  # type: ignore[arg-type]  # a key: no agi-key file in the working folder
    flushing = _FlushingSink()
    engine.bus.sinks.append(flushing)

    async def broken_component(_: Engine) -> None:
        raise RuntimeError("boom")

    engine.on_shutdown(broken_component)
    await engine.start()
    with caplog.at_level(logging.ERROR, logger="acd.engine"):
        await engine.stop(grace_s=0.1)
    assert any("broken_component failed" in record.getMessage() for record in caplog.records)
    assert flushing.closed
