"""Benchmark on the real lab: calls per second sustained with zero lost calls.

sipp callers dial into Asterisk 22, the dialplan hands each call to the engine's FastAGI
IVR flow, the flow queues it, the engine picks an agent and moves the caller over AMI,
a sipp agent phone answers, talks briefly and hangs up.  Calls are offered in steps of
increasing rate (sipp's own rate control, ``-r``), each step held for a few seconds and
then drained, so every call of a step can be followed to its end.

Every call is counted three independent ways, matched by the caller number (which
encodes the step and the call):

* **sipp** — its message log (INVITE sent, final answer, BYE from Asterisk) and its own
  successful/failed counters;
* **the engine** — its SQLite event log (``call.started``, ``call.queued``,
  ``call.answered``, ``call.completed`` …), read back after the engine stopped;
* **Asterisk** — a separate AMI connection of its own (caller channels, the ``AcdParked``
  user event, ``DialEnd`` to an agent with ``ANSWER``, ``Hangup`` causes) plus the CLI's
  ``calls processed`` counter and active channels after the step.

A call is *completed* when sipp saw Asterisk answer it and later hang up after the agent
did; a *clear failure* is a SIP error answer to the INVITE; anything else a caller placed
is *lost*, and the report says how far it got (the furthest stage any of the three views
saw).  The figure is the highest offered rate whose step lost nothing, failed nothing, on
which the three views agree, and at which calls were answered at least 85 % as fast as they
arrived (above that nothing is lost yet, callers just wait longer and longer).  When a step
falls short the report says which part did: sipp's failures and INVITE retransmissions,
Asterisk's hangup causes and its own log warnings (task processor overload, RTP ports),
the engine's IVR errors.

    acd bench cps --json                 # its own lab "cps", 40 agent phones, 8..128 cps
    ACD_TEST_LAB_SLOT=3 acd bench cps --rates 2,4 --hold 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from acd.checkout import lab_script
from acd.bench.machine import machine_info

QUEUE = "cps"
DIALED = "300"
# The customers' callback contact sits at agent base + 50, so at most 49 agent phones.
MAX_AGENTS = 49
# Enough phones that the agents are not what limits the rate (about 90 cps at 0.3 s talk).
OWN_LAB_AGENTS = 40


# --------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class CpsLab:
    """Where a running lab answers; ``env`` is what ``lab.sh`` needs to address it."""

    name: str
    sip_port: int
    ami_port: int
    agi_port: int
    agent_port_base: int
    agents: int
    secret: str
    env: dict[str, str] = field(repr=False)
    ami_user: str = "acd"

    def agent_port(self, number: int) -> int:
        return self.agent_port_base + number

    @classmethod
    def own(cls, agents: int, secret: str) -> "CpsLab":
        """A lab of its own ("cps"), on a port block no test slot 0-9 uses, with ``agents`` phones."""
        env = {
            "ACD_LAB_NAME": "cps",
            "ACD_LAB_SIP_PORT": "17260",
            "ACD_LAB_AMI_PORT": "17238",
            "ACD_LAB_AGI_PORT": "16773",
            "ACD_LAB_AGENT_PORT": "17280",
            "ACD_LAB_AGENTS": str(agents),
            "ACD_LAB_RTP_START": "32000",
        }
        return cls._from_env(env, agents, secret)

    @classmethod
    def slot(cls, slot: int, secret: str) -> "CpsLab":
        """Test slot N's lab (same names and ports as ``tests/lab/conftest.py``): eight agents."""
        from acd.bench.lab_traffic import LabSlot

        env = LabSlot(slot).env
        return cls._from_env(env, int(env["ACD_LAB_AGENTS"]), secret)

    @classmethod
    def _from_env(cls, env: dict[str, str], agents: int, secret: str) -> "CpsLab":
        full = {**os.environ, **env, "ACD_AMI_SECRET": secret}
        return cls(
            name=env["ACD_LAB_NAME"], sip_port=int(env["ACD_LAB_SIP_PORT"]), ami_port=int(env["ACD_LAB_AMI_PORT"]),
            agi_port=int(env["ACD_LAB_AGI_PORT"]), agent_port_base=int(env["ACD_LAB_AGENT_PORT"]), agents=agents,
            secret=secret, env=full,
        )

    def sh(self, *args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(lab_script()), *args], env=self.env, capture_output=True, text=True, timeout=timeout_s)

    def cli(self, command: str) -> str:
        try:
            return self.sh("cli", "-x", command, timeout_s=30).stdout
        except subprocess.TimeoutExpired:
            return ""

    def channel_counts(self) -> tuple[int | None, int | None]:
        """(active channels, calls processed since Asterisk started) from the CLI; None if unreadable."""
        out = self.cli("core show channels count")
        active = re.search(r"(\d+) active channels?", out)
        processed = re.search(r"(\d+) calls? processed", out)
        return (int(active.group(1)) if active else None, int(processed.group(1)) if processed else None)

    def log_dir(self) -> Path:
        return Path(self.sh("logs", timeout_s=10).stdout.strip())

    def asterisk_pid(self) -> int | None:
        try:
            return int((self.log_dir().parent / "asterisk.pid").read_text())
        except (OSError, ValueError):
            return None  # the docker back end keeps no pid file: Asterisk's CPU is then not reported

    def recordings_dir(self) -> Path | None:
        for line in self.sh("env", timeout_s=10).stdout.splitlines():
            if line.startswith("ACD_LAB_RECORDINGS="):
                return Path(line.split("=", 1)[1])
        return None


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class CpsOptions:
    """What is offered and how the agents behave."""

    rates: tuple[float, ...] = (8.0, 16.0, 32.0, 64.0, 96.0, 128.0)
    hold_s: float = 5.0
    agents: int = 8
    answer_after_s: float = 0.1
    talk_s: float = 0.3
    wrap_up_s: float = 0.0
    call_timeout_s: float = 60.0
    keep_going: bool = False
    record: bool = True

    def problems(self, max_agents: int) -> list[str]:
        """Every bad option, one clear line each (an empty list when all is well)."""
        out = []
        if not self.rates:
            out.append("--rates: give at least one rate")
        if any(not (rate > 0) or rate == float("inf") for rate in self.rates):
            out.append("--rates: every rate must be a positive number of calls per second")
        if list(self.rates) != sorted(self.rates):
            out.append("--rates: rates must increase (steps go up until calls are lost)")
        if not 0 < self.hold_s <= 3600:
            out.append("--hold: seconds per step must be in (0, 3600]")
        if not 1 <= self.agents <= max_agents:
            out.append(f"--agents: between 1 and {max_agents} for this lab")
        if self.answer_after_s < 0 or self.talk_s <= 0 or self.wrap_up_s < 0:
            out.append("--answer-after and --wrap-up must be >= 0, --talk > 0")
        if not self.call_timeout_s > 0:
            out.append("--call-timeout must be positive")
        return out

    def calls_in_step(self, rate: float) -> int:
        return max(1, round(rate * self.hold_s))

    @property
    def agent_bound_cps(self) -> float:
        """What the agent phones alone could take: beyond it calls wait longer and longer (not lost)."""
        return round(self.agents / (self.answer_after_s + self.talk_s + self.wrap_up_s + 0.05), 1)


def agent_ids(count: int) -> list[str]:
    return [f"a{number}" for number in range(1, count + 1)]


FLOW = f"""\
name: cps
numbers: ["{DIALED}"]
entry: elegir
nodes:
  elegir:
    type: branch
    on: dialed
    cases:
      - {{equals: "{DIALED}", next: cola}}
    default: fin
  cola: {{type: queue, queue: {QUEUE}, fallback: fin}}
  fin: {{type: hangup}}
"""


def routing_text(options: CpsOptions) -> str:
    agents = "".join(
        f"  - {{id: {agent}, name: Agent {number}, endpoint: PJSIP/agent{number}, skills: {{{QUEUE}: 5}}}}\n"
        for number, agent in enumerate(agent_ids(options.agents), start=1)
    )
    return (
        "timezone: America/Santiago\n"
        f"skills: [{QUEUE}]\n"
        "queues:\n"
        f"  - {{name: {QUEUE}, skills: [{QUEUE}], wrap_up_s: {options.wrap_up_s}, ring_timeout_s: 10}}\n"
        f"agents:\n{agents}"
    )


def settings_text(lab: CpsLab, work: Path, options: CpsOptions, recordings: Path | None) -> str:
    record = options.record and recordings is not None
    recording = (
        f"recording:\n  asterisk_dir: /labs/{lab.name}/recordings\n  local_dir: {recordings}\n"
        if record else "recording:\n  enabled: false\n"
    )
    return (
        f"agi:\n  port: {lab.agi_port}\n"
        f"ami:\n  port: {lab.ami_port}\n  username: {lab.ami_user}\n"
        f"ivr:\n  flows_dir: {work / 'flows'}\n"
        f"routing:\n  config: {work / 'routing.yaml'}\n  auto_login: [{', '.join(agent_ids(options.agents))}]\n"
        f"metrics:\n  database: {work / 'acd.sqlite'}\n"
        f"callbacks:\n  database: {work / 'callbacks.sqlite'}\n"
        + recording
        + "api:\n  enabled: false\nlog:\n  level: warning\n"
    )


def caller_number(step: int, index: int) -> str:
    """Chilean-looking mobile number that encodes the step and the call: 569 SS NNNNNN."""
    return f"569{step:02d}{index:06d}"


# --------------------------------------------------------------------------- sipp's view


@dataclass
class SippCall:
    """One caller dialog as sipp's message log shows it."""

    caller: str = ""
    invite_ts: float | None = None
    invites_sent: int = 0
    final_code: int | None = None
    bye_received: bool = False

    @property
    def completed(self) -> bool:
        return self.final_code == 200 and self.bye_received

    @property
    def clear_failure(self) -> bool:
        return self.final_code is not None and self.final_code >= 300


_ENTRY = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n\w+ message (sent|received)[^\n]*\n\n", re.MULTILINE)
_HEADER = {name: re.compile(rf"^{name}:\s*(.*?)\s*$", re.MULTILINE | re.IGNORECASE) for name in ("Call-ID", "CSeq", "From")}


def sipp_calls(messages_log: str) -> dict[str, SippCall]:
    """Call-ID -> what happened to that caller dialog, from a caller run's ``-trace_msg`` log."""
    calls: dict[str, SippCall] = {}
    entries = list(_ENTRY.finditer(messages_log))
    for index, entry in enumerate(entries):
        end = entries[index + 1].start() if index + 1 < len(entries) else len(messages_log)
        message = messages_log[entry.end():end]
        first_line = message.split("\n", 1)[0].strip()
        call_id = _HEADER["Call-ID"].search(message)
        if not call_id or not first_line:
            continue
        call = calls.setdefault(call_id.group(1), SippCall())
        sent = entry.group(2) == "sent"
        cseq = _HEADER["CSeq"].search(message)
        cseq_method = cseq.group(1).split()[-1] if cseq else ""
        if sent and first_line.startswith("INVITE "):
            call.invites_sent += 1
            if call.invite_ts is None:
                call.invite_ts = datetime.strptime(entry.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            sender = _HEADER["From"].search(message)
            caller = re.search(r'"(\d+)"', sender.group(1)) if sender else None
            call.caller = caller.group(1) if caller else call.caller
        elif not sent and first_line.startswith("SIP/2.0 ") and cseq_method == "INVITE":
            code = int(first_line.split()[1])
            if code >= 200 and call.final_code is None:
                call.final_code = code
        elif not sent and first_line.startswith("BYE "):
            call.bye_received = True
    return calls


_CREATED = re.compile(r"^\s*Outgoing calls created\s*\|\s*\d+\s*\|\s*(\d+)", re.MULTILINE)


def sipp_created(screen_log: str) -> int | None:
    """sipp's own count of calls it started (its final screen dump)."""
    found = _CREATED.findall(screen_log)
    return int(found[-1]) if found else None


# --------------------------------------------------------------------------- Asterisk's view


@dataclass
class AstChannel:
    """One caller channel as Asterisk reported it over AMI."""

    caller: str = ""
    parked: int = 0
    agent_answered: int = 0
    hangup_cause: str | None = None


class AmiWatcher:
    """A second, independent AMI connection: what Asterisk itself says happened to the callers.

    It shares no code with the engine's AMI client on purpose, so a fault in the engine's
    event handling cannot hide in both counts at once.
    """

    def __init__(self, port: int, username: str, secret: str) -> None:
        self.port, self.username, self._secret = port, username, secret
        self.channels: dict[str, AstChannel] = {}
        self.events = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 10) -> None:
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout_s)
        await asyncio.wait_for(self._reader.readline(), timeout_s)  # "Asterisk Call Manager/…"
        self._writer.write(
            f"Action: Login\r\nActionID: cps-login\r\nUsername: {self.username}\r\nSecret: {self._secret}\r\nEvents: on\r\n\r\n".encode()
        )
        await self._writer.drain()
        while True:
            block = await asyncio.wait_for(self._block(), timeout_s)
            if block is None:
                raise ConnectionError("AMI closed the connection during login")
            if block.get("ActionID") == "cps-login":
                if block.get("Response") != "Success":
                    raise ConnectionError(f"AMI login refused: {block.get('Message', 'no message')}")
                break
        self._task = asyncio.create_task(self._read_loop(), name="cps-ami-watcher")

    async def _block(self) -> dict[str, str] | None:
        assert self._reader is not None
        block: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if not line:
                return None
            text = line.decode(errors="replace").rstrip("\r\n")
            if not text:
                if block:
                    return block
                continue
            key, _, value = text.partition(":")
            block.setdefault(key.strip(), value.strip())

    async def _read_loop(self) -> None:
        while (block := await self._block()) is not None:
            if "Event" in block:
                self.events += 1
                self.handle(block)

    def handle(self, event: dict[str, str]) -> None:
        name, uid = event["Event"], event.get("Uniqueid", "")
        if name == "Newchannel" and event.get("Channel", "").startswith("PJSIP/caller-"):
            self.channels[uid] = AstChannel()
        channel = self.channels.get(uid)
        if channel is None:
            return
        number = event.get("CallerIDNum", "")
        if number.isdigit():
            channel.caller = number
        if name == "UserEvent" and event.get("UserEvent") == "AcdParked":
            channel.parked += 1
        elif name == "DialEnd" and event.get("DestChannel", "").startswith("PJSIP/agent") and event.get("DialStatus") == "ANSWER":
            channel.agent_answered += 1
        elif name == "Hangup":
            channel.hangup_cause = f"{event.get('Cause', '?')} {event.get('Cause-txt', '')}".strip()

    def active_callers(self) -> int:
        return sum(1 for channel in self.channels.values() if channel.hangup_cause is None)

    def by_caller(self) -> dict[str, list[AstChannel]]:
        out: dict[str, list[AstChannel]] = {}
        for channel in self.channels.values():
            out.setdefault(channel.caller, []).append(channel)
        return out

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(b"Action: Logoff\r\n\r\n")
                await self._writer.drain()
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


# --------------------------------------------------------------------------- the engine's view


ENGINE_STAGES = ("call.started", "call.queued", "call.agent_ringing", "call.answered", "call.completed", "call.abandoned", "ivr.error")


@dataclass
class EngineCall:
    """One call as the engine's SQLite event log tells it (keyed by the caller number)."""

    started_ts: float | None = None
    call_ids: set[str] = field(default_factory=set)
    seen: Counter[str] = field(default_factory=Counter)
    waited_s: float | None = None
    answered_ts: float | None = None
    ended_cause: str | None = None


async def engine_calls(database: Path, numbers: Iterable[str]) -> dict[str, EngineCall]:
    """Caller number -> the engine's record of that call, read back from the event log file.

    The log holds callers masked, with a keyed pseudonym (``caller_ref``, acd.privacy):
    the numbers the benchmark dialled are matched by computing theirs with the same key.
    """
    from acd.metrics.store import EventStore
    from acd.privacy import Pseudonyms

    pseudonyms = Pseudonyms.load(database.parent, create=False)
    number_of_ref = {pseudonyms.ref(number): number for number in numbers}

    store = await EventStore.open(database, create=False)
    try:
        events = await store.events(types=[*ENGINE_STAGES, "call.ended"])
    finally:
        await store.close()
    number_of: dict[str, str] = {}
    calls: dict[str, EngineCall] = {}
    for event in events:
        if event.call_id is None:
            continue
        if event.type == "call.started":
            number_of[event.call_id] = number_of_ref.get(str(event.data.get("caller_ref", "")), "")
        number = number_of.get(event.call_id)
        if number is None:
            continue
        call = calls.setdefault(number, EngineCall())
        call.call_ids.add(event.call_id)
        call.seen[event.type] += 1
        if event.type == "call.started" and call.started_ts is None:
            call.started_ts = event.ts
        elif event.type == "call.answered":
            call.waited_s = event.data.get("waited_s")
            call.answered_ts = event.ts
        elif event.type == "call.ended":
            call.ended_cause = str(event.data.get("cause"))
    return calls


# --------------------------------------------------------------------------- accounting


@dataclass
class StepRun:
    """What was measured while a step ran, before the three views are joined."""

    index: int
    rate: float
    planned: list[str]
    sipp: dict[str, SippCall]
    sipp_successful: int
    sipp_failed: int
    sipp_created: int | None
    sipp_exit: int
    sipp_logs: str
    wall_s: float
    engine_cpu_s: float
    asterisk_cpu_s: float | None
    sipp_callers_cpu_s: float
    sipp_agents_cpu_s: float | None
    calls_processed: int | None
    active_after: int | None
    asterisk_warnings: dict[str, int] = field(default_factory=dict)


# A step keeps up when agents answer at least this share of the offered rate.
KEEP_UP = 0.85

# The furthest point a lost call reached, in call order.
LOSS_STAGES = (
    "not answered by Asterisk (no final SIP answer)",
    "Asterisk channel, IVR not reached",
    "IVR reached, not queued",
    "queued, no agent rang",
    "agent rang, not answered",
    "agent answered, engine saw no completion",
    "engine completed, caller saw no BYE",
)


def loss_stage(sipp: SippCall, engine: EngineCall | None, asterisk: list[AstChannel]) -> str:
    seen = engine.seen if engine else Counter()
    if seen["call.completed"]:
        return LOSS_STAGES[6]
    if seen["call.answered"] or any(channel.agent_answered for channel in asterisk):
        return LOSS_STAGES[5]
    if seen["call.agent_ringing"]:
        return LOSS_STAGES[4]
    if seen["call.queued"] or any(channel.parked for channel in asterisk):
        return LOSS_STAGES[3]
    if seen["call.started"]:
        return LOSS_STAGES[2]
    if asterisk or sipp.final_code == 200:
        return LOSS_STAGES[1]
    return LOSS_STAGES[0]


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def account(run: StepRun, engine: dict[str, EngineCall], asterisk: dict[str, list[AstChannel]], processed_before: int | None) -> dict[str, Any]:
    """Join sipp's, the engine's and Asterisk's view of one step; every placed call ends in one bucket."""
    by_number: dict[str, SippCall] = {}
    for call in run.sipp.values():
        if call.caller and call.invite_ts is not None:
            by_number[call.caller] = call
    offered = [number for number in run.planned if number in by_number]
    completed = [number for number in offered if by_number[number].completed]
    failed = Counter(f"SIP {by_number[number].final_code}" for number in offered if by_number[number].clear_failure)
    lost = [number for number in offered if not by_number[number].completed and not by_number[number].clear_failure]
    stages = Counter(loss_stage(by_number[number], engine.get(number), asterisk.get(number, [])) for number in lost)

    def engine_count(kind: str) -> int:
        return sum(1 for number in run.planned if engine.get(number) and engine[number].seen[kind])

    channels = [channel for number in run.planned for channel in asterisk.get(number, [])]
    asterisk_view = {
        "caller_channels": len(channels),
        "calls_with_channel": sum(1 for number in run.planned if asterisk.get(number)),
        "parked": sum(1 for channel in channels if channel.parked),
        "agent_answered": sum(1 for channel in channels if channel.agent_answered),
        "hangup_causes": dict(Counter(channel.hangup_cause or "still up" for channel in channels)),
        "calls_processed": (run.calls_processed - processed_before) if run.calls_processed is not None and processed_before is not None else None,
        "active_channels_after": run.active_after,
        "log_warnings": run.asterisk_warnings,
    }
    engine_view = {
        "reached_ivr": engine_count("call.started"),
        "queued": engine_count("call.queued"),
        "rang_agent": engine_count("call.agent_ringing"),
        "answered": engine_count("call.answered"),
        "completed": engine_count("call.completed"),
        "abandoned": engine_count("call.abandoned"),
        "ivr_errors": engine_count("ivr.error"),
    }
    # Cross-check, call by call: a call sipp completed must be completed for the engine and
    # answered by an agent for Asterisk; a call sipp never placed must be unknown to both.
    disagreements: list[str] = []
    for number in run.planned:
        sipp_done = number in by_number and by_number[number].completed
        engine_done = bool(engine.get(number) and engine[number].seen["call.completed"] == 1)
        asterisk_done = sum(channel.agent_answered for channel in asterisk.get(number, [])) == 1
        if not sipp_done == engine_done == asterisk_done:
            disagreements.append(f"{number}: sipp completed={sipp_done}, engine completed={engine_done}, asterisk agent answered={asterisk_done}")
    # Asterisk's two counts: its CLI's "calls processed" and the caller channels its AMI showed
    # (a call refused before the dialplan, e.g. SIP 488, has neither).
    if asterisk_view["calls_processed"] is not None and asterisk_view["calls_processed"] != asterisk_view["calls_with_channel"]:
        disagreements.append(
            f"Asterisk's CLI processed {asterisk_view['calls_processed']} calls, its AMI showed {asterisk_view['calls_with_channel']} caller channels"
        )
    if run.sipp_successful != len(completed):
        disagreements.append(f"sipp counted {run.sipp_successful} successful calls, its message log shows {len(completed)} completed")
    if run.active_after:
        disagreements.append(f"{run.active_after} Asterisk channels still up after the step drained")

    invites = sorted(by_number[number].invite_ts for number in offered)  # type: ignore[type-var]
    achieved = (len(invites) - 1) / (invites[-1] - invites[0]) if len(invites) > 1 and invites[-1] > invites[0] else None
    setup_ms = [
        (engine[number].started_ts - by_number[number].invite_ts) * 1000  # type: ignore[operator]
        for number in offered if engine.get(number) and engine[number].started_ts is not None
    ]
    waits = [engine[number].waited_s for number in offered if engine.get(number) and engine[number].waited_s is not None]
    answers = sorted(engine[number].answered_ts for number in offered if engine.get(number) and engine[number].answered_ts is not None)  # type: ignore[type-var]
    served = (len(answers) - 1) / (answers[-1] - answers[0]) if len(answers) > 1 and answers[-1] > answers[0] else None
    # Zero lost calls alone is not "sustained": above what the agents can take, callers
    # just wait longer and longer.  Agents must answer about as fast as calls arrive.
    keeps_up = served is not None and achieved is not None and served >= KEEP_UP * achieved
    sustained = not lost and not failed and not disagreements and len(offered) == len(run.planned) and keeps_up
    return {
        "rate_cps": run.rate,
        "planned": len(run.planned),
        "offered": len(offered),
        "offered_cps_achieved": _rounded(achieved, 2),
        "answered_cps": _rounded(served, 2),
        "keeps_up": keeps_up,
        "completed": len(completed),
        "failed_clearly": sum(failed.values()),
        "failures": dict(failed),
        "lost": len(lost),
        "lost_at": dict(stages),
        "lost_sample": lost[:5],
        "sipp": {
            "created": run.sipp_created, "successful": run.sipp_successful, "failed": run.sipp_failed, "exit": run.sipp_exit,
            # An INVITE sent again means Asterisk did not answer it within SIP's 500 ms timer.
            "invite_retransmissions": sum(max(0, by_number[number].invites_sent - 1) for number in offered),
            "logs": run.sipp_logs,
        },
        "engine": engine_view,
        "asterisk": asterisk_view,
        "consistent": not disagreements,
        "disagreements": disagreements[:10],
        "sustained": sustained,
        "invite_to_ivr_ms": {"p50": _rounded(percentile(setup_ms, 0.5), 1), "p99": _rounded(percentile(setup_ms, 0.99), 1)},
        "queue_wait_s": {"p50": _rounded(percentile(waits, 0.5), 3), "p99": _rounded(percentile(waits, 0.99), 3)},
        "wall_s": round(run.wall_s, 1),
        "cpu_share": {
            "engine": round(run.engine_cpu_s / run.wall_s, 3) if run.wall_s else None,
            "asterisk": round(run.asterisk_cpu_s / run.wall_s, 3) if run.wall_s and run.asterisk_cpu_s is not None else None,
            "sipp_callers": round(run.sipp_callers_cpu_s / run.wall_s, 3) if run.wall_s else None,
            "sipp_agents": round(run.sipp_agents_cpu_s / run.wall_s, 3) if run.wall_s and run.sipp_agents_cpu_s is not None else None,
        },
    }


def breakdown(step: dict[str, Any], agent_bound_cps: float | None = None) -> str:
    """Why a step is not sustained, in one line naming which part failed."""
    reasons = []
    if step["offered"] < step["planned"]:
        reasons.append(f"sipp placed {step['offered']} of {step['planned']} calls")
    if step["lost"]:
        reasons.append(f"{step['lost']} lost (" + ", ".join(f"{count} {stage}" for stage, count in step["lost_at"].items()) + ")")
    if step["failures"]:
        reasons.append("clear failures: " + ", ".join(f"{count}x {code}" for code, count in step["failures"].items()))
    if step["sipp"]["failed"]:
        reasons.append(f"sipp counted {step['sipp']['failed']} failed")
    abnormal = {cause: count for cause, count in step["asterisk"]["hangup_causes"].items() if not cause.startswith("16 ")}
    if abnormal:
        reasons.append("Asterisk hangup causes: " + ", ".join(f"{count}x {cause}" for cause, count in abnormal.items()))
    if not step["keeps_up"] and step["answered_cps"] is not None:
        bound = f"the agent phones alone could take about {agent_bound_cps:g}; " if agent_bound_cps else ""
        reasons.append(
            f"calls answered at {step['answered_cps']:g} cps of {step['offered_cps_achieved']:g} offered "
            f"({bound}queue wait p99 {step['queue_wait_s']['p99']} s)"
        )
    if step["sipp"]["invite_retransmissions"]:
        reasons.append(f"sipp re-sent {step['sipp']['invite_retransmissions']} INVITEs Asterisk left unanswered for 500 ms or more")
    overload = {text: count for text, count in step["asterisk"]["log_warnings"].items() if "taskprocessor" in text.lower()}
    if overload:
        reasons.append("Asterisk log: " + "; ".join(f"{count}x {text}" for text, count in overload.items()))
    if step["engine"]["ivr_errors"]:
        reasons.append(f"engine IVR errors: {step['engine']['ivr_errors']}")
    if step["disagreements"]:
        more = len(step["disagreements"]) - 1
        reasons.append(f"views disagree: {step['disagreements'][0]}" + (f" (and {more} more)" if more else ""))
    return "; ".join(reasons) or "not sustained"


# --------------------------------------------------------------------------- running it


def _cpu_of(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_of_all(pids: list[int]) -> float | None:
    times = [_cpu_of(pid) for pid in pids]
    return None if any(time_s is None for time_s in times) else sum(time_s for time_s in times if time_s is not None)


def _own_cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


async def _drain(watcher: AmiWatcher, limit_s: float) -> None:
    """Wait until Asterisk has no caller channel left (or ``limit_s`` passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while watcher.active_callers() and loop.time() < deadline:
        await asyncio.sleep(0.2)


async def run_cps(
    lab: CpsLab, work: Path, options: CpsOptions, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Run the steps against a lab that is already up; returns the result (JSON-ready)."""
    from acd.app import build_app
    from acd.lab.sipp import AwaitHangup, SippRunner
    from acd.settings import load_settings

    work.mkdir(parents=True, exist_ok=True)
    (work / "flows").mkdir(exist_ok=True)
    (work / "flows" / "cps.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(routing_text(options))
    recordings = lab.recordings_dir() if options.record else None
    (work / "acd.yaml").write_text(settings_text(lab, work, options, recordings))
    settings = load_settings(work / "acd.yaml", environ={"ACD_AMI_SECRET": lab.secret})
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    total_calls = sum(options.calls_in_step(rate) for rate in options.rates)
    asterisk_pid = lab.asterisk_pid()
    asterisk_log = lab.log_dir() / "messages.log"
    watcher = AmiWatcher(lab.ami_port, lab.ami_user, lab.secret)
    runs: list[StepRun] = []
    phones: list[int] = []
    processed_before: list[int | None] = []
    app = None
    try:
        # Phones first: the engine checks its agents' devices when it connects.
        for number in range(1, options.agents + 1):
            # The lab qualifies its last endpoint (an OPTIONS every second): that phone must answer them.
            qualified = number == lab.agents
            phone = await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=total_calls + 10, answer_after_s=options.answer_after_s,
                talk_s=options.talk_s, answers_options=qualified, timeout_s=36000,
            )
            phones.append(phone.process.pid)
        if options.agents >= lab.agents:
            await asyncio.sleep(1.5)  # one qualify round, so the engine finds the qualified phone reachable
        await watcher.start()
        app = build_app(settings)
        await app.engine.start()
        await app.engine.ami.wait_connected(15)
        await asyncio.sleep(1.0)  # agents logged in, device states read
        for index, rate in enumerate(options.rates, start=1):
            planned = [caller_number(index, call) for call in range(options.calls_in_step(rate))]
            processed_before.append(lab.channel_counts()[1])
            log_offset = _size(asterisk_log)
            cpu_before, child_before = _own_cpu()
            asterisk_before = _cpu_of(asterisk_pid)
            agents_before = _cpu_of_all(phones)
            started = time.monotonic()
            run_limit = options.hold_s * 3 + options.call_timeout_s + 30
            callers = await sipp.start_callers(
                f"step{index}-{rate:g}cps", [AwaitHangup(options.call_timeout_s)], calls=[(DIALED, number) for number in planned],
                rate=rate, concurrent=len(planned), timeout_s=run_limit,
            )
            result = await callers.wait(run_limit + 10)
            await _drain(watcher, 15)
            wall = time.monotonic() - started
            cpu_after, child_after = _own_cpu()
            asterisk_after = _cpu_of(asterisk_pid)
            agents_after = _cpu_of_all(phones)
            active, processed = lab.channel_counts()
            warnings = asterisk_warnings(_read_from(asterisk_log, log_offset))
            runs.append(StepRun(
                index=index, rate=rate, planned=planned, sipp=sipp_calls(result.messages), sipp_successful=result.successful,
                sipp_failed=result.failed, sipp_created=sipp_created(_read(callers.log_dir / "screen.log")),
                sipp_exit=result.returncode, sipp_logs=str(callers.log_dir), wall_s=wall, engine_cpu_s=cpu_after - cpu_before,
                asterisk_cpu_s=(asterisk_after - asterisk_before) if asterisk_after is not None and asterisk_before is not None else None,
                sipp_callers_cpu_s=child_after - child_before,
                sipp_agents_cpu_s=(agents_after - agents_before) if agents_after is not None and agents_before is not None else None,
                calls_processed=processed, active_after=active, asterisk_warnings=warnings,
            ))
            placed = [call for call in runs[-1].sipp.values() if call.invite_ts is not None]
            done = sum(1 for call in placed if call.completed)
            failed = sum(1 for call in placed if call.clear_failure)
            progress(f"step {index}: {rate:g} cps x {options.hold_s:g} s: placed {len(placed)}/{len(planned)}, "
                     f"completed {done}, clear failures {failed}, lost {len(placed) - done - failed} ({wall:.1f} s)")
            if (done != len(planned)) and not options.keep_going:
                break
            await asyncio.sleep(options.wrap_up_s + 0.3)  # the last agents' wrap-up ends before the next step
    finally:
        await sipp.stop_all()
        if app is not None:
            await app.engine.stop(grace_s=2)
        await watcher.close()
        active, _ = lab.channel_counts()
        if active:
            lab.cli("channel request hangup all")  # a killed sipp sends no BYE: leave the lab clean
    engine = await engine_calls(work / "acd.sqlite", [number for run in runs for number in run.planned])
    asterisk = watcher.by_caller()
    steps = [account(run, engine, asterisk, before) for run, before in zip(runs, processed_before)]
    if recordings is not None:
        _remove_recordings(recordings, engine)
    return summarise(steps, options, lab, work, watcher.events)


def _remove_recordings(folder: Path, engine: dict[str, EngineCall]) -> None:
    """The run's own recordings (named by engine call id) are not left in the shared lab folder."""
    for call in engine.values():
        for call_id in call.call_ids:
            for path in folder.glob(f"{call_id}.*"):
                with contextlib.suppress(OSError):
                    path.unlink()


def summarise(steps: list[dict[str, Any]], options: CpsOptions, lab: CpsLab, work: Path, ami_events: int) -> dict[str, Any]:
    sustained = None
    broke: dict[str, Any] | None = None
    for step in steps:
        if step["sustained"]:
            sustained = step["rate_cps"]
        else:
            broke = {"rate_cps": step["rate_cps"], "why": breakdown(step, options.agent_bound_cps)}
            break
    clean = None  # the last rate before the first step that lost, failed or could not place a call
    for step in steps:
        if step["lost"] or step["failed_clearly"] or step["offered"] < step["planned"]:
            break
        clean = step["rate_cps"]
    return {
        "benchmark": "calls_per_second",
        "sustained_cps": sustained,
        "zero_lost_max_cps": clean,
        "broke_at": broke,
        "all_steps_sustained": broke is None,
        "steps": steps,
        "setup": {
            **{key: value for key, value in asdict(options).items() if key != "rates"},
            "rates": list(options.rates),
            "agent_bound_cps": options.agent_bound_cps,
            "lab": lab.name,
            "ami_events_watched": ami_events,
            "flow": "branch on dialed number -> queue (FastAGI), music on hold, AMI redirect to Dial",
            "notes": [
                "invite_to_ivr_ms includes Asterisk's Answer() waiting up to 500 ms for the caller's first media "
                "frame: sipp callers send no RTP, so about 500 ms of it is the lab, not the engine",
                "the benchmark's own AMI connection (the Asterisk count) adds one AMI session of load to Asterisk",
            ],
        },
        "machine": machine_info(),
        "logs": str(work),
    }


def table(result: dict[str, Any]) -> str:
    """The human-readable summary: one line per step, then the figure and where it broke."""
    setup = result["setup"]
    lines = [
        f"cps bench on lab {setup['lab']}: {setup['agents']} agent phones (answer {setup['answer_after_s']:g} s, talk {setup['talk_s']:g} s, "
        f"wrap-up {setup['wrap_up_s']:g} s: the agents alone take about {setup['agent_bound_cps']:g} cps), {setup['hold_s']:g} s per step",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, {result['machine']['python']}",
        "",
        f"{'offered':>7} {'got':>5} {'placed':>6} {'ivr':>5} {'queued':>6} {'answd':>5} {'done':>5} {'fail':>4} {'LOST':>4} "
        f"{'ast.ans':>7} {'ans/s':>5} {'setup p99':>9} {'wait p99':>8} {'cpu eng/ast/phones':>18}  ok",
    ]

    def show(value: float | None, suffix: str = "") -> str:
        return "-" if value is None else f"{value:g}{suffix}"

    for step in result["steps"]:
        engine, asterisk, cpu = step["engine"], step["asterisk"], step["cpu_share"]
        share = "/".join("-" if cpu[part] is None else f"{cpu[part]:.0%}" for part in ("engine", "asterisk", "sipp_agents"))
        lines.append(
            f"{step['rate_cps']:>7g} {show(step['offered_cps_achieved']):>5} {step['offered']:>6} {engine['reached_ivr']:>5} {engine['queued']:>6} "
            f"{engine['answered']:>5} {step['completed']:>5} {step['failed_clearly']:>4} {step['lost']:>4} {asterisk['agent_answered']:>7} "
            f"{show(step['answered_cps']):>5} {show(step['invite_to_ivr_ms']['p99'], ' ms'):>9} {show(step['queue_wait_s']['p99'], ' s'):>8} "
            f"{share:>18}  {'yes' if step['sustained'] else 'NO'}"
        )
    lines.append("")
    lines.append(f"sustained (zero lost, zero failed, three views agree, agents keeping up): {show(result['sustained_cps'], ' cps') if result['sustained_cps'] is not None else 'no step'}")
    lines.append(f"highest rate with zero lost and zero failed calls: {show(result['zero_lost_max_cps'], ' cps') if result['zero_lost_max_cps'] is not None else 'no step'}")
    if result["broke_at"]:
        lines.append(f"broke at {result['broke_at']['rate_cps']:g} cps: {result['broke_at']['why']}")
    else:
        lines.append("no step broke: try higher --rates")
    lines.append(f"logs: {result['logs']}")
    return "\n".join(lines)


_LOG_LINE = re.compile(r"^\[[^\]]+\] (WARNING|ERROR)\[[^\]]*\](?:\[[^\]]*\])? ([^:]+): (.*)$", re.MULTILINE)


_NUMBER = re.compile(r"\b[0-9]+\b")


def asterisk_warnings(log_text: str, top: int = 5) -> dict[str, int]:
    """Asterisk's own warnings and errors while a step ran, grouped (numbers blanked), most frequent first.

    This is where Asterisk says it is overloaded (e.g. a task processor queue reaching its
    high-water mark, during which chan_pjsip leaves new INVITEs unanswered).
    """
    counts: Counter[str] = Counter()
    for level, source, text in _LOG_LINE.findall(log_text):
        counts[f"{level} {source}: {_NUMBER.sub('N', text.strip())[:120]}"] += 1
    return dict(counts.most_common(top))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", default="8,16,32,64,96,128", metavar="R[,R...]", help="offered calls per second, one step each, increasing (default 8,16,32,64,96,128)")
    parser.add_argument("--hold", type=float, default=5.0, metavar="S", help="seconds each step offers calls (default 5)")
    parser.add_argument("--agents", type=int, default=None, help=f"agent phones (default: {OWN_LAB_AGENTS} on its own lab, at most 8 on a test slot's lab)")
    parser.add_argument("--talk", type=float, default=0.3, metavar="S", help="agent talk time in seconds (default 0.3)")
    parser.add_argument("--answer-after", type=float, default=0.1, metavar="S", help="agent ring time before answering (default 0.1)")
    parser.add_argument("--wrap-up", type=float, default=0.0, metavar="S", help="queue wrap-up seconds (default 0)")
    parser.add_argument("--call-timeout", type=float, default=60.0, metavar="S", help="a caller still up this long after answering is lost (default 60)")
    parser.add_argument("--keep-going", action="store_true", help="run every step even after one lost calls")
    parser.add_argument("--no-record", action="store_true", help="do not record agent connections (the product records them all)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT if set, else a lab of its own named 'cps'); "
                        "a slot lab running with another AMI secret is restarted unless $ACD_AMI_SECRET holds its secret")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards (it is stopped only if this run started it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the table goes to stderr)")


def parse_rates(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"--rates {text!r}: expected numbers separated by commas, e.g. 2,4,8") from None


def chosen_slot(slot: int | None) -> int | None:
    """``--slot``, else ``$ACD_TEST_LAB_SLOT``, else None (a lab of the bench's own).

    Raises ValueError with the message for the user when it is not a slot 0-9."""
    if slot is None and os.environ.get("ACD_TEST_LAB_SLOT", "").strip():
        try:
            slot = int(os.environ["ACD_TEST_LAB_SLOT"])
        except ValueError:
            raise ValueError(f"ACD_TEST_LAB_SLOT must be a whole number, got {os.environ['ACD_TEST_LAB_SLOT']!r}") from None
    if slot is not None and not 0 <= slot <= 9:
        raise ValueError("--slot must be between 0 and 9")
    return slot


def run_from_args(args: argparse.Namespace) -> int:
    from acd.app import AppError
    from acd.asterisk.ami import AmiNotConnected
    from acd.logs import configure_logging
    from acd.metrics.store import StoreError

    prog = "acd bench cps"
    try:
        slot = chosen_slot(args.slot)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        rates = parse_rates(args.rates)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    agents = args.agents if args.agents is not None else (8 if slot is not None else OWN_LAB_AGENTS)
    options = CpsOptions(
        rates=rates, hold_s=args.hold, agents=agents, answer_after_s=args.answer_after, talk_s=args.talk,
        wrap_up_s=args.wrap_up, call_timeout_s=args.call_timeout, keep_going=args.keep_going, record=not args.no_record,
    )
    problems = options.problems(8 if slot is not None else MAX_AGENTS)
    if problems:
        for problem in problems:
            print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else CpsLab.own(agents, secret)
    configure_logging("warning")
    was_running = lab.sh("status", timeout_s=20).returncode == 0
    print(f"{prog}: bringing up lab {lab.name} (SIP {lab.sip_port}, AMI {lab.ami_port}) …", file=sys.stderr, flush=True)
    up = lab.sh("up")
    if up.returncode != 0:
        print(f"{prog}: the lab did not start:\n{up.stderr.strip()}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="acd-cps-bench-"))
    try:
        result = asyncio.run(run_cps(lab, work, options, progress=lambda line: print(line, file=sys.stderr, flush=True)))
    except (ConnectionError, OSError, asyncio.TimeoutError, AmiNotConnected, AppError, StoreError) as exc:
        print(f"{prog}: the run failed: {exc or type(exc).__name__} (logs: {work})", file=sys.stderr)
        return 1
    finally:
        if not was_running and not args.keep_lab:
            lab.sh("down", timeout_s=60)
    if args.json:
        print(json.dumps(result, indent=2))
        print(table(result), file=sys.stderr)
    else:
        print(table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd bench cps", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
