"""Routing hot reload on the real lab: a saved routing file reaches the running engine
while callers wait and agents talk — no restart, no outage, no call cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.lab.sipp import AwaitHangup
from tests.lab.acd_fixtures import ROUTING, of_type, running_app, wait_for

pytestmark = pytest.mark.lab

BRUNO = "  - {id: bruno,  name: Bruno,  endpoint: PJSIP/agent2, skills: {compradores: 6}}\n"
ELENA = "  - {id: elena,  name: Elena,  endpoint: PJSIP/agent5, skills: {compradores: 5}}\n"


async def test_a_saved_routing_file_adds_and_removes_agents_while_calls_wait_and_talk(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["bruno"]) as (app, sink):
        routing = tmp_path / "routing.yaml"
        bruno = await sipp.start_agent("bruno", lab.agent_port(2), calls=1, answer_after_s=0.3, talk_s=10)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56911110001")])
        talking = await wait_for(sink, lambda e: e.type == "call.answered" and e.agent_id == "bruno", 20)
        second = await sipp.start_callers("second", [AwaitHangup(40)], calls=[("300", "56911110002")])
        waiting = await wait_for(sink, lambda e: e.type == "call.queued" and e.call_id != talking.call_id, 20)

        routing.write_text(ROUTING.replace(BRUNO, ELENA))  # bruno leaves, elena joins: saved while both calls are live
        reloaded = await wait_for(sink, lambda e: e.type == "routing.reloaded", 10)
        assert reloaded.data["changes"]["agents_added"] == ["elena"] and reloaded.data["changes"]["agents_removed"] == ["bruno"]
        assert app.router.agent("bruno").state == "on_call"  # type: ignore[union-attr]  # the call is never cut

        elena = await sipp.start_agent("elena", lab.agent_port(5), calls=1, answer_after_s=0.3, talk_s=2)
        app.dispatcher.agent_login("elena")
        answered = await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id == waiting.call_id, 20)
        assert answered.agent_id == "elena" and answered.data["waited_s"] > 1  # kept its wait from before the reload

        gone = await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "logged_out", 30)
        assert gone.data["reason"] == "removed" and app.router.agent("bruno") is None
        completed = of_type(sink, "call.completed", talking.call_id)
        assert [e.agent_id for e in completed] == ["bruno"]  # bruno finished the call he had

        routing.write_text(ROUTING.replace(BRUNO, ELENA).replace("skills: {compradores: 5}", "skills: {ventas: 5}"))
        rejected = await wait_for(sink, lambda e: e.type == "routing.rejected", 10)
        assert rejected.data["problems"][0].startswith(f"{routing}:") and "ventas" in rejected.data["problems"][0]
        assert app.router.agent("elena") is not None  # the previous routing keeps serving

        results = [await first.wait(30), await second.wait(30), await bruno.wait(30), await elena.wait(30)]
    assert all(result.ok for result in results), [result.describe() for result in results]
    assert [e.type for e in sink.events if e.type.startswith("engine.")].count("engine.started") == 1  # no restart
    assert not of_type(sink, "call.abandoned")
