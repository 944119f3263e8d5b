"""The event log on the real lab: acd report matches what sipp saw; MQTT carries the calls."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest

from acd.cli import main
from acd.lab.sipp import AwaitHangup, Hangup, Wait
from acd.metrics.live import report_rules
from acd.metrics.reports import compute_report
from acd.metrics.store import EventStore
from tests.lab.acd_fixtures import running_app, wait_for

pytestmark = pytest.mark.lab

ROUTING = """
timezone: America/Santiago
skills: [compradores, soporte]
queues:
  - {name: compradores, skills: [compradores], wrap_up_s: 1, ring_timeout_s: 5}
  - {name: soporte, skills: [soporte], wrap_up_s: 1, ring_timeout_s: 5, short_abandon_s: 5}
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {compradores: 9}}
"""

FLOWS = """
name: cola
numbers: ["300", "302"]
entry: elegir
nodes:
  elegir:
    type: branch
    on: dialed
    cases: [{equals: "300", next: compradores}]
    default: soporte
  compradores: {type: queue, queue: compradores, fallback: fin}
  soporte: {type: queue, queue: soporte, fallback: fin}
  fin: {type: hangup}
"""


async def assert_live_day_equals_report(live, config, tmp_path, queues: tuple[str, ...]) -> None:  # noqa: ANN001
    """The live day figures (queues and centre) equal ``compute_report`` over the SQLite log."""
    store = await EventStore.open(tmp_path / "acd.sqlite", create=False)
    try:
        logged = await store.report_events(live.day_start, live.day_end)
    finally:
        await store.close()
    by_queue = compute_report(logged, live.day_start, live.day_end, interval="day", by="queue", now=live.at, **report_rules(config))
    for name in queues:
        assert live.queues[name].day == by_queue.rows[0].groups[name], name
    assert live.center_day == by_queue.rows[0].figures


async def test_report_from_the_event_log_matches_what_sipp_saw(lab, sipp, tmp_path, capsys) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, flows=FLOWS, routing=ROUTING, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=3, answer_after_s=0.3, talk_s=1.0)
        answered = await sipp.start_callers("answered", [AwaitHangup(60)], calls=[("300", f"5691000000{i}") for i in range(3)], rate=2)
        patient = await sipp.start_callers("abandon", [Wait(8), Hangup()], calls=[("302", f"5692000000{i}") for i in range(2)], rate=2)
        hasty = await sipp.start_callers("short", [Wait(1.5), Hangup()], calls=[("302", "56930000000")])
        results = {name: await process.wait(60) for name, process in (("answered", answered), ("abandon", patient), ("short", hasty))}
        await ana.wait(30)
        await wait_for(sink, lambda e: e.type == "agent.state" and e.data["state"] == "available" and len([x for x in sink.events if x.type == "call.completed"]) == 3, 20)
        live = app.stats.snapshot(app.engine.clock())
        config = app.router.config
    # The wallboard's figures equal a report recomputed from the SQLite log at the same instant.
    await assert_live_day_equals_report(live, config, tmp_path, ("compradores", "soporte"))
    assert (live.center_day.offered, live.center_day.answered, live.center_day.abandoned) == (6, 3, 3)
    # What sipp saw: calls the engine ended (answered, the agent hung up) and calls the caller ended.
    assert results["answered"].successful == 3 and results["answered"].remote_byes == 3, results["answered"].describe()
    assert results["abandon"].successful == 2 and results["abandon"].remote_byes == 0
    assert results["short"].successful == 1 and results["short"].remote_byes == 0

    today = date.today()
    code = await asyncio.to_thread(main, [
        "report", "--db", str(tmp_path / "acd.sqlite"), "--interval", "day", "--format", "json",
        "--from", (today - timedelta(days=1)).isoformat(), "--to", (today + timedelta(days=2)).isoformat(),
        "--tz", "America/Santiago",
    ])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    total = report["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["short_abandons"]) == (6, 3, 3, 1)
    assert total["answered_within"] == 3
    # default formula: answered within 25 s / (offered - short abandons) = 3 / 5
    assert total["service_level"] == pytest.approx(60.0)
    # abandonment: (abandoned - short) / (offered - short) = 2 / 5
    assert total["abandonment_rate"] == pytest.approx(40.0)


async def test_events_reach_a_real_mqtt_broker_while_calls_flow(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    from acd.lab.mosquitto import Mosquitto  # the helper that starts a loopback broker

    import aiomqtt

    with Mosquitto() as broker:
        extra = f"mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: acd\n"
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("acd/#", qos=1)
            async with running_app(lab, tmp_path, flows=FLOWS, routing=ROUTING, auto_login=[], extra_yaml=extra) as (app, sink):
                caller = await sipp.start_callers("caller", [Wait(2), Hangup()], calls=[("300", "56940000000")])
                await caller.wait(20)
                await wait_for(sink, lambda e: e.type == "call.abandoned", 10)
                topics: list[str] = []
                stats: dict = {}
                async with asyncio.timeout(15):
                    async for message in client.messages:
                        topics.append(str(message.topic))
                        if str(message.topic) == "acd/default/queues/compradores/stats":
                            stats = json.loads(message.payload)
                        if any(t.endswith("/call.abandoned") for t in topics) and stats:
                            break
    call_topics = [t for t in topics if t.startswith("acd/default/calls/")]
    assert any(t.endswith("/call.queued") for t in call_topics)
    assert any(t.endswith("/call.abandoned") for t in call_topics)
    assert stats["name"] == "compradores"


async def test_a_restarted_engine_shows_the_calls_of_the_day_before_the_restart(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, flows=FLOWS, routing=ROUTING, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=1, answer_after_s=0.3, talk_s=0.5)
        caller = await sipp.start_callers("answered", [AwaitHangup(30)], calls=[("300", "56910000009")])
        await caller.wait(30)
        await ana.wait(20)
        await wait_for(sink, lambda e: e.type == "call.completed", 10)
        before = app.stats.snapshot(app.engine.clock()).queues["compradores"].day
    assert (before.offered, before.answered) == (1, 1)
    async with running_app(lab, tmp_path, flows=FLOWS, routing=ROUTING, auto_login=["ana"]) as (app, sink):
        live = app.stats.snapshot(app.engine.clock())
        config = app.router.config
    assert live.queues["compradores"].day.offered == 1 and live.queues["compradores"].day.answered == 1
    await assert_live_day_equals_report(live, config, tmp_path, ("compradores",))
