"""Several Asterisk servers ("nodes") under one engine: one call control over all of them.

Each node has its own AMI connection and its own :class:`AsteriskCallControl`; the
dispatcher sees one :class:`MultiNodeCallControl`, which

* merges the facts of every node into one stream, remembering on which node each call,
  leg and channel lives (and, failing that, the node whose ``systemname`` heads a
  Uniqueid: nodes must have distinct systemnames, so ids never collide);
* keeps an agent's phone state from the agent's own node only (another node may know a
  device of the same name, unregistered there);
* carries out each action on the node holding the channel.  A caller parked on node A
  rung for an agent whose phone is on node B is still ONE ``Redirect`` on A: on A, the
  agent's endpoint global is a dial string over the inter-node trunk,
  ``PJSIP/<agent's endpoint>@acd-node-<B>``, which B's ``acd-node-in`` context connects
  to the local phone (dialplans/acd-nodes.conf).  Answer, ring failure and hang-up are
  all seen on A's caller channel, exactly as for a local agent.

Callbacks are placed on the agent's node (both legs start there).  Resync reads every
node's picture at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Mapping

from acd.asterisk.ami import AmiError, AmiNotConnected
from acd.asterisk.call_control import (
    AgentAnswered,
    AgentLegStarted,
    AsteriskCallControl,
    AsteriskPicture,
    CallbackAgentUp,
    CallbackCustomerUp,
    CallbackResult,
    ControlEvent,
    DeviceState,
    LegHungUp,
    OriginateFailed,
    Parked,
    RingFailed,
    WaitingKey,
)

log = logging.getLogger("acd.nodes")

#: The PJSIP endpoint every node names its trunk to node ``<name>`` by.
TRUNK_PREFIX = "acd-node-"


class NodesNotAllConnected(AmiNotConnected):
    """Resync needs every node's picture; the node not yet connected resyncs when it connects."""


def trunk_endpoint(node: str) -> str:
    return TRUNK_PREFIX + node


def trunk_dial(endpoint: str, to_node: str) -> str:
    """The dial string that rings ``endpoint`` (``PJSIP/agent1``) on node ``to_node`` from
    another node: ``PJSIP/agent1@acd-node-<to_node>`` (the request URI's user names the
    phone; the far node's ``acd-node-in`` dials it)."""
    technology, _, resource = endpoint.partition("/")
    if technology.upper() != "PJSIP" or not resource or "@" in resource or "/" in resource:
        raise ValueError(f"agent endpoint {endpoint!r}: only a plain PJSIP/<endpoint> can be reached from another node")
    return f"PJSIP/{resource}@{trunk_endpoint(to_node)}"


def _ids_of(fact: ControlEvent) -> tuple[list[str], list[str]]:
    """(Uniqueids, channel names) a fact shows to live on the node that reported it."""
    if isinstance(fact, Parked):
        return [fact.call_id], [fact.channel]
    if isinstance(fact, AgentLegStarted):
        return [fact.call_id, fact.agent_leg_id], [fact.agent_channel]
    if isinstance(fact, AgentAnswered):
        return [fact.call_id], [fact.agent_channel]
    if isinstance(fact, (RingFailed, WaitingKey)):
        return [fact.call_id], []
    if isinstance(fact, CallbackAgentUp):
        return [fact.agent_leg_id], []
    if isinstance(fact, CallbackCustomerUp):
        return [fact.leg_id], [fact.channel]
    if isinstance(fact, (CallbackResult, OriginateFailed)):
        return [fact.leg_id], []
    return [], []


@dataclass
class MultiNodeCallControl:
    """The dispatcher's call control over several nodes (first = default; see the module doc).

    ``agent_node(agent_id)`` and ``device_node(device)`` read the routing file's ``node:``
    (None: the default node); ``systemnames`` maps a node to the head of its Uniqueids."""

    nodes: Mapping[str, AsteriskCallControl]
    agent_node: Callable[[str], str | None]
    device_node: Callable[[str], str | None]
    systemnames: Mapping[str, str] = field(default_factory=dict)
    #: whether a node's AMI is up now (resync waits for all of them)
    connected: Callable[[str], bool] = lambda name: True
    #: facts dropped because they described a phone from a node that does not hold it
    foreign_device_states: int = 0

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ValueError("at least one node")
        self.default = next(iter(self.nodes))
        self._uniqueids: dict[str, str] = {}  # Uniqueid (call, leg) -> node
        self._channels: dict[str, str] = {}  # channel name -> node

    # ------------------------------------------------------------ where things are
    def node_of_agent(self, agent_id: str) -> str:
        node = self.agent_node(agent_id)
        if node is None:
            return self.default
        if node not in self.nodes:
            log.warning("agent %s: node %r is not one of this engine's nodes (%s); using %s", agent_id, node, ", ".join(self.nodes), self.default)
            return self.default
        return node

    def node_of_id(self, uniqueid: str) -> str | None:
        """The node a call or leg lives on: as seen in its facts, else by its systemname head."""
        node = self._uniqueids.get(uniqueid)
        if node is not None:
            return node
        for name, systemname in self.systemnames.items():
            if uniqueid.startswith(systemname + "-"):
                return name
        return None

    def node_of_call(self, call_id: str) -> str:
        return self.node_of_id(call_id) or self.default

    def _learn(self, node: str, fact: ControlEvent) -> None:
        if isinstance(fact, LegHungUp):
            self._uniqueids.pop(fact.leg_id, None)
            if self._channels.get(fact.channel) == node:
                del self._channels[fact.channel]
            return
        uniqueids, channels = _ids_of(fact)
        for uniqueid in uniqueids:
            if uniqueid:
                self._uniqueids[uniqueid] = node
        for channel in channels:
            if channel:
                self._channels[channel] = node

    def _accept(self, node: str, fact: ControlEvent) -> bool:
        if isinstance(fact, DeviceState):
            owner = self.device_node(fact.device)
            if owner is not None and (owner if owner in self.nodes else self.default) != node:
                self.foreign_device_states += 1
                return False
        return True

    def tag(self, call_id: str | None, agent_id: str | None) -> dict[str, str]:
        """What an event about this call and agent says of nodes: ``asterisk_node`` (the call's, else the
        agent's) and ``agent_asterisk_node`` when the agent's phone is on another node."""
        tags: dict[str, str] = {}
        agent_node = self.node_of_agent(agent_id) if agent_id else None
        if call_id:
            tags["asterisk_node"] = self.node_of_call(call_id)
            if agent_node is not None and agent_node != tags["asterisk_node"]:
                tags["agent_asterisk_node"] = agent_node
        elif agent_node is not None:
            tags["asterisk_node"] = agent_node
        return tags

    # ------------------------------------------------------------ facts
    def listen(self, on_fact: Callable[[ControlEvent], None]) -> Callable[[], None] | None:
        """Every node's facts as its AMI reads them (:meth:`AsteriskCallControl.listen`),
        filtered and learnt from as :meth:`events` does; returns the function that stops
        them, or None when a node cannot be listened to (then :meth:`events` it is)."""
        if not all(callable(getattr(control, "listen", None)) for control in self.nodes.values()):
            return None

        def for_node(name: str) -> Callable[[ControlEvent], None]:
            def on_node_fact(fact: ControlEvent) -> None:
                if self._accept(name, fact):
                    self._learn(name, fact)
                    on_fact(fact)
            return on_node_fact

        stops = [control.listen(for_node(name)) for name, control in self.nodes.items()]

        def stop() -> None:
            for one in stops:
                one()

        return stop

    async def events(self) -> AsyncIterator[ControlEvent]:
        merged: asyncio.Queue[tuple[str, ControlEvent]] = asyncio.Queue()

        async def pump(name: str, control: AsteriskCallControl) -> None:
            async for fact in control.events():
                await merged.put((name, fact))

        pumps = [asyncio.ensure_future(pump(name, control)) for name, control in self.nodes.items()]
        try:
            while True:
                name, fact = await merged.get()
                if not self._accept(name, fact):
                    continue
                self._learn(name, fact)
                yield fact
        finally:
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(BaseException):
                    await task

    # ------------------------------------------------------------ actions
    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None:
        caller_node, agent_node = self.node_of_call(call_id), self.node_of_agent(agent_id)
        if agent_node != caller_node:
            try:
                endpoint = trunk_dial(endpoint, agent_node)
            except ValueError as exc:
                raise AmiError(f"ringing {agent_id} on node {agent_node} for a caller on node {caller_node}: {exc}") from None
        await self.nodes[caller_node].ring(channel, call_id, agent_id, endpoint, timeout_s)

    async def prepare_ring(self, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> str | None:
        """:meth:`AsteriskCallControl.prepare_ring` on the caller's node (None: that node is
        not known yet, the caller is rung by ``Redirect`` once parked)."""
        caller_node = self.node_of_id(call_id)
        if caller_node is None:
            return None
        agent_node = self.node_of_agent(agent_id)
        if agent_node != caller_node:
            try:
                endpoint = trunk_dial(endpoint, agent_node)
            except ValueError as exc:
                raise AmiError(f"ringing {agent_id} on node {agent_node} for a caller on node {caller_node}: {exc}") from None
        return await self.nodes[caller_node].prepare_ring(call_id, agent_id, endpoint, timeout_s)

    async def _on_channel_node(self, channel: str, act: Callable[[AsteriskCallControl], object]) -> None:
        """On the node known to hold ``channel`` (name or Uniqueid), else each node in turn
        until one has it (Asterisk answers "No such channel" on the others)."""
        known = self._channels.get(channel) or self.node_of_id(channel)
        order = [known] if known is not None else list(self.nodes)
        error: Exception | None = None
        for name in order:
            try:
                await act(self.nodes[name])  # type: ignore[misc]
                return
            except AmiError as exc:
                error = exc
        assert error is not None
        raise error

    async def return_to_hold(self, channel: str) -> None:
        await self._on_channel_node(channel, lambda control: control.return_to_hold(channel))

    async def end_waiting(self, channel: str) -> None:
        await self._on_channel_node(channel, lambda control: control.end_waiting(channel))

    async def hang_up(self, channel: str) -> None:
        await self._on_channel_node(channel, lambda control: control.hang_up(channel))

    async def originate_callback(
        self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str, ring_s: float, customer_ring_s: float, leg_id: str,
        labels: dict[str, str],
    ) -> None:
        node = self.node_of_agent(agent_id)
        self._uniqueids[leg_id] = node
        await self.nodes[node].originate_callback(call_id, agent_id, endpoint, customer_dial, number, ring_s, customer_ring_s, leg_id, labels)

    async def originate_customer_first(
        self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str, agent_ring_s: float, customer_ring_s: float,
        leg_id: str, labels: dict[str, str],
    ) -> None:
        node = self.node_of_agent(agent_id)
        self._uniqueids[leg_id] = node
        await self.nodes[node].originate_customer_first(
            call_id, agent_id, endpoint, customer_dial, number, agent_ring_s, customer_ring_s, leg_id, labels
        )

    async def picture(self) -> AsteriskPicture:
        """Every node's picture at once: all channels, each phone's state from its own node."""
        names = list(self.nodes)
        missing = [name for name in names if not self.connected(name)]
        if missing:
            raise NodesNotAllConnected(f"node(s) {', '.join(missing)} not connected yet; resync follows their connection")
        pictures = await asyncio.gather(*(self.nodes[name].picture() for name in names))
        channels, devices = [], []
        for name, picture in zip(names, pictures):
            for channel in picture.channels:
                if channel.uniqueid:
                    self._uniqueids.setdefault(channel.uniqueid, name)
                if channel.channel:
                    self._channels.setdefault(channel.channel, name)
                channels.append(channel)
            devices += [device for device in picture.devices if self._accept(name, device)]
        return AsteriskPicture(tuple(channels), tuple(devices))
