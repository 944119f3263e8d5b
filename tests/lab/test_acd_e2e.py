"""The ACD end to end: sipp callers through the IVR into queues, sipp agents answering."""

from __future__ import annotations

import asyncio

import pytest

from acd.lab.sipp import AwaitHangup, Hangup, Wait
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab


async def test_call_reaches_the_most_proficient_agent_and_connects(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana", "bruno"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.5, talk_s=2)
        bruno = await sipp.start_agent("bruno", lab.agent_port(2), answer_after_s=0.5, talk_s=2, timeout_s=20)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("300", "56911110000")])
        completed = await wait_for(sink, lambda e: e.type == "call.completed", 30)
        assert completed.agent_id == "ana" and completed.queue == "compradores"
        call_id = completed.call_id
        answered = of_type(sink, "call.answered", call_id)[0]
        assert answered.agent_id == "ana" and answered.data["waited_s"] < 5
        assert [e.agent_id for e in of_type(sink, "call.agent_ringing", call_id)] == ["ana"]
        agent_result = await ana.wait(20)
        caller_result = await caller.wait(20)
        await bruno.stop()
    assert agent_result.ok, agent_result.describe()
    assert caller_result.ok, caller_result.describe()


async def test_ring_no_answer_pauses_agent_and_next_agent_gets_the_call(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana", "bruno"]) as (app, sink):
        ana = await sipp.start_agent("ana-away", lab.agent_port(1), answer=False)
        bruno = await sipp.start_agent("bruno", lab.agent_port(2), answer_after_s=0.3, talk_s=2)
        caller = await sipp.start_callers("caller", [AwaitHangup(40)], calls=[("300", "56922220000")])
        rona = await wait_for(sink, lambda e: e.type == "call.ring_no_answer", 20)
        assert rona.agent_id == "ana"
        paused = await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "ana" and e.data["state"] == "paused")
        assert paused.data["reason"] == "no-answer"
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        assert answered.agent_id == "bruno" and answered.call_id == rona.call_id
        queued = of_type(sink, "call.queued", rona.call_id)[0]
        requeued = of_type(sink, "call.requeued", rona.call_id)[0]
        assert requeued.data["wait_origin"] == queued.data["wait_origin"]  # keeps its original wait
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await ana.wait(10), await bruno.wait(20), await caller.wait(20)]
    assert results[1].ok and results[2].ok, [r.describe() for r in results]


async def test_caller_abandoning_while_waiting_is_recorded(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=[]) as (app, sink):
        caller = await sipp.start_callers("impatient", [Wait(3), Hangup()], calls=[("300", "56933330000")])
        abandoned = await wait_for(sink, lambda e: e.type == "call.abandoned", 20)
        assert abandoned.queue == "compradores" and 1.5 < abandoned.data["waited_s"] < 5
        result = await caller.wait(20)
        assert app.router.waiting_count() == 0
    assert result.ok, result.describe()
