"""MqttPublisher against a real mosquitto: topics, QoS 1, retained stats, outages, overflow."""

from __future__ import annotations

import asyncio
import inspect

from acd.lab.mosquitto import Mosquitto
from acd.base.events import SCHEMA_VERSION, Event
from acd.metrics.mqtt import MqttPublisher, event_topic
from acd.settings import Settings

from .mqtt_helpers import Subscriber, TcpGate


async def eventually(condition, timeout_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.02)


def call_event(n: int) -> Event:
    return Event(type="call.queued", ts=1772456400.0 + n, call_id=f"call-{n}", queue="ventas", data={"n": n})


def fast(port: int, **options) -> MqttPublisher:
    return MqttPublisher(port=port, site="stgo", backoff_initial_s=0.05, backoff_max_s=0.3, timeout_s=5, **options)


def test_topic_tree_for_each_kind_of_event() -> None:
    topic = lambda e: event_topic("acd", "stgo", e)  # noqa: E731
    assert topic(Event(type="call.answered", ts=1, call_id="1712.44", agent_id="ana", queue="q")) == "acd/stgo/calls/1712.44/call.answered"
    assert topic(Event(type="survey.answer", ts=1, call_id="c/1+#")) == "acd/stgo/calls/c_1__/survey.answer"
    assert topic(Event(type="agent.state", ts=1, agent_id="ana", data={"state": "available"})) == "acd/stgo/agents/ana/state"
    assert topic(Event(type="engine.started", ts=1)) == "acd/stgo/engine/engine.started"
    assert topic(Event(type="ami.disconnected", ts=1)) == "acd/stgo/engine/ami.disconnected"
    assert topic(Event(type="recording.started", ts=1, agent_id="ana")) == "acd/stgo/agents/ana/recording.started"
    assert topic(Event(type="callback.failed", ts=1, queue="ventas")) == "acd/stgo/queues/ventas/callback.failed"


def test_settings_map_onto_the_publisher() -> None:
    settings = Settings.model_validate(
        {"site": "stgo", "mqtt": {"enabled": True, "host": "127.0.0.1", "port": 1884, "topic_prefix": "cc", "password": "s3cret", "buffer_limit": 7}}
    )
    publisher = MqttPublisher(**settings.mqtt.publisher_options(settings.site))
    assert (publisher.port, publisher.prefix, publisher.password, publisher.buffer_limit) == (1884, "cc", "s3cret", 7)
    assert publisher.topic_for(call_event(1)) == "cc/stgo/calls/call-1/call.queued"
    assert not inspect.iscoroutinefunction(MqttPublisher.publish)  # callers never await the broker
    publisher.append(call_event(2))  # usable directly as an EventBus sink
    assert publisher.buffered == 1 and publisher.published == 0


async def test_events_arrive_as_json_with_qos_1_under_their_topics(broker: Mosquitto) -> None:
    events = [
        call_event(1),
        Event(type="agent.state", ts=2.0, agent_id="ana", data={"state": "available", "previous": "paused"}),
        Event(type="engine.started", ts=3.0, data={"site": "stgo"}),
    ]
    async with Subscriber(broker.port) as sub:
        async with fast(broker.port) as publisher:
            for event in events:
                publisher.publish(event)
            await eventually(lambda: len([m for m in sub.messages if "/status" not in m.topic]) == 3 and publisher.published == 3)
            assert publisher.counters()["published"] == 3 and publisher.connected
    got = {m.topic: m for m in sub.messages}
    assert got["acd/stgo/calls/call-1/call.queued"].payload.decode() == events[0].to_json()
    assert got["acd/stgo/agents/ana/state"].json()["data"]["state"] == "available"
    assert got["acd/stgo/engine/engine.started"].json()["schema_version"] == SCHEMA_VERSION
    assert {m.qos for m in got.values()} == {1}
    assert Event.from_json(got["acd/stgo/calls/call-1/call.queued"].payload) == events[0]


async def test_queue_stats_are_retained_for_late_subscribers(broker: Mosquitto) -> None:
    async with fast(broker.port) as publisher:
        publisher.publish_stats("ventas", {"waiting": 4, "service_level": 81.5})
        await eventually(lambda: publisher.stats_published == 1)
    async with Subscriber(broker.port, "acd/stgo/queues/+/stats") as late:
        await eventually(lambda: len(late.messages) == 1)
    [message] = late.messages
    assert message.topic == "acd/stgo/queues/ventas/stats" and message.retain
    assert message.json() == {"service_level": 81.5, "waiting": 4}


async def test_broker_outage_buffers_without_blocking_and_delivers_after_restart(broker: Mosquitto) -> None:
    gate = TcpGate(broker.port)
    await gate.open()
    publisher = fast(gate.port)
    publisher.start()
    try:
        async with Subscriber(broker.port) as before:
            publisher.publish(call_event(0))
            await eventually(lambda: len(before.on("/calls/")) == 1)

        await gate.close()  # reconnect attempts are refused from now on...
        broker.stop()  # ...and the broker goes away under the open connection
        await eventually(lambda: not publisher.connected)
        for n in range(1, 6):
            assert publisher.publish(call_event(n)) is None  # returns at once, never raises
            assert publisher.buffered == n
        publisher.publish_stats("ventas", {"waiting": 1})
        publisher.publish_stats("ventas", {"waiting": 2})  # only the latest snapshot is kept
        assert publisher.counters() | {"connects": 0} == {
            "published": 1, "stats_published": 0, "dropped": 0, "buffered": 5, "connected": False, "connects": 0
        }

        broker.start()
        async with Subscriber(broker.port) as after:
            await gate.open()
            await eventually(lambda: len(after.on("/calls/")) == 5 and len(after.on("/stats")) == 1 and publisher.buffered == 0)
            assert [m.json()["data"]["n"] for m in after.on("/calls/")] == [1, 2, 3, 4, 5]
            assert after.on("/stats")[0].json() == {"waiting": 2}
        assert publisher.published == 6 and publisher.buffered == 0 and publisher.dropped == 0
        assert publisher.connected and publisher.connects == 2
    finally:
        await publisher.close()
        await gate.shutdown()


async def test_a_full_buffer_drops_the_oldest_events_and_counts_them(broker: Mosquitto) -> None:
    gate = TcpGate(broker.port)  # closed: the publisher cannot connect yet
    publisher = fast(gate.port, buffer_limit=3)
    publisher.start()
    try:
        for n in range(8):
            publisher.publish(call_event(n))
        assert (publisher.dropped, publisher.buffered, publisher.published) == (5, 3, 0)
        async with Subscriber(broker.port) as sub:
            await gate.open()
            await eventually(lambda: len(sub.on("/calls/")) == 3 and publisher.published == 3)  # PUBACKs may trail delivery
            assert [m.json()["data"]["n"] for m in sub.on("/calls/")] == [5, 6, 7]
        assert (publisher.dropped, publisher.buffered, publisher.published) == (5, 0, 3)
    finally:
        await publisher.close()
        await gate.shutdown()


async def test_status_topic_says_online_while_connected_and_offline_after_close(broker: Mosquitto) -> None:
    async with Subscriber(broker.port, "acd/stgo/status") as sub:
        async with fast(broker.port) as publisher:
            await eventually(lambda: publisher.connected and len(sub.messages) >= 1)
        await eventually(lambda: len(sub.messages) >= 2)
    assert [m.payload for m in sub.messages[:2]] == [b"online", b"offline"]
