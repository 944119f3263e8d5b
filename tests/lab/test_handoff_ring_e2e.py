"""Routing at the IVR's hand-off, on a real Asterisk with sipp (acd.dispatch.handoff_routing).

A caller whose agent is free goes from its IVR session straight to the agent: Asterisk
never parks it (no ``AcdParked``) and the engine sends no ``Redirect``; CEL still records
that it queued (the userfield reconcile reads after a crash).  With every agent busy the
caller is parked and rung by ``Redirect`` once an agent is free, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import AsyncIterator

import pytest

from acd.lab.sipp import AwaitHangup
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab


@contextlib.asynccontextmanager
async def _user_events(app) -> AsyncIterator[list[str]]:  # noqa: ANN001
    """The names of the UserEvents Asterisk sends the engine while the block runs."""
    names: list[str] = []
    stop = asyncio.Event()

    async def listen() -> None:
        async with app.engine.ami.subscribe("UserEvent") as events:
            while not stop.is_set():
                try:
                    names.append((await events.get(timeout_s=0.2)).get("UserEvent"))
                except (asyncio.TimeoutError, TimeoutError):
                    continue

    listener = asyncio.ensure_future(listen())
    await asyncio.sleep(0.3)
    try:
        yield names
    finally:
        stop.set()
        await listener


def _cel_userfields(lab, uniqueid: str) -> set[str]:  # noqa: ANN001
    with sqlite3.connect(f"file:{lab.log_dir / 'cel.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT userfield FROM acd_cel WHERE uniqueid = ?", (uniqueid,)).fetchall()
    return {row[0] for row in rows if row[0]}


async def test_a_caller_with_a_free_agent_is_rung_from_the_ivr_without_parking_or_redirect(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (app, sink), _user_events(app) as user_events:
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=1)
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("300", "56911117777")])
        completed = await wait_for(sink, lambda e: e.type == "call.completed", 30)
        results = [await ana.wait(15), await caller.wait(15)]
        counters = app.dispatcher.counters
    assert all(r.ok for r in results), [r.describe() for r in results]
    assert completed.agent_id == "ana"
    assert (counters.rings_at_handoff, counters.rings_sent, counters.ring_errors) == (1, 1, 0)
    assert "AcdParked" not in user_events  # never parked
    queued = of_type(sink, "call.queued", completed.call_id)[0]
    # CEL knows it queued, where and since when, as for a parked caller (acd.dispatch.reconcile).
    assert _cel_userfields(lab, completed.call_id) == {f"compradores|{queued.data['wait_origin']:.3f}"}


async def test_a_caller_with_every_agent_busy_is_parked_and_rung_by_redirect_when_one_frees(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (app, sink), _user_events(app) as user_events:
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=3, calls=2)
        first = await sipp.start_callers("first", [AwaitHangup(30)], calls=[("300", "56911117001")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", [AwaitHangup(40)], calls=[("300", "56911117002")])
        completions = []
        for _ in range(2):
            completions.append(await wait_for(sink, lambda e: e.type == "call.completed" and e not in completions, 40))
        results = [await ana.wait(15), await first.wait(15), await second.wait(15)]
        counters = app.dispatcher.counters
    assert all(r.ok for r in results), [r.describe() for r in results]
    assert (counters.rings_at_handoff, counters.rings_sent) == (1, 2)  # the second by Redirect
    assert user_events.count("AcdParked") == 1
    waited = of_type(sink, "call.answered", completions[1].call_id)[0].data["waited_s"]
    assert waited > 1.5  # it waited for ana's first call to end
