"""Assemble the real engine (``acd.app.build_app``) against the test lab, with short timers."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable

from acd.app import App, build_app
from acd.engine import MemorySink
from acd.base.events import Event

QUEUE_FLOWS = """
name: cola
numbers: ["300", "301", "302"]
entry: elegir
nodes:
  elegir:
    type: branch
    on: dialed
    cases:
      - {equals: "300", next: compradores}
      - {equals: "301", next: proveedores}
    default: general
  compradores: {type: queue, queue: compradores, fallback: fin}
  proveedores: {type: queue, queue: proveedores, fallback: fin}
  general: {type: queue, queue: general, fallback: fin}
  fin: {type: hangup}
"""

ROUTING = """
timezone: America/Santiago
skills: [compradores, proveedores, general]
queues:
  - name: compradores
    skills: [compradores]
    wrap_up_s: 2
    ring_timeout_s: 4
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 4, min_proficiency: 1}
  - name: proveedores
    skills: [proveedores]
    wrap_up_s: 2
    ring_timeout_s: 4
    max_wait_s: 4
    overflow: general
  - name: general
    skills: [general]
    wrap_up_s: 2
    ring_timeout_s: 4
agents:
  - {id: ana,    name: Ana,    endpoint: PJSIP/agent1, skills: {compradores: 9}}
  - {id: bruno,  name: Bruno,  endpoint: PJSIP/agent2, skills: {compradores: 6}}
  - {id: carla,  name: Carla,  endpoint: PJSIP/agent3, skills: {compradores: 2, proveedores: 8}}
  - {id: diego,  name: Diego,  endpoint: PJSIP/agent4, skills: {general: 8}}
"""


@asynccontextmanager
async def running_app(
    lab,  # noqa: ANN001
    tmp_path: Path,
    *,
    flows: str = QUEUE_FLOWS,
    flows_dir: Path | None = None,
    routing: str = ROUTING,
    auto_login: list[str] | None = None,
    ivr_clock: Callable[[], float] | None = None,
    extra_yaml: str = "",
) -> AsyncIterator[tuple[App, MemorySink]]:
    """The real app on the test lab; ``flows_dir`` serves a folder, else ``flows`` as cola.yaml."""
    if flows_dir is None:
        flows_dir = tmp_path / "flows"
        flows_dir.mkdir(exist_ok=True)
        (flows_dir / "cola.yaml").write_text(flows)
    (tmp_path / "routing.yaml").write_text(routing)
    settings = lab.settings(tmp_path, flows_dir=flows_dir, routing_config=tmp_path / "routing.yaml", auto_login=auto_login or [], extra_yaml=extra_yaml)
    app = build_app(settings, ivr_clock=ivr_clock)
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(10)
        yield app, sink
    finally:
        await app.engine.stop(grace_s=2)


async def wait_for(sink: MemorySink, predicate: Callable[[Event], bool], timeout_s: float = 20.0) -> Event:
    """The first event matching ``predicate``, waiting for it if needed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        for event in sink.events:
            if predicate(event):
                return event
        if loop.time() > deadline:
            seen = [(e.type, e.agent_id, e.queue) for e in sink.events]
            raise AssertionError(f"no matching event within {timeout_s} s; saw {seen}")
        await asyncio.sleep(0.05)


def of_type(sink: MemorySink, type_: str, call_id: str | None = None) -> list[Event]:
    return [e for e in sink.events if e.type == type_ and (call_id is None or e.call_id == call_id)]
