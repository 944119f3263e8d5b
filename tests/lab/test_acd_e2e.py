"""The ACD end to end: sipp callers through the IVR into queues, sipp agents answering."""

from __future__ import annotations

import asyncio
import re

import pytest

from acd.lab.sipp import AwaitHangup, Hangup, Wait
from tests.lab.acd_fixtures import QUEUE_FLOWS, ROUTING, of_type, running_app, wait_for

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


async def test_expansion_accepts_a_low_proficiency_agent_after_the_timeout(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["carla"]) as (app, sink):
        carla = await sipp.start_agent("carla", lab.agent_port(3), answer_after_s=0.3, talk_s=1)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("300", "56911112222")])
        ringing = await wait_for(sink, lambda e: e.type == "call.agent_ringing", 20)
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await carla.wait(10), await caller.wait(10)]
    assert ringing.agent_id == "carla"
    assert 4.0 <= ringing.data["waited_s"] < 6.0  # proficiency 2 only after the 4 s expansion step
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_overflow_moves_the_call_to_another_queue_after_max_wait(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["diego"]) as (app, sink):
        diego = await sipp.start_agent("diego", lab.agent_port(4), answer_after_s=0.3, talk_s=1)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("301", "56911113333")])
        overflowed = await wait_for(sink, lambda e: e.type == "call.overflowed", 20)
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        results = [await diego.wait(15), await caller.wait(15)]
    assert overflowed.queue == "proveedores" and overflowed.data["to_queue"] == "general"
    assert answered.agent_id == "diego" and answered.queue == "general" and answered.data["waited_s"] >= 4.0
    assert all(r.ok for r in results), [r.describe() for r in results]


SKILLS_ONLY_FLOWS = QUEUE_FLOWS.replace("proveedores: {type: queue, queue: proveedores, fallback: fin}", "proveedores: {type: queue, skills: [proveedores], fallback: fin}")


async def test_queue_node_naming_only_skills_reaches_an_agent_with_those_skills(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    # The IVR runner used to blank ACD_QUEUE after the dispatcher resolved it: the caller
    # was parked in queue "" and never routed (acd.channel_variables: one writer each).
    assert "skills: [proveedores]" in SKILLS_ONLY_FLOWS
    async with running_app(lab, tmp_path, flows=SKILLS_ONLY_FLOWS, auto_login=["carla"]) as (app, sink):
        carla = await sipp.start_agent("carla", lab.agent_port(3), answer_after_s=0.3, talk_s=1)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("301", "56911118888")])
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await carla.wait(10), await caller.wait(10)]
    assert (answered.agent_id, answered.queue) == ("carla", "proveedores")
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_wrap_up_ends_by_itself_and_the_agent_is_available_again(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("300", "56911114444")])
        completed = await wait_for(sink, lambda e: e.type == "call.completed", 20)
        wrap = await wait_for(sink, lambda e: e.type == "agent.state" and e.data["state"] == "wrap_up")
        free = await wait_for(sink, lambda e: e.type == "agent.state" and e.data["state"] == "available" and e.ts > wrap.ts)
        await ana.wait(10), await caller.wait(10)
    assert wrap.agent_id == free.agent_id == "ana"
    assert free.ts - wrap.ts == pytest.approx(2.0, abs=0.05)  # the queue's wrap_up_s, timed by the router's deadline
    assert completed.data["talk_s"] >= 0.5


async def test_ami_dropped_and_restored_while_a_call_waits_loses_nothing(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=[]) as (app, sink):
        caller = await sipp.start_callers("caller", [AwaitHangup(40)], calls=[("300", "56911115555")])
        queued = await wait_for(sink, lambda e: e.type == "call.queued", 20)
        app.engine.ami.abort_connection()
        await wait_for(sink, lambda e: e.type == "ami.disconnected")
        await wait_for(sink, lambda e: e.type == "ami.connected" and e.ts > queued.ts, 20)
        assert app.dispatcher.counters.resyncs >= 2 and app.router.waiting_count("compradores") == 1
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1)
        app.dispatcher.agent_login("ana")
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        results = [await ana.wait(10), await caller.wait(10)]
    assert answered.call_id == queued.call_id
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_engine_restart_finds_parked_callers_and_requeues_them_with_their_wait(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    caller = await sipp.start_callers("caller", [AwaitHangup(60)], calls=[("300", "56911116666")])
    async with running_app(lab, tmp_path, auto_login=[]) as (first_app, first_sink):
        queued = await wait_for(first_sink, lambda e: e.type == "call.queued", 20)
    # The engine is down now; the caller is still in the holding context with music.
    await asyncio.sleep(1.0)
    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1)
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (second_app, second_sink):
        # the log already holds the call as queued: back at its place, not a second offer
        requeued = await wait_for(second_sink, lambda e: e.type == "call.requeued" and e.data.get("reason") == "resync", 20)
        answered = await wait_for(second_sink, lambda e: e.type == "call.answered", 20)
        results = [await ana.wait(10), await caller.wait(10)]
    assert requeued.call_id == queued.call_id
    assert requeued.data["wait_origin"] == pytest.approx(queued.data["wait_origin"], abs=0.01)
    assert second_app.dispatcher.counters.requeued_on_resync == 1
    assert answered.data["waited_s"] >= 1.0
    assert all(r.ok for r in results), [r.describe() for r in results]


DEVICE_ROUTING = ROUTING.replace(
    "  - {id: diego,  name: Diego,  endpoint: PJSIP/agent4, skills: {general: 8}}",
    "  - {id: diego,  name: Diego,  endpoint: PJSIP/agent4, skills: {general: 8}}\n"
    "  - {id: hugo,   name: Hugo,   endpoint: PJSIP/agent8, skills: {compradores: 9}}",
)


async def test_agent_whose_phone_is_unreachable_is_paused_and_unpaused_when_it_answers_again(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    # agent8's phone is qualified by Asterisk every second: no phone there means UNAVAILABLE.
    async with running_app(lab, tmp_path, routing=DEVICE_ROUTING, auto_login=["hugo"]) as (app, sink):
        paused = await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "hugo" and e.data["state"] == "paused", 15)
        assert paused.data["reason"] == "unreachable"
        hugo = await sipp.start_agent("hugo", lab.agent_port(8), answer_after_s=0.3, talk_s=1, answers_options=True, timeout_s=60)
        back = await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "hugo" and e.data["state"] == "available" and e.ts > paused.ts, 15)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("300", "56911117777")])
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await caller.wait(15)]
        phone = await hugo.stop()
    assert back.data["previous"] == "paused"
    answered_options = re.findall(r"message sent[^\n]*\n\nSIP/2\.0 200 OK\n(?:[^\n]+\n)*?CSeq: \d+ OPTIONS", phone.messages)
    assert len(answered_options) >= 2, phone.describe()  # the phone answered Asterisk's qualify
    assert answered.agent_id == "hugo"
    assert all(r.ok for r in results), [r.describe() for r in results]
