"""Several sites, one central broker: the documented mosquitto bridge (deploy/mqtt/site-bridge.conf) on real brokers.

Each site's engine publishes to its own broker; the bridge forwards ``acd/#`` to the
centre, where one subscriber sees every site apart (the site is the topic's second
level) with the queue stats still retained, and a cut of the link delays messages
without losing them.
"""

from __future__ import annotations

from acd.checkout import checkout_root
from acd.lab.mosquitto import Mosquitto
from acd.metrics.mqtt import MqttPublisher

from .mqtt_helpers import Subscriber
from .test_mqtt import call_event, eventually

def bridge_config(site: str, central: Mosquitto) -> list[str]:
    """The shipped example with its placeholders filled in, as an operator would."""
    text = (checkout_root() / "deploy" / "mqtt" / "site-bridge.conf").read_text(encoding="utf-8")
    text = text.replace("CENTRAL_HOST", central.host).replace("CENTRAL_PORT", str(central.port)).replace("SITE", site)
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def site_publisher(broker: Mosquitto, site: str) -> MqttPublisher:
    return MqttPublisher(port=broker.port, site=site, backoff_initial_s=0.05, backoff_max_s=0.3, timeout_s=5)


async def test_two_sites_reach_the_central_broker_apart_with_their_stats_retained() -> None:
    with Mosquitto() as central:
        with Mosquitto(extra_config=bridge_config("norte", central)) as norte, Mosquitto(extra_config=bridge_config("sur", central)) as sur:
            async with Subscriber(central.port) as centre:
                await eventually(lambda: len(centre.on("/bridge/state")) >= 2, 20)  # both links up
                async with site_publisher(norte, "norte") as a, site_publisher(sur, "sur") as b:
                    a.publish(call_event(1))
                    b.publish(call_event(2))
                    a.publish_stats("ventas", {"waiting": 3})
                    b.publish_stats("ventas", {"waiting": 7})
                    await eventually(lambda: len(centre.on("/calls/")) == 2 and len(centre.on("/stats")) == 2, 20)
            topics = {m.topic for m in centre.messages}
            assert {"acd/norte/calls/call-1/call.queued", "acd/sur/calls/call-2/call.queued"} <= topics
            async with Subscriber(central.port, "acd/+/queues/+/stats") as late:  # a wallboard opened later
                await eventually(lambda: len(late.messages) == 2, 20)
            assert {m.topic: m.json()["waiting"] for m in late.messages} == {"acd/norte/queues/ventas/stats": 3, "acd/sur/queues/ventas/stats": 7}
            assert all(m.retain for m in late.messages)


async def test_a_cut_link_delays_the_site_s_events_without_losing_them() -> None:
    central = Mosquitto()
    central.start()
    try:
        with Mosquitto(extra_config=bridge_config("norte", central)) as norte:
            async with site_publisher(norte, "norte") as publisher:
                async with Subscriber(central.port) as before:
                    publisher.publish(call_event(0))
                    await eventually(lambda: len(before.on("/calls/")) == 1, 20)
                central.stop()  # the WAN link (or the centre) goes down
                for n in range(1, 6):
                    publisher.publish(call_event(n))
                await eventually(lambda: publisher.published == 6)  # the site broker took them
                central.start()  # same port: the bridge reconnects by itself
                async with Subscriber(central.port, "acd/norte/calls/#") as after:
                    await eventually(lambda: len(after.messages) == 5, 60)
                assert sorted(m.json()["data"]["n"] for m in after.messages) == [1, 2, 3, 4, 5]
    finally:
        central.close()
