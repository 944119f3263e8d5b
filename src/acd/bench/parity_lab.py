"""The side-by-side benchmark's two centres on one lab, and the pieces that run them.

Both sides get the same sipp callers (same numbers, rate and count), the same agent
phones (same ports, ring and talk times), the same answer, prompt (``beep``) and hold
music.  Only what sits between differs:

* **acd**: callers dial ``300``; the engine's FastAGI flow plays the prompt and queues the
  call; the engine (a separate ``acd run`` process, so its CPU is its own) rings agents
  over AMI;
* **app_queue**: callers dial ``399`` (``deploy/asterisk/etc/app_queue_peer.conf``), the
  dialplan plays the prompt and runs ``Queue(acd-parity)``; the engine is not running.

The ACD's queue is given app_queue's wrap-up and ring time-out, read from the lab's own
``queues.conf`` (``[acd-parity]``), so the two can never drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from acd.bench.call_views import AmiWatcher
from acd.bench.cps_lab import CpsLab, CpsOptions, agent_ids
from acd.bench.cps_lab import settings_text as cps_settings_text

ACD_DIALED = "300"
PEER_DIALED = "399"
PEER_QUEUE = "acd-parity"
PROMPT = "beep"
#: every side the bench knows, in run order; ``wire`` (:mod:`acd.bench.wire_engine`): acd's
#: conversation with Asterisk and nothing above it, the floor under the engine's cost
SIDES = ("app_queue", "acd", "wire")
#: the comparison the issue asks for
DEFAULT_SIDES = ("app_queue", "acd")
#: the sides an engine process serves (the callers dial the ACD's number)
ENGINE_SIDES = ("acd", "wire")

FLOW = f"""\
name: parity
numbers: ["{ACD_DIALED}"]
entry: saludo
nodes:
  saludo: {{type: play, prompt: {PROMPT}, next: cola}}
  cola: {{type: queue, queue: parity, fallback: fin}}
  fin: {{type: hangup}}
"""


@dataclass(frozen=True)
class PeerQueue:
    """app_queue's settings for the benchmark queue (``queues.conf [acd-parity]``)."""

    strategy: str
    ringinuse: bool
    ring_timeout_s: float
    wrap_up_s: float


def peer_queue(queues_conf: str) -> PeerQueue:
    """Reads ``[acd-parity]`` from queues.conf text; ValueError naming what is missing."""
    section = re.search(rf"^\[{PEER_QUEUE}\][^\n]*\n(.*?)(?=^\[|\Z)", queues_conf, re.MULTILINE | re.DOTALL)
    if section is None:
        raise ValueError(f"queues.conf has no [{PEER_QUEUE}] queue (deploy/asterisk/etc/queues.conf)")
    values = {}
    for line in section.group(1).splitlines():
        key, sep, value = line.split(";", 1)[0].partition("=")
        if sep:
            values[key.strip()] = value.strip()
    missing = [key for key in ("strategy", "ringinuse", "timeout", "wrapuptime") if key not in values]
    if missing:
        raise ValueError(f"queues.conf [{PEER_QUEUE}] lacks {', '.join(missing)}")
    return PeerQueue(
        strategy=values["strategy"], ringinuse=values["ringinuse"].lower() in ("yes", "true", "1"),
        ring_timeout_s=float(values["timeout"]), wrap_up_s=float(values["wrapuptime"]),
    )


def routing_text(agents: int, queue: PeerQueue) -> str:
    """The ACD's centre: one queue with app_queue's wrap-up and ring time-out, the same agents."""
    rows = "".join(
        f"  - {{id: {agent}, name: Agent {number}, endpoint: PJSIP/agent{number}, skills: {{parity: 5}}}}\n"
        for number, agent in enumerate(agent_ids(agents), start=1)
    )
    return (
        "timezone: America/Santiago\nskills: [parity]\nqueues:\n"
        f"  - {{name: parity, skills: [parity], wrap_up_s: {queue.wrap_up_s:g}, ring_timeout_s: {queue.ring_timeout_s:g}}}\n"
        f"agents:\n{rows}"
    )


def settings_text(lab: CpsLab, work: Path, agents: int) -> str:
    """The engine's settings: as ``acd bench cps`` but without recording (app_queue does not record)."""
    return cps_settings_text(lab, work, CpsOptions(agents=agents, record=False), None)


# --------------------------------------------------------------------------- the bench's AMI view


class QueueWatcher(AmiWatcher):
    """The cps benchmark's independent AMI view, plus when each caller joined a queue.

    The ACD's ``AcdParked`` and app_queue's ``QueueCallerJoin`` both mean "now waiting for
    an agent"; a caller the ACD rings straight from the IVR (an agent was free) is never
    parked, and its first ``DialBegin`` to an agent phone stands for it (the ring starts
    within a millisecond of the hand-off).  The first of these per caller number is kept,
    timed on arrival here."""

    def __init__(self, port: int, username: str, secret: str) -> None:
        super().__init__(port, username, secret)
        self.joined: dict[str, float] = {}

    def handle(self, event: dict[str, str]) -> None:
        super().handle(event)
        name = event.get("Event")
        entered = (
            name == "QueueCallerJoin"
            or (name == "UserEvent" and event.get("UserEvent") == "AcdParked")
            or (name == "DialBegin" and event.get("DestChannel", "").startswith("PJSIP/agent"))
        )
        channel = self.channels.get(event.get("Uniqueid", ""))
        if entered and channel is not None:
            if name == "QueueCallerJoin":
                channel.parked += 1
            if channel.caller:
                self.joined.setdefault(channel.caller, time.time())

    async def send(self, action: str, **fields: str) -> None:
        """Fire an action on this connection (its response is read and ignored by the loop)."""
        assert self._writer is not None
        text = f"Action: {action}\r\n" + "".join(f"{key}: {value}\r\n" for key, value in fields.items()) + "\r\n"
        self._writer.write(text.encode())
        await self._writer.drain()


async def set_peer_members(watcher: QueueWatcher, lab: CpsLab, agents: int, present: bool) -> None:
    """Add (or remove) the agent phones as app_queue members; checked with ``queue show``."""
    for number in range(1, agents + 1):
        interface = f"PJSIP/agent{number}"
        if present:
            await watcher.send("QueueAdd", Queue=PEER_QUEUE, Interface=interface, MemberName=f"agent{number}", Penalty="0")
        else:
            await watcher.send("QueueRemove", Queue=PEER_QUEUE, Interface=interface)
    want = agents if present else 0
    for _ in range(50):
        await asyncio.sleep(0.1)
        shown = lab.cli(f"queue show {PEER_QUEUE}")
        if len(re.findall(r"PJSIP/agent\d+", shown)) == want:
            return
    raise ConnectionError(f"app_queue queue {PEER_QUEUE} did not get {want} members: {shown.strip()[:300]}")


# --------------------------------------------------------------------------- the engine, a process of its own


#: ``acd run`` under cProfile timed by CPU (process_time): on a shared machine wall-clock
#: profiles charge other programs' time to whatever line was waiting for the CPU.
PROFILED_RUN = """\
import cProfile, sys, time
from acd.cli import main
profiler = cProfile.Profile(time.process_time)
profiler.enable()
try:
    code = main(sys.argv[2:])
finally:
    profiler.disable()
    profiler.dump_stats(sys.argv[1])
sys.exit(code)
"""


class EngineProcess:
    """``acd run`` with the benchmark's settings, in its own process, so /proc gives its CPU alone."""

    def __init__(self, settings: Path, secret: str, log: Path, profile: Path | None = None, *, wire_only: bool = False) -> None:
        self.settings, self.secret, self.log, self.profile = settings, secret, log, profile
        #: run :mod:`acd.bench.wire_engine` instead of ``acd run`` (the ``wire`` side)
        self.wire_only = wire_only
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self, agi_port: int, timeout_s: float = 30) -> None:
        env = {**os.environ, "ACD_AMI_SECRET": self.secret}
        command = ["-m", "acd", "run", "-c", str(self.settings), "--grace", "2"]
        if self.wire_only:
            command = ["-m", "acd.bench.wire_engine", "-c", str(self.settings)]
        elif self.profile is not None:
            self.profile.parent.mkdir(parents=True, exist_ok=True)
            command = ["-c", PROFILED_RUN, str(self.profile), *command[2:]]
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *command,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT, env=env,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise ConnectionError(f"the engine exited ({self.process.returncode}) while starting: see {self.log}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", agi_port)
                writer.close()
                return
            await asyncio.sleep(0.2)
        raise ConnectionError(f"the engine did not listen on FastAGI port {agi_port} within {timeout_s:g} s: see {self.log}")

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), 5)
