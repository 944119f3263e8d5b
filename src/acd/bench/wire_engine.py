"""The parity bench's third side: acd's conversation with Asterisk and nothing above it.

Why: the issue asks the engine for ≤ 2 ms of CPU a call and Asterisk + engine for no more
than app_queue's Asterisk alone.  How much of the engine's cost is the conversation itself
(a FastAGI session, the AMI events, the actions) and how much the product above it (the
IVR model, the router, the events, the live figures, the store) decides whether those
goals can be met by trimming the product at all.  This process holds exactly that
conversation for the parity flow — the same FastAGI commands (``STREAM FILE`` of the
prompt, one ``EXEC MSet`` naming the next step and the ring extension), the same AMI user
(so the same event filter), the same globals, ``Redirect`` for a caller parked in
``acd-hold`` — through acd's own sans-IO parsers on uvloop, and decides with a free-agent
list in the order agents freed up (app_queue's ``leastrecent``).  No events, no store, no
IVR model, no AGI key check (the engine lets Asterisk's own sockets in without a round
trip, :mod:`acd.asterisk.socket_owner`); nothing here is product.

Run by ``acd bench parity --sides wire`` (:mod:`acd.bench.parity_lab`) as
``python -m acd.bench.wire_engine -c SETTINGS`` with ``$ACD_AMI_SECRET``: the engine's own
settings file and routing file, of which it reads the FastAGI and AMI addresses, the AMI
user, the first queue's ring time-out and the ``routing.auto_login`` agents' endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import logging
import signal
import sys
from dataclasses import dataclass, field

from acd.asterisk.agi_protocol import AgiRequest, AgiRequestParser, AgiResponseParser, encode_command
from acd.asterisk.ami_wire import AmiFramer, check_action, event_name_of, parse_block
from acd.asterisk.call_control import endpoint_global, ring_extension

log = logging.getLogger("acd.bench.wire_engine")

#: the hold context's queue label (``ACD_QUEUE``) and the parity flow's prompt
QUEUE = "parity"
PROMPT = "beep"


@dataclass
class FreeAgents:
    """Who to ring: agents in the order they freed up, the one free longest first.

    ``take`` marks an agent busy; a phone seen ``NOT_INUSE`` again frees its agent, or
    hands it the longest-parked caller at once."""

    endpoints: dict[str, str]  # agent id -> endpoint
    ring_timeout_s: float
    free: collections.deque[str] = field(default_factory=collections.deque)
    busy: set[str] = field(default_factory=set)
    parked: collections.deque[str] = field(default_factory=collections.deque)  # channels, oldest first
    agent_of_device: dict[str, str] = field(init=False)  # endpoint -> agent id

    def __post_init__(self) -> None:
        self.free.extend(self.endpoints)
        self.agent_of_device = {endpoint: agent for agent, endpoint in self.endpoints.items()}

    def take(self) -> str | None:
        if not self.free:
            return None
        agent = self.free.popleft()
        self.busy.add(agent)
        return agent

    def extension(self, agent: str) -> str:
        return ring_extension(agent, self.ring_timeout_s)

    def device_free(self, device: str) -> tuple[str, str] | None:
        """(channel, agent) to ring when the phone's agent was busy and a caller is parked."""
        agent = self.agent_of_device.get(device)
        if agent is None or agent not in self.busy:
            return None
        if self.parked:
            return self.parked.popleft(), agent
        self.busy.discard(agent)
        self.free.append(agent)
        return None

    def parked_caller(self, channel: str) -> str | None:
        """The agent to ring for a caller who just parked, or None (it waits its turn)."""
        agent = self.take()
        if agent is None:
            self.parked.append(channel)
        return agent

    def ring_failed(self, agent: str) -> None:
        """A Redirect Asterisk refused (the caller hung up meanwhile): the agent is free again."""
        if agent in self.busy:
            self.busy.discard(agent)
            self.free.appendleft(agent)


class AmiSide(asyncio.Protocol):
    """Login, the endpoint globals, then events in and Redirects out."""

    def __init__(self, agents: FreeAgents, username: str, secret: str, lost: asyncio.Future[str]) -> None:
        self.agents, self.username, self.secret, self.lost = agents, username, secret, lost
        self.framer = AmiFramer()
        self.transport: asyncio.Transport | None = None
        self.action_ids = itertools.count(1)
        self.redirects: dict[str, str] = {}  # ActionID -> the agent it rings

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send("Login", Username=self.username, Secret=self.secret, Events="on")
        for agent, endpoint in self.agents.endpoints.items():
            self.send("Setvar", Variable=endpoint_global(agent), Value=endpoint)
        self.send("Setvar", Variable="ACD_RECORD_DIR", Value="")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(f"AMI connection lost ({exc or 'closed by Asterisk'})")

    def send(self, action: str, **fields: str) -> str:
        action_id = f"wire-{next(self.action_ids)}"
        message = {"Action": action, "ActionID": action_id, **fields}
        check_action(message)
        assert self.transport is not None
        self.transport.write("".join(f"{key}: {value}\r\n" for key, value in message.items()).encode() + b"\r\n")
        return action_id

    def redirect(self, channel: str, agent: str) -> None:
        self.redirects[self.send("Redirect", Channel=channel, Context="acd-agent", Exten=self.agents.extension(agent), Priority="1")] = agent

    def data_received(self, data: bytes) -> None:
        for block in self.framer.feed(data):
            name = event_name_of(block)
            if name == "DeviceStateChange":
                headers, _ = parse_block(block)
                if headers.get("State") == "NOT_INUSE":
                    ring = self.agents.device_free(headers.get("Device", ""))
                    if ring is not None:
                        self.redirect(*ring)
            elif name == "UserEvent":
                headers, _ = parse_block(block)
                if headers.get("UserEvent") == "AcdParked" and headers.get("Channel"):
                    agent = self.agents.parked_caller(headers["Channel"])
                    if agent is not None:
                        self.redirect(headers["Channel"], agent)
            elif name is None and block.startswith(b"Response: "):
                headers, _ = parse_block(block)
                agent = self.redirects.pop(headers.get("ActionID", ""), None)
                if headers.get("Response") == "Error":
                    if agent is not None:
                        self.agents.ring_failed(agent)
                    elif headers.get("ActionID") == "wire-1" and not self.lost.done():
                        self.lost.set_result(f"AMI login refused: {headers.get('Message', '')}")


class AgiSide(asyncio.Protocol):
    """One FastAGI session: the header, the prompt, the next step, then close."""

    def __init__(self, agents: FreeAgents) -> None:
        self.agents = agents
        self.header = AgiRequestParser()
        self.responses = AgiResponseParser()
        self.request: AgiRequest | None = None
        self.pending = b""
        self.transport: asyncio.Transport | None = None
        self.answers = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            if self.request is None:
                self.request = self.header.feed(data)
                if self.request is None:
                    return
                data = self.header.leftover
                self.transport.write(encode_command("STREAM FILE", PROMPT, ""))
            self.pending += data
            while b"\n" in self.pending:
                line, _, self.pending = self.pending.partition(b"\n")
                if self.responses.feed_line(line.decode("utf-8", "replace")) is not None:
                    self.answered()
        except Exception as exc:  # noqa: BLE001 - a bench process: log, close, go on (a HANGUP line too)
            log.warning("FastAGI session dropped: %s", exc)
            self.transport.close()

    def answered(self) -> None:
        assert self.transport is not None and self.request is not None
        self.answers += 1
        if self.answers == 1:  # the prompt played: the next step
            call_id = self.request.env.get("agi_uniqueid", "")
            agent = self.agents.take()
            ring = f",ACD_RING={self.agents.extension(agent)},ACD_ACTION=agent" if agent else ",ACD_ACTION=queue"
            self.transport.write(encode_command("EXEC", "MSet", f"ACD_QUEUE={QUEUE},ACD_CALL_ID={call_id}{ring}"))
        else:
            self.transport.close()


async def serve(agi_host: str, agi_port: int, ami_host: str, ami_port: int, username: str, secret: str, agents: FreeAgents) -> str:
    """Until SIGTERM (returns "") or the AMI connection is lost (returns why)."""
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()
    await loop.create_connection(lambda: AmiSide(agents, username, secret, lost), ami_host, ami_port)
    server = await loop.create_server(lambda: AgiSide(agents), agi_host, agi_port)
    loop.add_signal_handler(signal.SIGTERM, lambda: lost.done() or lost.set_result(""))
    try:
        return await lost
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    from acd.routing.config import load_routing_config
    from acd.settings import SettingsError, load_settings

    parser = argparse.ArgumentParser(prog="python -m acd.bench.wire_engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--settings", required=True, help="the engine's settings file (acd.yaml)")
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        settings = load_settings(args.settings)
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    config, problems = load_routing_config(settings.resolve(settings.routing.config))
    if config is None or problems or not config.queues:
        print(f"{prog}: {settings.routing.config}: " + ("; ".join(str(p) for p in problems) or "no queue"), file=sys.stderr)
        return 2
    endpoints = {agent.id: agent.endpoint for agent in config.agents if agent.id in settings.routing.auto_login}
    if not endpoints:
        print(f"{prog}: routing.auto_login names none of the routing file's agents", file=sys.stderr)
        return 2
    secret = settings.ami.secret.get_secret_value() if settings.ami.secret else ""
    agents = FreeAgents(endpoints, config.queues[0].ring_timeout_s)
    import uvloop

    why = uvloop.run(serve(settings.agi.host, settings.agi.port, settings.ami.host, settings.ami.port, settings.ami.username, secret, agents))
    if why:
        print(f"{prog}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
