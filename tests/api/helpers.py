"""A real ``App`` (``build_app``) with a fake call control, in-process or served by uvicorn.

The fake call control (``acd.dispatch.testing``) records what the dispatcher asks
Asterisk to do and never reports anything by itself; tests feed call-control facts (``Parked``,
``AgentAnswered`` ...) straight into ``app.dispatcher.handle``, as the AMI adapter would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any, Callable

from acd.lab.ports import free_port
from acd.app import App, build_app
from acd.asterisk.call_control import AgentAnswered, Parked
from acd.dispatch.testing import FakeCallControl
from acd.engine import MemorySink
from acd.settings import (
    AgiSettings,
    ApiSettings,
    CallbackSettings,
    IvrSettings,
    MetricsSettings,
    RecordingSettings,
    RoutingSettings,
    Settings,
)
from tests.lab.acd_fixtures import QUEUE_FLOWS

TOKEN = "test-token-0123456789abcdef"

# Like the lab's ROUTING, but general's 10 s threshold and 0.8 target make "under target"
# easy to reach: one caller who waited a minute is enough.
ROUTING = """
timezone: America/Santiago
skills: [compradores, proveedores, general]
queues:
  - name: compradores
    skills: [compradores]
    wrap_up_s: 2
    ring_timeout_s: 30
  - name: proveedores
    skills: [proveedores]
    wrap_up_s: 2
    ring_timeout_s: 30
  - name: general
    skills: [general]
    service_level: {threshold_s: 10, target: 0.8}
    wrap_up_s: 2
    ring_timeout_s: 30
agents:
  - {id: ana,    name: Ana,    endpoint: PJSIP/agent1, skills: {compradores: 9}}
  - {id: bruno,  name: Bruno,  endpoint: PJSIP/agent2, skills: {compradores: 6, general: 5}}
  - {id: carla,  name: Carla,  endpoint: PJSIP/agent3, skills: {compradores: 2, proveedores: 8}}
  - {id: diego,  name: Diego,  endpoint: PJSIP/agent4, skills: {general: 8}}
"""


def make_settings(tmp_path: Path, *, token: str | None = TOKEN, api_port: int = 8573, enabled: bool = True, auto_login: tuple[str, ...] = ()) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "cola.yaml").write_text(QUEUE_FLOWS)
    (tmp_path / "routing.yaml").write_text(ROUTING)
    return Settings(
        agi=AgiSettings(port=free_port()),
        ivr=IvrSettings(flows_dir=flows),
        routing=RoutingSettings(config=tmp_path / "routing.yaml", auto_login=list(auto_login)),
        metrics=MetricsSettings(database=tmp_path / "acd.sqlite"),
        callbacks=CallbackSettings(database=tmp_path / "callbacks.sqlite"),
        recording=RecordingSettings(local_dir=tmp_path / "recordings"),
        api=ApiSettings(enabled=enabled, port=api_port, token=token),  # type: ignore[arg-type]
    )


def assemble(settings: Settings) -> tuple[App, FakeCallControl, MemorySink]:
    app = build_app(settings)
    control = FakeCallControl()
    app.dispatcher.control = control
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    return app, control, sink


def park(app: App, call_id: str, queue: str, *, waited_s: float = 0.0, priority: int | None = None) -> None:
    """A caller reaches the holding context after waiting ``waited_s`` already."""
    app.dispatcher.handle(Parked(call_id=call_id, channel=f"PJSIP/caller-{call_id}", queue=queue, wait_origin=time.time() - waited_s, priority=priority))


async def settle() -> None:
    """Let the dispatcher's queued AMI actions (tasks) run."""
    for _ in range(5):
        await asyncio.sleep(0)


def answer(app: App, call_id: str) -> None:
    app.dispatcher.handle(AgentAnswered(call_id=call_id, agent_channel="PJSIP/agent"))


class EngineThread:
    """The whole engine (FastAGI, event store, API on uvicorn) on its own loop in a thread.

    The CLI is synchronous, so the engine it talks to must run elsewhere; ``call``
    runs a function on the engine's loop (the only place the router may be touched).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app, self.control, self.sink = assemble(settings)
        self.url = f"http://127.0.0.1:{settings.api.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="engine", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.app.engine.start()
            except BaseException as exc:
                self._error = exc
                self._started.set()
                return
            self._started.set()
            await self._stop.wait()
            await self.app.engine.stop(grace_s=1)

        asyncio.run(run())

    def start(self) -> "EngineThread":
        self._thread.start()
        self._started.wait(20)
        if self._error is not None:
            raise self._error
        return self

    def call(self, function: Callable[[], Any]) -> Any:
        assert self._loop is not None

        async def on_loop() -> Any:
            return function()

        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(on_loop(), self._loop)
        return future.result(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
        assert not self._thread.is_alive(), "engine thread did not stop"
