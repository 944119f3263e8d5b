"""Continuity through faults on the real lab: an answer made while AMI is down, an engine
restarted while agents talk.  (The random-moment sweep is `acd bench faults`.)"""

from __future__ import annotations

import asyncio

import pytest

from acd.lab.sipp import AwaitHangup
from acd.metrics.store import EventStore
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab


async def resynced(app, count: int) -> None:  # noqa: ANN001
    """Wait until the dispatcher finished its ``count``-th resync (it follows the AMI login)."""
    for _ in range(100):
        if app.dispatcher.counters.resyncs >= count and not app.dispatcher._resyncing:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no resync #{count}: {app.dispatcher.counters}")


async def test_an_agent_answering_while_ami_is_down_keeps_the_caller_and_is_counted_answered(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana", "bruno"]) as (app, sink):
        # ana answers 2 s into the ring; AMI is cut as her phone starts ringing and stays
        # down for 6 s, past the queue's 4 s ring time-out.
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=2.0, talk_s=10, timeout_s=40)
        bruno = await sipp.start_agent("bruno", lab.agent_port(2), answer_after_s=0.3, talk_s=2, timeout_s=40)
        caller = await sipp.start_callers("caller", [AwaitHangup(40)], calls=[("300", "56911110001")])
        ringing = await wait_for(sink, lambda e: e.type == "call.agent_ringing", 20)
        assert ringing.agent_id == "ana"
        ami = app.engine.ami
        port, ami.port = ami.port, 9  # reconnecting fails (discard port, closed) until put back
        ami.abort_connection()
        await asyncio.sleep(6.0)
        ami.port = port
        back = await wait_for(sink, lambda e: e.type == "ami.connected" and e.ts > ringing.ts, 20)
        call_id = ringing.call_id
        await resynced(app, 2)
        assert app.router.call(call_id) is not None and app.router.call(call_id).state == "connected"
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == call_id, 30)
        results = [await ana.wait(20), await caller.wait(20)]
        await bruno.stop()
        [answered] = of_type(sink, "call.answered", call_id)
        assert answered.agent_id == "ana" and ringing.ts + 1.5 < answered.ts < back.ts  # its real time, in the gap
        assert app.dispatcher.counters.answers_found_on_resync == 1
        assert not of_type(sink, "call.ring_no_answer", call_id) and not of_type(sink, "call.requeued", call_id)
        assert [e.agent_id for e in of_type(sink, "call.agent_ringing", call_id)] == ["ana"]  # never rung to bruno
        assert app.router.agent("ana").state in ("wrap_up", "available")  # not paused for "no answer"
    assert completed.agent_id == "ana" and completed.data["talk_s"] >= 8
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_a_restarted_engine_keeps_talking_agents_busy_and_records_each_call_once(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=8, timeout_s=60)
    bruno = await sipp.start_agent("bruno", lab.agent_port(2), answer_after_s=0.3, talk_s=2, timeout_s=60)
    first_caller = await sipp.start_callers("first", [AwaitHangup(60)], calls=[("300", "56911110002")])
    async with running_app(lab, tmp_path, auto_login=["ana", "bruno"]) as (first_app, first_sink):
        answered = await wait_for(first_sink, lambda e: e.type == "call.answered", 20)
        assert answered.agent_id == "ana"
    # The engine is down; ana still talks.  A new engine starts with both agents logged in.
    async with running_app(lab, tmp_path, auto_login=["ana", "bruno"]) as (second_app, second_sink):
        await wait_for(second_sink, lambda e: e.type == "ami.connected", 20)
        await resynced(second_app, 1)
        assert second_app.router.agent("ana").state == "on_call"
        second_caller = await sipp.start_callers("second", [AwaitHangup(60)], calls=[("300", "56911110003")])
        rung = await wait_for(second_sink, lambda e: e.type == "call.agent_ringing", 20)
        assert rung.agent_id == "bruno"  # ana is on a call from before the restart
        completed = await wait_for(second_sink, lambda e: e.type == "call.completed" and e.call_id == answered.call_id, 30)
        await wait_for(second_sink, lambda e: e.type == "call.completed" and e.call_id == rung.call_id, 30)
        results = [await first_caller.wait(20), await second_caller.wait(20), await ana.wait(20), await bruno.wait(20)]
    assert completed.agent_id == "ana" and completed.data["talk_s"] >= 7
    async with await EventStore.open(tmp_path / "acd.sqlite") as store:
        events = await store.events(0, 1e12)
    per_call = [e.type for e in events if e.call_id == answered.call_id and e.type.startswith("call.") and e.type != "call.agent_ringing"]
    assert per_call.count("call.answered") == 1 and per_call.count("call.completed") == 1, per_call
    assert all(r.ok for r in results), [r.describe() for r in results]
