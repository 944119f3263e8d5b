"""Routing hot reload through the assembled engine: a saved change reaches the router,
the dispatcher, the live figures and the waiting service; a bad edit is refused and the
previous routing keeps serving; both are events; the API and the CLI ask for it at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.api.conftest import InProcess
from tests.api.helpers import ROUTING, TOKEN, park


def save(inproc: InProcess, text: str) -> Path:
    path = Path(inproc.settings.routing.config)
    path.write_text(text)
    return path


async def test_a_saved_proficiency_rings_a_waiting_caller_without_a_restart(inproc: InProcess) -> None:
    app = inproc.app
    app.dispatcher.agent_login("diego")  # general only
    park(app, "c1", "compradores", waited_s=30)
    await asyncio.sleep(0)
    assert inproc.control.rings == []
    save(inproc, ROUTING.replace("skills: {general: 8}}", "skills: {general: 8, compradores: 4}}"))
    async with inproc.client() as api:
        answer = (await api.post("/api/routing/reload")).json()
    await asyncio.sleep(0.05)
    assert answer["status"] == "applied" and answer["changes"]["agents_changed"] == ["diego"]
    assert inproc.control.rings == [("c1", "diego")]
    [event] = [e for e in inproc.sink.events if e.type == "routing.reloaded"]
    assert event.data["changes"]["agents_changed"] == ["diego"] and event.data["version"] == answer["version"]
    snapshot = app.stats.snapshot(app.engine.clock())
    assert snapshot.queues["compradores"].agents.logged_in == 1  # diego now counts in compradores too


async def test_an_added_agent_and_queue_are_served_and_figures_cover_them(inproc: InProcess) -> None:
    app = inproc.app
    text = ROUTING.replace("skills: [compradores, proveedores, general]", "skills: [compradores, proveedores, general, reclamos]")
    text = text.replace("agents:\n", "  - name: reclamos\n    skills: [reclamos]\nagents:\n")
    text += "  - {id: elena,  name: Elena,  endpoint: PJSIP/agent5, skills: {reclamos: 7}}\n"
    save(inproc, text)
    result = app.routing_reload.check()  # type: ignore[union-attr]
    assert (result.status, result.changes["agents_added"], result.changes["queues_added"]) == ("applied", ["elena"], ["reclamos"])
    app.dispatcher.agent_login("elena")
    park(app, "c2", "reclamos")
    await asyncio.sleep(0.05)
    assert inproc.control.rings == [("c2", "elena")]
    assert "reclamos" in app.stats.snapshot(app.engine.clock()).queues
    assert app.waiting.announce_every_s("reclamos") is None  # type: ignore[union-attr]  # the waiting service knows it
    assert app.routing_reload.check().status == "unchanged"  # type: ignore[union-attr]  # a version is applied once


async def test_an_invalid_edit_is_refused_with_its_position_and_the_previous_routing_keeps_serving(inproc: InProcess) -> None:
    app = inproc.app
    path = save(inproc, ROUTING.replace("skills: {general: 8}}", "skills: {general: 8, ventas: 4}}"))
    async with inproc.client() as api:
        answer = (await api.post("/api/routing/reload")).json()
    assert answer["status"] == "rejected"
    assert answer["problems"][0].startswith(f"{path}:") and "ventas" in answer["problems"][0]
    [event] = [e for e in inproc.sink.events if e.type == "routing.rejected"]
    assert event.data["problems"] == answer["problems"]
    app.dispatcher.agent_login("diego")
    park(app, "c3", "general")
    await asyncio.sleep(0.05)
    assert inproc.control.rings == [("c3", "diego")]  # still the old file's routing


def test_routing_reload_from_the_command_line_reports_what_changed(engine, capsys) -> None:  # noqa: ANN001
    from acd.cli import main

    path = Path(engine.settings.routing.config)
    path.write_text(ROUTING + "  - {id: elena,  name: Elena,  endpoint: PJSIP/agent5, skills: {general: 7}}\n")
    code = main(["routing", "reload", "--url", engine.url, "--token", TOKEN])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("applied version ") and "agents added: elena" in out
    path.write_text("queues: [")
    code = main(["routing", "reload", "--url", engine.url, "--token", TOKEN])
    captured = capsys.readouterr()
    assert code == 1 and captured.out.startswith(f"{path}:") and "keeps the routing it had" in captured.err
