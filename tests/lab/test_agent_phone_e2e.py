"""Agents at their own phone on the real lab: feature codes log in, pause with a reason and
unpause; the agent's lamp (a Custom device state behind a hint) follows; calls follow too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.lab.sipp import AwaitHangup
from tests.lab.acd_fixtures import ROUTING, of_type, running_app, wait_for

pytestmark = pytest.mark.lab

WITH_REASONS = ROUTING + "pause_reasons: {1: almuerzo, 2: capacitacion}\n"


async def _lamp(app, agent_id: str) -> str:  # noqa: ANN001
    """What Asterisk says of the agent's lamp extension (through the dialplan's hint)."""
    reply = await app.engine.ami.action("ExtensionState", Exten=agent_id, Context="acd-agent-lamps")
    return reply.get("StatusText")


async def _dial_code(sipp, code: str, phone: str):  # noqa: ANN001, ANN202
    """The agent's own phone (its endpoint's name as From user) dials a feature code."""
    run = await sipp.start_callers(f"code-{code.strip('*')}", [AwaitHangup(15)], calls=[(code, phone)], from_user=phone)
    return await run.wait(20)


async def test_an_agent_logs_in_pauses_with_a_reason_and_unpauses_from_the_phone(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=WITH_REASONS) as (app, sink):
        await asyncio.sleep(0.5)  # the lamps' first write at AMI login
        assert await _lamp(app, "bruno") == "Unavailable"

        result = await _dial_code(sipp, "*45", "agent2")
        assert result.ok, result.describe()
        await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "available", 10)
        await asyncio.sleep(0.3)
        assert await _lamp(app, "bruno") == "Idle"

        phone = await sipp.start_agent("bruno", lab.agent_port(2), calls=2, answer_after_s=0.3, talk_s=1)
        first = await sipp.start_callers("first", [AwaitHangup(30)], calls=[("300", "56911110001")])
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        assert answered.agent_id == "bruno"  # logged in by phone, he takes calls
        await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "available"
                       and e.ts > answered.ts, 20)

        result = await _dial_code(sipp, "*461", "agent2")
        assert result.ok, result.describe()
        # (while the phone dials the code it is busy: the agent is paused "phone-busy" meanwhile, app_queue's ringinuse=no)
        paused = await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["reason"] == "almuerzo", 10)
        assert paused.data["state"] == "paused"
        await asyncio.sleep(0.3)
        assert await _lamp(app, "bruno") == "Hold"

        second = await sipp.start_callers("second", [AwaitHangup(40)], calls=[("300", "56911110002")])
        queued = await wait_for(sink, lambda e: e.type == "call.queued" and e.call_id != answered.call_id, 20)
        await asyncio.sleep(3)
        assert not of_type(sink, "call.agent_ringing", queued.call_id)  # a paused agent is not rung

        result = await _dial_code(sipp, "*47", "agent2")
        assert result.ok, result.describe()
        second_answer = await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id == queued.call_id, 20)
        assert second_answer.agent_id == "bruno"

        refused = await _dial_code(sipp, "*469", "agent2")  # no reason 9 in the routing file: error tone, nothing changes
        assert refused.ok, refused.describe()

        results = [await first.wait(30), await second.wait(30), await phone.wait(30)]
        assert all(r.ok for r in results), [r.describe() for r in results]
        reasons = [e.data.get("reason") for e in sink.events if e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "paused"]
        assert reasons.count("almuerzo") == 1 and set(reasons) <= {"almuerzo", "phone-busy"}  # the unknown reason paused nobody


async def test_a_supervisor_listens_then_barges_on_a_live_call_and_a_viewer_cannot(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    import httpx

    from acd.accounts.store import AccountStore
    from acd.api.http import create_api
    from acd.api.lag import LoopLagProbe
    from acd.api.tally import EventTally

    accounts = tmp_path / "accounts.sqlite"
    store = AccountStore(accounts)
    store.add("sofia", "Sofía Supervisora", "supervisor", "sofia-secreto-1", by="test")
    store.add("cliente", "Cliente", "viewer", "cliente-secreto-1", by="test")
    _, supervisor_token = store.issue_token("sofia", "test", by="test")
    _, viewer_token = store.issue_token("cliente", "test", by="test")

    async with running_app(lab, tmp_path) as (app, sink):  # no auto_login: bruno logs in from his phone
        logged_in = await _dial_code(sipp, "*45", "agent2")
        assert logged_in.ok, logged_in.describe()
        await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "available", 10)
        api = create_api(app, token="automation-token", tally=EventTally(app.stats.clock), lag=LoopLagProbe(), accounts=accounts)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(api), base_url="http://127.0.0.1")
        spies = app.engine.ami.subscribe("ChanSpyStart")
        agent = await sipp.start_agent("bruno", lab.agent_port(2), calls=1, answer_after_s=0.3, talk_s=12)
        supervisor_phone = await sipp.start_agent("sofia", lab.agent_port(6), calls=2, answer_after_s=0.3, talk_s=2)
        caller = await sipp.start_callers("caller", [AwaitHangup(40)], calls=[("300", "56911110003")])
        answered = await wait_for(sink, lambda e: e.type == "call.answered" and e.agent_id == "bruno", 20)

        refused = await client.post("/api/agents/bruno/monitor", json={"mode": "listen", "supervisor": "PJSIP/agent6"},
                                    headers={"authorization": f"Bearer {viewer_token}"})
        assert refused.status_code == 403  # a client viewer cannot start monitoring
        hostile = await client.post("/api/agents/bruno/monitor", json={"mode": "listen", "supervisor": "PJSIP/agent6,qB)\r\nAction: Hangup"},
                                    headers={"authorization": f"Bearer {supervisor_token}"})
        assert hostile.status_code == 422  # never reaches an AMI action

        for mode in ("listen", "barge"):
            response = await client.post("/api/agents/bruno/monitor", json={"mode": mode, "supervisor": "PJSIP/agent6"},
                                         headers={"authorization": f"Bearer {supervisor_token}"})
            assert response.status_code == 200, response.text
            assert response.json()["call_id"] == answered.call_id
            spy = await spies.get(15)
            assert spy.get("SpyeeChannel", "").startswith("PJSIP/agent2-"), dict(spy)
            assert spy.get("SpyerChannel", "").startswith("PJSIP/agent6-"), dict(spy)
            await asyncio.sleep(3)  # the supervisor's phone hangs up after 2 s of spying
        audit = [e for e in sink.events if e.type == "supervisor.monitor"]
        assert [(e.data["mode"], e.data["by"], e.call_id) for e in audit] == [("listen", "sofia", answered.call_id), ("barge", "sofia", answered.call_id)]
        spies.close()
        await client.aclose()
        results = [await caller.wait(40), await agent.wait(40), await supervisor_phone.wait(40)]
        assert all(r.ok for r in results), [r.describe() for r in results]


async def test_feature_codes_reach_the_standby_address_when_the_first_engine_cannot_be_reached(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    """A hot-standby pair (README "Hot standby"): the first AGI address dead, the code goes to the standby address."""
    from acd.lab.mosquitto import free_port

    async with running_app(lab, tmp_path) as (app, sink):
        ami = app.engine.ami
        ours = (await ami.action("Getvar", Variable="ACD_AGI")).get("Value")
        assert ours and ours.startswith("agi://"), ours
        dead = f"agi://127.0.0.1:{free_port()}"  # nobody listens: connection refused, AGISTATUS=FAILURE
        try:
            await ami.action("Setvar", Variable="ACD_AGI", Value=dead)
            await ami.action("Setvar", Variable="ACD_AGI_STANDBY", Value=ours)
            result = await _dial_code(sipp, "*45", "agent2")
            assert result.ok, result.describe()
            await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "available", 10)
        finally:
            await ami.action("Setvar", Variable="ACD_AGI", Value=ours)
            await ami.action("Setvar", Variable="ACD_AGI_STANDBY", Value="")
