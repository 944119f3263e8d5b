"""Several Asterisk servers under one engine: routing across nodes, node-tagged events, settings.

The dispatcher runs unchanged over :class:`acd.asterisk.nodes.MultiNodeCallControl`, here
over one in-memory call control per node; tests/lab/test_multinode_e2e.py proves the same
with two real Asterisk labs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.asterisk.ami import AmiError
from acd.asterisk.call_control import AgentAnswered, AgentLegStarted, AsteriskPicture, DeviceState, LegHungUp, Parked
from acd.asterisk.nodes import MultiNodeCallControl, trunk_dial
from acd.base.events import Event
from acd.dispatch import Dispatcher
from acd.dispatch.testing import FakeCallControl, picture_of
from acd.multinode import AgentNodes, check_agent_nodes, node_tagger
from acd.routing import Router, load_routing_text
from acd.settings import SettingsError, load_settings

ROUTING = """
skills: [general]
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {general: 5}}
  - {id: beto, name: Beto, endpoint: PJSIP/agent2, node: b, skills: {general: 9}}
queues: [{name: general, skills: [general], ring_timeout_s: 10}]
"""


class RefusingControl(FakeCallControl):
    """A node that does not hold the channel: Asterisk's "No such channel"."""

    async def return_to_hold(self, channel: str) -> None:
        raise AmiError("Redirect failed: Channel specified does not exist")


def two_nodes(a: FakeCallControl | None = None, b: FakeCallControl | None = None):  # noqa: ANN201
    config, problems = load_routing_text(ROUTING)
    assert config is not None, problems
    nodes = {"a": a or FakeCallControl(), "b": b or FakeCallControl()}

    router = Router(config)
    where = AgentNodes(lambda: router.config, "a")  # the engine's index, over the router's routing file
    control = MultiNodeCallControl(nodes, where.configured, where.of_device, {"a": "lab-a", "b": "lab-b"})  # type: ignore[arg-type]
    events: list[Event] = []
    tag = node_tagger(control)
    clock = [1000.0]
    dispatcher = Dispatcher(router=router, control=control, emit=lambda event: events.append(tag(event)), clock=lambda: clock[0])
    return control, nodes, dispatcher, events


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_caller_on_node_a_rings_the_agent_on_node_b_over_the_trunk_and_the_events_name_both_nodes() -> None:
    control, nodes, dispatcher, events = two_nodes()
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        dispatcher.agent_login("beto")
        await nodes["b"].put(DeviceState("PJSIP/agent2", "NOT_INUSE"))
        await nodes["a"].put(Parked("lab-a-1.1", "PJSIP/caller-0001", "general", 990.0, None))
        await settle()
        # beto (proficiency 9) is rung: one Redirect on node a, dialling node b's trunk
        assert nodes["a"].rings == [("lab-a-1.1", "beto")]
        assert nodes["a"].dialled == ["PJSIP/agent2@acd-node-b"]
        assert nodes["b"].rings == []
        # the answer and the hang-up are seen on node a's caller channel, as for a local agent
        await nodes["a"].put(AgentLegStarted("lab-a-1.1", "PJSIP/acd-node-b-0002", "lab-a-1.2"))
        await nodes["a"].put(AgentAnswered("lab-a-1.1", "PJSIP/acd-node-b-0002"))
        # node b's own legs of the same call (the trunk's inbound leg) are no call of the router's
        await nodes["b"].put(AgentAnswered("lab-b-7.1", "PJSIP/agent2-0001"))
        await nodes["a"].put(LegHungUp("lab-a-1.2", "PJSIP/acd-node-b-0002", "Normal Clearing"))
        await settle()
    finally:
        runner.cancel()
    answered = [e for e in events if e.type == "call.answered"]
    assert [(e.call_id, e.agent_id, e.data["asterisk_node"], e.data["agent_asterisk_node"]) for e in answered] == [("lab-a-1.1", "beto", "a", "b")]
    assert [e.data["asterisk_node"] for e in events if e.type == "call.completed"] == ["a"]
    assert {e.data.get("agent_asterisk_node", e.data["asterisk_node"]) for e in events if e.type == "agent.state"} == {"b"}  # the agent's phone
    assert dispatcher.counters.ignored_events == 1  # node b's answer of its trunk leg only


async def test_a_caller_and_an_agent_on_the_same_node_ring_the_phone_directly() -> None:
    control, nodes, dispatcher, events = two_nodes()
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        dispatcher.agent_login("beto")
        await nodes["b"].put(Parked("lab-b-3.1", "PJSIP/caller-0009", "general", 995.0, None))
        await settle()
    finally:
        runner.cancel()
    assert nodes["b"].dialled == ["PJSIP/agent2"] and nodes["a"].rings == []
    assert [e.data["asterisk_node"] for e in events if e.type == "call.queued"] == ["b"]
    assert all("agent_asterisk_node" not in e.data for e in events)


async def test_a_phone_state_counts_only_from_the_agents_own_node() -> None:
    control, nodes, dispatcher, events = two_nodes()
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        dispatcher.agent_login("beto")
        # node a knows no phone agent2 (or an unregistered one of that name): ignored
        await nodes["a"].put(DeviceState("PJSIP/agent2", "UNAVAILABLE"))
        await settle()
        assert dispatcher.router.agent("beto").state == "available"  # type: ignore[union-attr]
        await nodes["b"].put(DeviceState("PJSIP/agent2", "UNAVAILABLE"))
        await settle()
    finally:
        runner.cancel()
    assert dispatcher.router.agent("beto").state == "paused"  # type: ignore[union-attr]
    assert control.foreign_device_states == 1


async def test_an_action_on_a_channel_goes_to_the_node_that_holds_it() -> None:
    control, nodes, dispatcher, events = two_nodes(a=RefusingControl())
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        await nodes["b"].put(Parked("lab-b-4.1", "PJSIP/caller-0004", "general", 995.0, None))
        await settle()
    finally:
        runner.cancel()
    await control.return_to_hold("PJSIP/caller-0004")  # learned from the Parked fact
    await control.end_waiting("lab-b-9.9")  # never seen: its systemname names node b
    assert nodes["b"].holds == ["PJSIP/caller-0004"] and nodes["b"].ended == ["lab-b-9.9"]
    await control.return_to_hold("PJSIP/unknown-0001")  # unknown: each node in turn until one has it
    assert nodes["b"].holds[-1] == "PJSIP/unknown-0001"


async def test_resync_reads_every_node_and_keeps_each_phone_from_its_node() -> None:
    a = FakeCallControl(shown=AsteriskPicture((), (DeviceState("PJSIP/agent1", "NOT_INUSE"), DeviceState("PJSIP/agent2", "UNAVAILABLE"))))
    b = FakeCallControl(shown=AsteriskPicture(picture_of({"lab-b-5.1": "Up"}).channels, (DeviceState("PJSIP/agent2", "NOT_INUSE"),)))
    control, nodes, dispatcher, events = two_nodes(a, b)
    picture = await control.picture()
    assert [c.uniqueid for c in picture.channels] == ["lab-b-5.1"]
    assert sorted((d.device, d.state) for d in picture.devices) == [("PJSIP/agent1", "NOT_INUSE"), ("PJSIP/agent2", "NOT_INUSE")]
    assert control.node_of_call("lab-b-5.1") == "b"


async def test_resync_waits_until_every_node_is_connected() -> None:
    from acd.asterisk.nodes import NodesNotAllConnected

    control, nodes, dispatcher, events = two_nodes()
    control.connected = lambda name: name == "a"
    with pytest.raises(NodesNotAllConnected, match="node.s. b not connected yet"):
        await control.picture()


def test_only_a_plain_pjsip_endpoint_can_be_rung_across_nodes() -> None:
    assert trunk_dial("PJSIP/agent7", "east") == "PJSIP/agent7@acd-node-east"
    for endpoint in ("SIP/agent7", "PJSIP/agent7@carrier", "Local/7@ctx"):
        with pytest.raises(ValueError, match="plain PJSIP"):
            trunk_dial(endpoint, "east")


def write_settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acd.yaml"
    path.write_text(text)
    return path


def test_nodes_settings_take_each_secret_from_the_environment(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "node: a\nnodes:\n  - {name: lab-b, agi_port: 4574, ami: {port: 5039}}\n")
    settings = load_settings(path, environ={"ACD_NODE_LAB_B_AMI_SECRET": "s3cret"})
    (node,) = settings.nodes
    assert (node.name, node.ami.port, node.agi_port) == ("lab-b", 5039, 4574)
    assert node.ami.secret is not None and node.ami.secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_a_node_secret_for_no_node_is_a_warning_naming_the_variable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_settings(tmp_path, "nodes:\n  - {name: lab-b, agi_port: 4574}\n")
    settings = load_settings(path, environ={"ACD_NODE_LAB_C_AMI_SECRET": "s3cret"})
    assert settings.nodes[0].ami.secret is None
    assert "$ACD_NODE_LAB_C_AMI_SECRET: no node of that name" in caplog.text and "ACD_NODE_LAB_B_AMI_SECRET" in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node: a\nnodes:\n  - {name: a, agi_port: 4574}\n", "is the first node's name"),
        ("nodes:\n  - {name: b, agi_port: 4574}\n  - {name: B, agi_port: 4575}\n", "listed twice"),
        ("nodes:\n  - {name: b, agi_port: 4573}\n", "its own FastAGI address"),
        ("nodes:\n  - {name: 'b c', agi_port: 4574}\n", "nodes.0.name"),
    ],
)
def test_nodes_that_cannot_work_are_refused_with_a_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load_settings(write_settings(tmp_path, text), environ={})


def test_an_agent_on_an_unknown_node_is_named_with_its_file(tmp_path: Path) -> None:
    settings = load_settings(write_settings(tmp_path, "node: a\nnodes:\n  - {name: b, agi_port: 4574}\n"), environ={})
    config, _ = load_routing_text(ROUTING.replace("node: b", "node: c"))
    assert config is not None
    assert check_agent_nodes(config, settings, "routing.yaml") == [
        "routing.yaml: agent 'beto': node 'c' is not one of this engine's nodes (a, b)"
    ]
    config, _ = load_routing_text(ROUTING.replace("PJSIP/agent2", "SIP/agent2"))
    assert config is not None
    assert "only a plain PJSIP" in check_agent_nodes(config, settings, "routing.yaml")[0]


def test_a_routing_reload_naming_an_unknown_node_is_refused_before_anything_changes(tmp_path: Path) -> None:
    from acd.app import AppError, apply_routing

    settings = load_settings(write_settings(tmp_path, "node: a\nnodes:\n  - {name: b, agi_port: 4574}\n"), environ={})
    config, _ = load_routing_text(ROUTING.replace("node: b", "node: z"))
    assert config is not None
    with pytest.raises(AppError, match="agent 'beto': node 'z' is not one of this engine's nodes"):
        apply_routing(None, settings, config)  # type: ignore[arg-type]  # refused before the app is touched


def test_a_node_keeps_the_lamps_and_fallback_members_of_its_own_agents_only(tmp_path: Path) -> None:
    from acd.engine import MemorySink
    from acd.multinode import AgentsOfNode, agents_on_node

    settings = load_settings(write_settings(tmp_path, "node: a\nnodes:\n  - {name: b, agi_port: 4574}\n"), environ={})
    config, _ = load_routing_text(ROUTING)
    assert config is not None
    seen = MemorySink()
    on_b = AgentsOfNode(seen, agents_on_node(lambda: config, settings, "b"))
    for agent_id in ("ana", "beto", "nobody"):
        on_b.append(Event(type="agent.state", ts=1.0, agent_id=agent_id, data={"state": "available"}))
    on_b.append(Event(type="engine.started", ts=1.0))
    assert [(e.type, e.agent_id) for e in seen.events] == [("agent.state", "beto"), ("engine.started", None)]
    assert agents_on_node(lambda: config, settings, "a")("ana")  # no node: the first node


class CoreSettingsOnly:
    """An AMI client whose Asterisk answers CoreSettings with a systemname."""

    def __init__(self, systemname: str) -> None:
        self.systemname = systemname

    async def action(self, name: str, **fields: object) -> dict[str, str]:
        assert name == "CoreSettings"
        return {"SystemName": self.systemname}


async def test_each_nodes_systemname_is_read_at_login_and_a_missing_or_shared_one_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    from acd.multinode import learn_systemname

    control, nodes, dispatcher, events = two_nodes()
    control.systemnames = {}
    await learn_systemname(control, "a", CoreSettingsOnly("east-1"))  # type: ignore[arg-type]
    assert control.node_of_id("east-1-1700000000.5") == "a" and not caplog.records
    await learn_systemname(control, "b", CoreSettingsOnly("east-1"))  # type: ignore[arg-type]
    assert "systemname 'east-1' is also node a's" in caplog.text
    caplog.clear()
    await learn_systemname(control, "b", CoreSettingsOnly(""))  # type: ignore[arg-type]
    assert "node b: Asterisk has no systemname" in caplog.text and "b" not in control.systemnames


async def test_an_agent_moved_to_another_node_by_a_routing_reload_is_rung_there() -> None:
    control, nodes, dispatcher, events = two_nodes()
    config, _ = load_routing_text(ROUTING.replace(", node: b", ""))
    assert config is not None
    dispatcher.reconfigure(config)  # beto's phone is now on the first node
    runner = asyncio.ensure_future(dispatcher.run())
    try:
        dispatcher.agent_login("beto")
        await nodes["a"].put(Parked("lab-a-2.1", "PJSIP/caller-0002", "general", 995.0, None))
        await settle()
    finally:
        runner.cancel()
    assert nodes["a"].dialled == ["PJSIP/agent2"]


def test_an_ivr_event_keeps_its_flow_node_and_gains_its_asterisk_node() -> None:
    control, nodes, dispatcher, events = two_nodes()
    tag = node_tagger(control)
    ivr = tag(Event(type="ivr.node", ts=1.0, call_id="lab-b-8.1", data={"flow": "cola", "node": "elegir"}))
    assert (ivr.data["node"], ivr.data["asterisk_node"]) == ("elegir", "b")  # the call's node from its Uniqueid's systemname
    started = tag(Event(type="engine.started", ts=1.0, data={"site": "x"}))
    assert started.data == {"site": "x"}
    assert tag(Event(type="ami.connected", ts=1.0, data={})).data == {"asterisk_node": "a"}
