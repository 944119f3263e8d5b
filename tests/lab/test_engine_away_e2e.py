"""No caller lost while the engine is away: Asterisk holds new callers with music and tries
the engine again; past the hold time its own Queue() serves them with the same agents."""

from __future__ import annotations

import asyncio
import time

import pytest

from acd.lab.sipp import AwaitHangup, Hangup, Wait
from acd.metrics.store import EventStore
from tests.lab.acd_fixtures import running_app, wait_for

pytestmark = pytest.mark.lab

AWAY = "continuity:\n  hold_callers_s: {hold}\n  retry_engine_s: 1\n  away_message: ''\n"


async def test_a_caller_arriving_while_the_engine_is_down_is_held_and_routed_when_it_returns(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=[], extra_yaml=AWAY.format(hold=60)) as (app, sink):
        await wait_for(sink, lambda e: e.type == "ami.connected", 20)  # Asterisk now knows the plan
    # No engine: before, the caller heard "unavailable" and was hung up.
    caller = await sipp.start_callers("held", [AwaitHangup(60)], calls=[("300", "56911110010")])
    await asyncio.sleep(3.0)
    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1, timeout_s=40)
    async with running_app(lab, tmp_path, auto_login=["ana"], extra_yaml=AWAY.format(hold=60)) as (app, sink):
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        started = [e for e in sink.events if e.type == "call.started" and e.call_id == answered.call_id]
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await caller.wait(20), await ana.wait(20)]
    assert answered.agent_id == "ana" and len(started) == 1
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_past_the_hold_time_the_fallback_queue_serves_the_caller_with_the_acd_agents(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana"], extra_yaml=AWAY.format(hold=2)) as (app, sink):
        await wait_for(sink, lambda e: e.type == "ami.connected", 20)
        members = await _fallback_members(app)
        assert members == {"PJSIP/agent1": "ana"}  # the logged-in agent, kept in app_queue's queue
    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1, timeout_s=40)
    caller = await sipp.start_callers("fallback", [AwaitHangup(60)], calls=[("300", "56911110011")])
    results = [await caller.wait(40), await ana.wait(40)]
    assert all(r.ok for r in results), [r.describe() for r in results]
    queue_log = (lab.log_dir / "queue_log").read_text()
    assert "|acd-fallback|" in queue_log and "|CONNECT|" in queue_log  # app_queue's own record of the call


async def test_calls_asterisk_handled_alone_while_the_engine_was_away_are_counted_once(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    """One caller served by the fallback queue, one who gave up waiting in it: both in the record, once."""
    away = AWAY.format(hold=2) + f"  cel_database: {lab.log_dir / 'cel.db'}\n"
    async with running_app(lab, tmp_path, auto_login=["ana"], extra_yaml=away) as (app, sink):
        await wait_for(sink, lambda e: e.type == "ami.connected", 20)
        assert await _fallback_members(app) == {"PJSIP/agent1": "ana"}
    began = time.time()  # the lab's CEL file also holds earlier tests' away calls: they are logged too, and left out here
    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=8, timeout_s=60)
    served = await sipp.start_callers("served", [AwaitHangup(60)], calls=[("300", "56911110012")])
    await asyncio.sleep(1.0)
    gave_up = await sipp.start_callers("gave-up", [Wait(6), Hangup()], calls=[("300", "56911110013")])  # ana is busy talking
    results = [await served.wait(60), await ana.wait(60), await gave_up.wait(60)]
    assert all(r.ok for r in results), [r.describe() for r in results]

    def away_events(events) -> list:  # noqa: ANN001
        ours = {e.call_id for e in events if e.type == "call.queued" and e.ts >= began}
        return [e for e in events if e.data.get("reconciled") == "away" and e.call_id in ours]

    async with running_app(lab, tmp_path, auto_login=["ana"], extra_yaml=away) as (app, sink):
        await wait_for(sink, lambda e: e.type == "call.abandoned" and e.data.get("reconciled") == "away" and e.ts >= began, 20)
        await wait_for(sink, lambda e: e.type == "call.completed" and e.data.get("reconciled") == "away" and e.ts >= began, 20)
        first = away_events(sink.events)
    kinds = sorted(e.type for e in first)
    assert kinds == ["call.abandoned", "call.answered", "call.completed", "call.queued", "call.queued"], kinds
    answered = next(e for e in first if e.type == "call.answered")
    abandoned = next(e for e in first if e.type == "call.abandoned")
    assert answered.agent_id == "ana" and answered.queue == "acd-fallback" and answered.data["waited_s"] >= 1.5
    assert 3.0 <= abandoned.data["waited_s"] <= 8.0, abandoned.data  # held 2 s, then in Queue() until the hang-up at ~6 s

    async with running_app(lab, tmp_path, auto_login=["ana"], extra_yaml=away) as (app, sink):
        await wait_for(sink, lambda e: e.type == "ami.connected", 20)
        await asyncio.sleep(1.0)
        assert away_events(sink.events) == []  # read again, logged again: never
    async with await EventStore.open(tmp_path / "acd.sqlite", create=False) as store:
        stored = [e for e in await store.events(start=0, types=["call.queued", "call.answered", "call.completed", "call.abandoned"])]
    assert sorted(e.type for e in away_events(stored)) == kinds


async def _fallback_members(app) -> dict[str, str]:  # noqa: ANN001
    for _ in range(40):
        listed = await app.engine.ami.action_list("QueueStatus", Queue="acd-fallback")
        members = {m.get("StateInterface"): m.get("Name") for m in listed if m.name == "QueueMember"}
        if members:
            return members
        await asyncio.sleep(0.1)
    return {}
