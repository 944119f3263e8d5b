"""The cps benchmark's lab and traffic: which lab, how many phones, the flow, routing and
settings the engine runs with, and how callers are numbered.

Shared by ``acd bench cps`` (:mod:`acd.bench.cps_bench`), ``acd bench faults``
(:mod:`acd.bench.faults`) and ``acd bench lab-soak``: they drive the same centre, one to find its rate, the other to
break it while it runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from acd.checkout import lab_script


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

    @property
    def watch_user(self) -> str:
        """The benchmarks' own AMI user (manager.conf ``[<user>-watch]``): every event, unlike
        the engine's, which Asterisk filters down to the few the engine reads."""
        return f"{self.ami_user}-watch"

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

    def asterisk_uid(self) -> int | None:
        """The user Asterisk runs as (for ``agi.asterisk_uid``); None if not on this machine."""
        pid = self.asterisk_pid()
        try:
            return os.stat(f"/proc/{pid}").st_uid if pid is not None else None
        except OSError:
            return None

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
    uid = lab.asterisk_uid()
    return (
        f"agi:\n  port: {lab.agi_port}\n"
        + (f"  asterisk_uid: {uid}\n" if uid is not None else "")
        + f"ami:\n  port: {lab.ami_port}\n  username: {lab.ami_user}\n"
        f"ivr:\n  flows_dir: {work / 'flows'}\n"
        f"routing:\n  config: {work / 'routing.yaml'}\n  auto_login: [{', '.join(agent_ids(options.agents))}]\n"
        f"metrics:\n  database: {work / 'acd.sqlite'}\n"
        f"callbacks:\n  database: {work / 'callbacks.sqlite'}\n"
        + recording
        + "api:\n  enabled: false\nlog:\n  level: warning\n"
    )


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of a process so far, from /proc (None when it cannot be read)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wake_ups(pid: int | None) -> int | None:
    """Times a process's threads went to sleep and were woken (voluntary context switches),
    summed over the threads it has now, from /proc; None when it cannot be read.

    A count, so the machine's other load does not move it the way it moves CPU time: each
    wake-up costs a trip through the kernel and the event loop whatever the work it brings.
    """
    if pid is None:
        return None
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split(":", 1)[1])
            except (OSError, ValueError):
                continue  # a thread that ended meanwhile
    except OSError:
        return None
    return total


def caller_number(step: int, index: int) -> str:
    """Chilean-looking mobile number that encodes the step and the call: 569 SS NNNNNN."""
    return f"569{step:02d}{index:06d}"



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


def run_on_lab(
    prog: str,
    lab: CpsLab,
    run: Callable[[Path, Callable[[str], None]], Awaitable[dict[str, Any]]],
    describe: Callable[[dict[str, Any]], str],
    *,
    as_json: bool,
    keep_lab: bool = False,
    note: str = "",
) -> int:
    """Bring ``lab`` up (down again after, unless it was up already or ``keep_lab``), run the
    benchmark in a fresh folder, print its JSON (``as_json``; the summary to stderr) or its
    summary.  0 with figures, 1 when the lab or the run failed: figures are not a verdict."""
    print(f"{prog}: {note}bringing up lab {lab.name} (SIP {lab.sip_port}, AMI {lab.ami_port}) …", file=sys.stderr, flush=True)
    was_running = lab.sh("status", timeout_s=20).returncode == 0
    up = lab.sh("up")
    if up.returncode != 0:
        print(f"{prog}: the lab did not start:\n{up.stderr.strip()}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix=f"acd-{prog.split()[-1]}-"))
    try:
        result = asyncio.run(run(work, lambda line: print(line, file=sys.stderr, flush=True)))
    except (ConnectionError, OSError, asyncio.TimeoutError, RuntimeError) as exc:
        print(f"{prog}: the run failed: {exc or type(exc).__name__} (logs: {work})", file=sys.stderr)
        return 1
    finally:
        if not was_running and not keep_lab:
            lab.sh("down", timeout_s=60)
    if as_json:
        print(json.dumps(result, indent=2))
        print(describe(result), file=sys.stderr)
    else:
        print(describe(result))
    return 0
