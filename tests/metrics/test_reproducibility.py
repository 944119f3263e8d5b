"""Figures recomputed from the SQLite log equal the figures of the events as appended."""

from __future__ import annotations

import asyncio
import random
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.base.events import Event
from acd.metrics.render import report_json
from acd.metrics.reports import compute_report
from acd.metrics.sla import evaluate_month
from acd.metrics.store import EventStore

from .factories import AGENT_STATES, QUEUES, SANTIAGO, WINDOW_S, CallSpec, call_sets, log_of

DAY = 86400.0


def busy_days(seed: int) -> list[Event]:
    """Three days of calls, agents changing state, an engine restart and an AMI blip."""
    rnd = random.Random(seed)
    first = datetime(2026, 3, 30, 0, 0, tzinfo=SANTIAGO).timestamp()  # spans the month end
    specs = []
    for i in range(400):
        outcome = rnd.choice(["answered", "answered", "answered", "abandoned", "waiting"])
        specs.append(
            CallSpec(
                call_id=f"c{i}",
                offered_ts=first + rnd.uniform(0, 3 * DAY),
                queue=rnd.choice(QUEUES),
                skills=tuple(rnd.sample(["es", "en", "pagos"], rnd.randint(0, 2))),
                outcome=outcome,
                wait_s=rnd.uniform(0, 90),
                overflow=rnd.choice(["none", "none", "overflow-only", "overflow-and-queued"]),
                final_queue="general",
                final_skills=("es",),
                ring_no_answer=rnd.random() < 0.2,
                completed=rnd.random() < 0.9,
                talk_s=rnd.uniform(20, 900),
                hold_s=rnd.choice([0.0, rnd.uniform(0, 120)]),
                wrap_s=rnd.choice([0.0, rnd.uniform(1, 60), None]),
                scores=tuple(rnd.randint(1, 5) for _ in range(rnd.randint(0, 2))),
                callback=outcome == "waiting" and rnd.random() < 0.5,
                callback_done=rnd.random() < 0.5,
            )
        )
    extra = [Event(type="engine.started", ts=first - 3600), Event(type="ami.connected", ts=first - 3599)]
    for agent in range(6):
        t = first - rnd.uniform(0, DAY)
        while t < first + 3 * DAY:
            extra.append(Event(type="agent.state", ts=t, agent_id=f"pool-{agent}", data={"state": rnd.choice(AGENT_STATES)}))
            t += rnd.expovariate(1 / 1800)
    stop = first + 1.4 * DAY
    extra += [
        Event(type="ami.disconnected", ts=first + 0.6 * DAY, data={"reason": "ping timeout"}),
        Event(type="ami.connected", ts=first + 0.6 * DAY + 700),
        Event(type="engine.stopped", ts=stop),
        Event(type="engine.started", ts=stop + 900),
        Event(type="ami.connected", ts=stop + 905),
    ]
    return log_of(specs, extra)


async def stored_copy(events: list[Event], path: Path) -> EventStore:
    store = await EventStore.open(path, batch_interval_s=0.05)
    for i, event in enumerate(events):
        store.append(event)
        if i % 500 == 0:
            await asyncio.sleep(0.06)  # let the background flusher write several batches
    await store.close()
    return await EventStore.open(path, create=False)


async def test_reports_from_the_log_equal_reports_from_the_appended_events(tmp_path: Path) -> None:
    events = busy_days(seed=7)
    store = await stored_copy(events, tmp_path / "acd.sqlite")
    now = datetime(2026, 11, 1, tzinfo=SANTIAGO).timestamp()
    try:
        day = datetime(2026, 3, 31, 0, 0, tzinfo=SANTIAGO).timestamp()
        for start, end, interval, by in [
            (day, day + DAY, "15", None),
            (day, day + DAY, "60", "queue"),
            (day - DAY, day + 2 * DAY, "day", "skill"),
            (day - DAY, day + 2 * DAY, "month", None),
        ]:
            live = compute_report(events, start, end, interval=interval, by=by, now=now)
            replayed = compute_report(await store.report_events(start, end), start, end, interval=interval, by=by, now=now)
            assert replayed == live
            assert report_json(replayed, SANTIAGO) == report_json(live, SANTIAGO)
            assert live.total.offered > 0 and live.total.agent_logged_in_s
        outages = []
        for month in (3, 4):
            start, end = (datetime(2026, m, 1, tzinfo=SANTIAGO).timestamp() for m in (month, month + 1))
            live_sla = evaluate_month(events, 2026, month, contract_start="2026-01", now=now)
            replayed_sla = evaluate_month(await store.report_events(start, end), 2026, month, contract_start="2026-01", now=now)
            assert replayed_sla == live_sla
            outages += live_sla.outages
        assert len(outages) == 2  # the AMI blip and the engine restart, both on 31 March
    finally:
        await store.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=call_sets(max_calls=15), interval=st.sampled_from(["15", "60", "day"]))
def test_any_generated_call_set_survives_the_round_trip(data, interval) -> None:
    anchor, specs = data
    events = log_of(specs)
    start, end = anchor, anchor + WINDOW_S

    async def replay() -> list[Event]:
        with tempfile.TemporaryDirectory() as folder:
            store = await stored_copy(events, Path(folder) / "acd.sqlite")
            try:
                return await store.report_events(start, end)
            finally:
                await store.close()

    stored = asyncio.run(replay())
    assert compute_report(stored, start, end, interval=interval, by="queue") == compute_report(
        events, start, end, interval=interval, by="queue"
    )
