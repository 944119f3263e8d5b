"""Assembly of several Asterisk servers under one engine (settings ``nodes:``).

The engine's own AMI client and FastAGI listener are the first node (``node:``, from the
``ami:``/``agi:`` sections); each entry of ``nodes:`` adds one AMI connection and one
FastAGI listener, started and stopped with the engine.  The dispatcher drives them all
through :class:`acd.asterisk.nodes.MultiNodeCallControl` (how a caller on one node reaches
an agent on another: see that module).  Every event about a call or an agent carries
``data.asterisk_node`` (and ``data.agent_asterisk_node`` when the agent's phone is on another node), so
reports over the one event log are merged by construction and can still be split by node.

With no ``nodes:`` nothing here runs: one machine works exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from acd.asterisk.agent_lamps import AgentLamps
from acd.asterisk.agi_key import AgiKeyGuard, publish_key
from acd.asterisk.ami import AmiClient
from acd.asterisk.call_control import AsteriskCallControl
from acd.asterisk.fastagi import FastAgiServer
from acd.asterisk.nodes import MultiNodeCallControl, trunk_dial
from acd.base.events import Event
from acd.engine import Engine, EventSink, bounded
from acd.features.engine_away import AwayPlan, FallbackMembers
from acd.routing import Router, RoutingConfig
from acd.settings import AmiSettings, Settings

log = logging.getLogger("acd.multinode")


class NodesError(Exception):
    """The routing file and the nodes do not fit together (an agent on an unknown node)."""


@dataclass
class ExtraNode:
    """One more Asterisk server: its AMI connection and the FastAGI listener its dialplan reaches."""

    name: str
    ami: AmiClient
    fastagi: FastAgiServer


def ami_client(ami: AmiSettings) -> AmiClient:
    return AmiClient(
        host=ami.host,
        port=ami.port,
        username=ami.username,
        secret=ami.secret.get_secret_value() if ami.secret else "",
        ping_interval_s=ami.ping_interval_s,
        ping_timeout_s=ami.ping_timeout_s,
        reconnect_initial_s=ami.reconnect_initial_s,
        reconnect_max_s=ami.reconnect_max_s,
        action_timeout_s=ami.action_timeout_s,
    )


class AgentNodes:
    """Agents' and phones' nodes from the routing file now (indexed once per loaded file:
    asked on every ring and every phone state)."""

    def __init__(self, config: Callable[[], RoutingConfig], first: str) -> None:
        self._config, self._first = config, first
        self._indexed: RoutingConfig | None = None
        self._agents: dict[str, str | None] = {}
        self._devices: dict[str, str] = {}

    def _index(self) -> None:
        config = self._config()
        if config is not self._indexed:
            self._agents = {agent.id: agent.node for agent in config.agents}
            self._devices = {agent.endpoint: agent.node or self._first for agent in config.agents}
            self._indexed = config

    def configured(self, agent_id: str) -> str | None:
        """The agent's ``node:`` as written (None: not set, or no such agent)."""
        self._index()
        return self._agents.get(agent_id)

    def of_agent(self, agent_id: str) -> str | None:
        """The node of the agent's phone (None: no such agent)."""
        self._index()
        return (self._agents[agent_id] or self._first) if agent_id in self._agents else None

    def of_device(self, device: str) -> str | None:
        """The node of the agent whose phone this is (None: no agent's phone)."""
        self._index()
        return self._devices.get(device)


def check_agent_nodes(config: RoutingConfig, settings: Settings, where: str) -> list[str]:
    """Problems of the routing file's ``node:`` fields against the settings' nodes."""
    names = [settings.node, *(node.name for node in settings.nodes)]
    problems = []
    for agent in config.agents:
        if agent.node is not None and agent.node not in names:
            problems.append(f"{where}: agent {agent.id!r}: node {agent.node!r} is not one of this engine's nodes ({', '.join(names)})")
        elif agent.node is not None and agent.node != settings.node:
            try:
                trunk_dial(agent.endpoint, agent.node)
            except ValueError as exc:
                problems.append(f"{where}: agent {agent.id!r}: {exc}")
    return problems


def build_call_control(
    engine: Engine, settings: Settings, config: Callable[[], RoutingConfig], make_control: Callable[[AmiClient], AsteriskCallControl]
) -> tuple[MultiNodeCallControl, list[ExtraNode]]:
    """The call control over every node, and the extra nodes' clients and listeners (not started)."""
    extra = [
        ExtraNode(
            node.name,
            ami_client(node.ami),
            FastAgiServer(
                engine.routes,
                host=node.agi_host,
                port=node.agi_port,
                header_timeout_s=settings.agi.header_timeout_s,
                read_timeout_s=settings.agi.read_timeout_s,
                max_header_bytes=settings.agi.max_header_bytes,
                max_connections=settings.agi.max_connections,
            ),
        )
        for node in settings.nodes
    ]
    controls = {settings.node: make_control(engine.ami), **{node.name: make_control(node.ami) for node in extra}}

    where = AgentNodes(config, settings.node)

    def agent_node(agent_id: str) -> str | None:
        return where.configured(agent_id)

    clients = {settings.node: engine.ami, **{node.name: node.ami for node in extra}}
    # systemnames: read from each Asterisk at login (learn_systemname)
    return MultiNodeCallControl(controls, agent_node, where.of_device, {}, connected=lambda name: clients[name].connected), extra


async def learn_systemname(control: MultiNodeCallControl, node: str, ami: AmiClient) -> None:
    """At each login: the node's ``systemname`` (the head of its Uniqueids, which are call ids).

    Without one, or with another node's, two nodes can give two calls the same id: said
    loudly, since events would then mix two callers."""
    try:
        systemname = (await ami.action("CoreSettings")).get("SystemName")
    except Exception as exc:  # noqa: BLE001  # the next login tries again
        log.warning("node %s: cannot read its systemname (CoreSettings): %s", node, exc)
        return
    others = {name for name, value in control.systemnames.items() if value == systemname and name != node}
    if not systemname:
        log.error("node %s: Asterisk has no systemname (asterisk.conf [options] systemname = %s): its call ids can collide with another node's", node, node)
    elif others:
        log.error("node %s: systemname %r is also node %s's: their call ids can collide (give each Asterisk its own)", node, systemname, ", ".join(sorted(others)))
    if systemname:
        control.systemnames = {**control.systemnames, node: systemname}
    else:
        control.systemnames = {name: value for name, value in control.systemnames.items() if name != node}


def node_tagger(control: MultiNodeCallControl) -> Callable[[Event], Event]:
    """Adds ``data.asterisk_node`` (and ``data.agent_asterisk_node``) to events about a call or an agent, and
    the first node to its AMI connection's events."""

    def tag(event: Event) -> Event:
        try:
            return tagged(event)
        except Exception:  # noqa: BLE001  # an event without its node beats an event lost
            log.exception("cannot tag %s with its node", event.type)
            return event

    def tagged(event: Event) -> Event:
        if "asterisk_node" in event.data:
            return event
        if event.type in ("ami.connected", "ami.disconnected"):  # the extra nodes' say theirs
            return event.model_copy(update={"data": {**event.data, "asterisk_node": control.default}})
        if event.call_id is None and event.agent_id is None:
            return event
        tags = control.tag(event.call_id, event.agent_id)
        return event.model_copy(update={"data": {**event.data, **tags}}) if tags else event

    return tag


def serialized(step: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """``step`` never runs twice at once (two nodes connecting together resync one after the other)."""
    lock = asyncio.Lock()

    async def one_at_a_time() -> None:
        async with lock:
            await step()

    return one_at_a_time


def attach_nodes(
    engine: Engine,
    control: MultiNodeCallControl,
    extra: list[ExtraNode],
    on_connected: Callable[[], Awaitable[None]],
    on_disconnected: Callable[[str], Awaitable[None]],
) -> None:
    """Start and stop the extra nodes with the engine; each (re)connection resyncs, as the first node's."""
    engine.ami.on_login.append(lambda: learn_systemname(control, control.default, engine.ami))
    for node in extra:
        name, ami = node.name, node.ami
        ami.on_login.append(lambda name=name, ami=ami: learn_systemname(control, name, ami))

        async def publish(ami: AmiClient = ami) -> None:
            if engine.agi_key is not None:
                await publish_key(ami, engine.agi_key)

        async def connected(name: str = name, ami: AmiClient = ami) -> None:
            engine.emit("ami.connected", data={"host": ami.host, "port": ami.port, "asterisk_node": name})

        async def disconnected(reason: str, name: str = name) -> None:
            engine.emit("ami.disconnected", data={"reason": reason, "asterisk_node": name})

        ami.on_login.append(publish)
        ami.on_connected += [connected, on_connected]
        ami.on_disconnected += [disconnected, on_disconnected]

    async def start(engine: Engine) -> None:
        for node in extra:
            if engine.agi_key is not None:
                node.fastagi.guard = AgiKeyGuard(engine.agi_key)
            await node.fastagi.start()
            if node.ami.secret:
                await node.ami.start()
            else:
                log.warning("node %s: AMI secret not set (ACD_NODE_%s_AMI_SECRET); its AMI stays off", node.name, node.name.upper())
            log.info("node %s: FastAGI on %s:%d, AMI %s:%d", node.name, node.fastagi.host, node.fastagi.port, node.ami.host, node.ami.port)

    async def stop(engine: Engine) -> None:
        for node in extra:
            await bounded(node.fastagi.close(grace_s=2.0), f"closing node {node.name}'s FastAGI server")
            await bounded(node.ami.close(), f"closing node {node.name}'s AMI connection")

    engine.on_startup(start)
    engine.on_shutdown(stop)


def agents_on_node(config: Callable[[], RoutingConfig], settings: Settings, node: str) -> Callable[[str], bool]:
    """Whether an agent's phone is on ``node`` (no ``node:`` in the routing file: the first node)."""
    where = AgentNodes(config, settings.node)
    return lambda agent_id: where.of_agent(agent_id) == node


@dataclass
class AgentsOfNode:
    """Passes a sink only the events of agents on one node (the others' are another server's)."""

    sink: EventSink
    on_node: Callable[[str], bool]

    def append(self, event: Event) -> None:
        if event.agent_id is None or self.on_node(event.agent_id):
            self.sink.append(event)

    async def close(self) -> None:
        close = getattr(self.sink, "close", None)
        if close is not None:
            await close()


def attach_node_features(engine: Engine, extra: list[ExtraNode], settings: Settings, router: Router, plan: AwayPlan) -> None:
    """What each extra node keeps while the engine runs, for its own agents: the engine-away
    globals and fallback queue members (its callers' degraded mode reaches its own agents) and
    the agents' lamps (its phones watch them)."""
    for node in extra:
        on_node = agents_on_node(lambda: router.config, settings, node.name)

        def members(on_node: Callable[[str], bool] = on_node) -> list[tuple[str, str, str]]:
            return [(agent.id, agent.endpoint, agent.state) for agent in router.agents() if on_node(agent.id)]

        def lamps_of(on_node: Callable[[str], bool] = on_node) -> list[tuple[str, str]]:
            return [(agent.id, str(agent.state)) for agent in router.agents() if on_node(agent.id)]

        fallback = FallbackMembers(node.ami, plan, members)
        lamps = AgentLamps(node.ami, lamps_of)
        node.ami.on_login += [fallback.on_login, lamps.on_login]
        engine.bus.sinks += [AgentsOfNode(fallback, on_node), AgentsOfNode(lamps, on_node)]
