"""Fault harness on the real lab: steady sipp traffic while AMI drops, Asterisk freezes and the engine dies.

The engine runs as its own process (``acd run``), so it can be killed with SIGKILL and
started again on the same database.  sipp callers arrive at a steady rate, hear a short
prompt in the IVR, wait in a queue and are connected to sipp agent phones that ring
briefly and talk a few seconds.  For each fault kind, the fault is injected ``--repeat``
times at random moments (seeded RNG, the seed is printed), each once the callers are in
the states that fault is about:

* ``ami-drop`` — the engine's AMI TCP connection is destroyed (``ss -K``) while an agent rings;
* ``freeze``  — Asterisk gets SIGSTOP for ``--freeze`` seconds, then SIGCONT;
* ``kill9``   — SIGKILL to the engine with callers in the IVR, on hold, ringing and talking,
  started again 1–2 s later;
* ``restart`` — SIGTERM (graceful stop) with agents on calls, then started again.

With ``--backlog N`` each fault also waits (up to ``BACKLOG_GATE_S``) until at least N callers
are parked on hold: the offered rate is then above what the agent phones take (by default
1.5 x their capacity), so a queue builds up and every fault hits a backlog — the re-queue
after kill9/restart, the rings after an AMI drop or a freeze, all with callers waiting.  A
fault injected with fewer than N on hold is a harness problem (the run is not ok); the
counting is the same.

After the traffic drained, each kind is counted three ways (:mod:`acd.bench.fault_views`):
callers lost, agents rung while talking, callers connected twice, agents left in a wrong
state (the engine's API) and ``acd report`` against sipp.  Done when all are zero.

    acd bench faults --json                          # its own lab "faults", every kind x5
    ACD_TEST_LAB_SLOT=3 acd bench faults --kinds kill9 --repeat 2 --seed 7
    ACD_TEST_LAB_SLOT=6 acd bench faults --repeat 2 --backlog 5      # every kind with >= 5 callers on hold

Long on purpose: one harness run end to end (engine process, injections, gates, draining,
the command line); the counting it is judged by lives apart in :mod:`acd.bench.fault_views`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import httpx

from acd.bounds import number_arg
from acd.bench.machine import machine_info
from acd.bench.call_views import AmiWatcher, engine_calls, sipp_calls
from acd.bench.cps_lab import DIALED, QUEUE, CpsLab, CpsOptions, agent_ids, caller_number, chosen_slot, routing_text, run_on_lab
from acd.bench.fault_views import AgentDialog, AmiLedger, Injection, KindRun, account, agent_dialogs, totals

KINDS = ("ami-drop", "freeze", "kill9", "restart")
# Which callers must be present before each fault is injected (waited for up to GATE_S).
NEEDS = {"ami-drop": ("ringing",), "freeze": ("ringing", "talking"), "kill9": ("ivr", "hold", "ringing", "talking"), "restart": ("hold", "talking")}
GATE_S = 6.0
BACKLOG_GATE_S = 30.0  # a backlog builds at (rate - capacity) callers a second

FLOW = f"""\
name: faults
numbers: ["{DIALED}"]
entry: saludo
nodes:
  saludo: {{type: play, prompt: hello-world, next: cola}}
  cola: {{type: queue, queue: {QUEUE}, fallback: fin}}
  fin: {{type: hangup}}
"""


@dataclass(frozen=True)
class FaultOptions:
    """The traffic and the faults; defaults are the issue's: 2 calls/s, 8 agent phones, each fault x5."""

    kinds: tuple[str, ...] = KINDS
    repeat: int = 5
    seed: int = 0
    rate: float = 2.0
    agents: int = 8
    # The phones take about 8 / (0.8 + 2.5 + 0.3 + ~0.5 s of signalling) = 2 calls/s: the
    # offered rate, so callers wait on hold (what kill9/restart must re-queue) without the
    # queue growing much.
    answer_after_s: float = 0.8
    talk_s: float = 2.5
    wrap_up_s: float = 0.3
    gap_s: tuple[float, float] = (6.0, 10.0)
    warmup_s: float = 6.0
    tail_s: float = 10.0
    freeze_s: float = 3.0
    patience_s: float = 90.0
    backlog: int = 0  # callers that must be on hold at each injection (0: no such gate)

    def capacity_cps(self) -> float:
        """Calls a second the agent phones take (ring, talk, wrap-up and ~0.5 s of signalling each)."""
        return self.agents / (self.answer_after_s + self.talk_s + self.wrap_up_s + 0.5)

    def problems(self, max_agents: int) -> list[str]:
        out = []
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            out.append(f"--kinds: choose among {', '.join(KINDS)} (got {', '.join(unknown) or 'none'})")
        if not 1 <= self.repeat <= 100:
            out.append("--repeat: between 1 and 100")
        if not 0.1 <= self.rate <= 20:
            out.append("--rate: between 0.1 and 20 calls per second")
        if not 1 <= self.agents <= max_agents:
            out.append(f"--agents: between 1 and {max_agents} for this lab")
        if not 0.5 <= self.freeze_s <= 30:
            out.append("--freeze: between 0.5 and 30 seconds")
        if not 0 <= self.backlog <= 100:
            out.append("--backlog: between 0 and 100 callers on hold")
        elif self.backlog and self.rate < 1.2 * self.capacity_cps():
            out.append(f"--backlog {self.backlog}: --rate {self.rate:g} does not build a queue; the {self.agents} phones take "
                       f"about {self.capacity_cps():.1f} calls/s, offer at least 1.2 x that (or leave --rate out: 1.5 x)")
        return out


# --------------------------------------------------------------------------- the engine process


class EngineProcess:
    """``acd run`` as a child process on fixed settings, so the harness can kill and restart it."""

    def __init__(self, work: Path, lab: CpsLab, api_port: int, token: str) -> None:
        self.work, self.lab, self.api_port, self.token = work, lab, api_port, token
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self) -> None:
        self.starts += 1
        log = open(self.work / f"engine-{self.starts}.log", "wb")
        env = {**os.environ, "ACD_AMI_SECRET": self.lab.secret, "ACD_API_TOKEN": self.token}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "acd", "run", "--settings", str(self.work / "acd.yaml"), "--grace", "5"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        finally:
            log.close()

    def get(self, path: str) -> Any:
        response = httpx.get(f"http://127.0.0.1:{self.api_port}/api{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=2)
        response.raise_for_status()
        return response.json()

    async def ready(self, timeout_s: float = 20) -> float:
        """Seconds until the API says AMI is connected; raises if the engine died or took too long."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the engine exited (code {self.process.returncode if self.process else '?'}); see {self.work}/engine-{self.starts}.log")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if (await asyncio.to_thread(self.get, "/health")).get("ami_connected"):
                    return time.monotonic() - started
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the engine was not ready within {timeout_s:g} s; see {self.work}/engine-{self.starts}.log")

    def kill(self, sig: int) -> None:
        if self.pid is not None:
            os.kill(self.pid, sig)

    async def stop(self, timeout_s: float = 15) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            for _ in range(int(timeout_s * 10)):
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        return self.process.returncode


def settings_text(lab: CpsLab, work: Path, options: FaultOptions, api_port: int) -> str:
    """The engine's own defaults except where to find things: the faults meet production timers."""
    return (
        f"agi:\n  port: {lab.agi_port}\n"
        f"ami:\n  port: {lab.ami_port}\n  username: {lab.ami_user}\n"
        f"ivr:\n  flows_dir: {work / 'flows'}\n"
        f"routing:\n  config: {work / 'routing.yaml'}\n  auto_login: [{', '.join(agent_ids(options.agents))}]\n"
        f"metrics:\n  database: {work / 'acd.sqlite'}\n"
        f"callbacks:\n  database: {work / 'callbacks.sqlite'}\n"
        "recording:\n  enabled: false\n"
        f"continuity:\n  cel_database: {lab.log_dir() / 'cel.db'}\n"
        f"api:\n  port: {api_port}\n"
        "log:\n  level: info\n"
    )


# --------------------------------------------------------------------------- the faults


class LedgerWatcher(AmiWatcher):
    """cps_bench's independent AMI connection, recording into an :class:`AmiLedger`."""

    def __init__(self, port: int, username: str, secret: str) -> None:
        super().__init__(port, username, secret)
        self.ledger = AmiLedger()

    def handle(self, event: dict[str, str]) -> None:
        self.ledger.handle(event, time.time())

    def active_callers(self) -> int:
        return self.ledger.active_callers()


_SS_PEER = re.compile(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)")


def drop_ami(ami_port: int, engine_pid: int) -> list[str]:
    """Destroy the engine's AMI TCP connection (``ss -K``, needs root); what happened, as notes."""
    listing = subprocess.run(["ss", "-tnpH", "state", "established", "dport", "=", f":{ami_port}"], capture_output=True, text=True, timeout=10)
    ports = [local for local, _, pid in _SS_PEER.findall(listing.stdout) if int(pid) == engine_pid]
    if not ports:
        return [f"no AMI connection of the engine (pid {engine_pid}) found to drop"]
    notes = []
    for port in ports:
        killed = subprocess.run(["ss", "-K", "-tnH", "sport", "=", f":{port}", "dport", "=", f":{ami_port}"], capture_output=True, text=True, timeout=10)
        notes.append(f"dropped the engine's AMI socket 127.0.0.1:{port}" if killed.stdout.strip() else f"ss -K did not destroy 127.0.0.1:{port}: {killed.stderr.strip()}")
    return notes


async def inject(kind: str, engine: EngineProcess, lab: CpsLab, options: FaultOptions, rng: random.Random) -> list[str]:
    """Inject one fault; returns what happened (recovery times, trouble)."""
    if kind == "ami-drop":
        notes = drop_ami(lab.ami_port, engine.pid or -1)
        await asyncio.sleep(0.3)
        notes.append(f"engine AMI connected again after {0.3 + await engine.ready():.2f} s")
        return notes
    if kind == "freeze":
        pid = lab.asterisk_pid()
        if pid is None:
            return ["no Asterisk pid (docker back end?): not frozen"]
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(options.freeze_s)
        finally:
            os.kill(pid, signal.SIGCONT)
        return [f"Asterisk (pid {pid}) frozen {options.freeze_s:g} s; engine AMI up {await engine.ready():.2f} s later"]
    if kind == "kill9":
        engine.kill(signal.SIGKILL)
        await asyncio.to_thread(engine.process.wait) if engine.process else None
        down = rng.uniform(1.0, 2.0)
        await asyncio.sleep(down)
        engine.start()
        return [f"engine killed (SIGKILL), down {down:.2f} s, ready {await engine.ready():.2f} s after start"]
    code = await engine.stop()
    engine.start()
    return [f"engine stopped gracefully (exit {code}), ready {await engine.ready():.2f} s after start"]


async def _gate(watcher: LedgerWatcher, needs: tuple[str, ...], limit_s: float, on_hold: int = 0) -> dict[str, int]:
    """Wait (up to ``limit_s``) until callers are in every state the fault needs and at least
    ``on_hold`` are parked; the states at the end."""
    deadline = time.monotonic() + limit_s
    while True:
        states = watcher.ledger.states()
        if (all(states[need] for need in needs) and states["hold"] >= on_hold) or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- one kind


async def run_kind(
    kind: str, index: int, lab: CpsLab, root: Path, options: FaultOptions, rng: random.Random,
    watcher: LedgerWatcher, sipp: Any, progress: Callable[[str], None],
) -> dict[str, Any]:
    """Traffic with ``options.repeat`` faults of one kind, drained and counted."""
    from acd.lab.sipp import AwaitHangup

    work = root / kind
    (work / "flows").mkdir(parents=True, exist_ok=True)
    (work / "flows" / "faults.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(routing_text(CpsOptions(agents=options.agents, wrap_up_s=options.wrap_up_s)))
    api_port = lab.agi_port + 567  # slot N: 15740 + 200·N (free in the slot's block); own lab: 17540
    (work / "acd.yaml").write_text(settings_text(lab, work, options, api_port))
    token = secrets.token_hex(16)
    engine = EngineProcess(work, lab, api_port, token)
    problems: list[str] = []
    plan, at = [], options.warmup_s
    for _ in range(options.repeat):
        plan.append(at)
        at += rng.uniform(*options.gap_s)
    gate_s = BACKLOG_GATE_S if options.backlog else GATE_S
    duration = plan[-1] + gate_s + options.tail_s
    planned = [caller_number(index, call) for call in range(max(1, round(options.rate * duration)))]
    injections: list[Injection] = []
    engine.start()
    try:
        await engine.ready()
        await asyncio.sleep(1.0)  # agents logged in, device states read
        started = time.time()
        callers = await sipp.start_callers(
            kind, [AwaitHangup(options.patience_s)], calls=[(DIALED, number) for number in planned], rate=options.rate,
            concurrent=len(planned), timeout_s=duration * 3 + options.patience_s + 60,
        )
        for repetition, offset in enumerate(plan, start=1):
            await asyncio.sleep(max(0.0, started + offset - time.time()))
            states = await _gate(watcher, NEEDS[kind], gate_s, options.backlog)
            injection = Injection(repetition, kind, time.time(), states)
            if states["hold"] < options.backlog:
                problems.append(f"repetition {repetition}: injected with {states['hold']} on hold, fewer than --backlog {options.backlog}")
            try:
                injection.notes = await inject(kind, engine, lab, options, rng)
            except RuntimeError as exc:
                injection.notes = [str(exc)]
                problems.append(f"repetition {repetition}: {exc}")
                if engine.pid is None:
                    engine.start()
            injections.append(injection)
            progress(f"  {kind} #{repetition} at t+{injection.ts - started:.1f}s with {states}: {'; '.join(injection.notes)}")
        result = await callers.wait(duration * 3 + options.patience_s + 90)
        await _drain(watcher, 30)
        await asyncio.sleep(options.wrap_up_s + 1.5)
        try:
            agents = await asyncio.to_thread(engine.get, "/agents")
        except (httpx.HTTPError, ValueError) as exc:
            agents = None
            problems.append(f"GET /api/agents failed at the end: {exc}")
    finally:
        code = await engine.stop()
        if code not in (0, None):
            problems.append(f"the engine's final graceful stop exited {code}")
        if watcher.ledger.active_callers():
            lab.cli("channel request hangup all")  # a caller stuck on hold would stay in the lab
    report = await asyncio.to_thread(_report_total, work, started - 60, time.time() + 60)
    if report is None:
        problems.append(f"acd report failed (see {work}/report.err)")
    run = KindRun(
        kind=kind, planned=planned, sipp=sipp_calls(result.messages), dialogs=_dialogs(sipp, options.agents, set(planned)),
        ledger=watcher.ledger, engine=await engine_calls(work / "acd.sqlite", planned), agents=agents,
        report_total=report, injections=injections, started_ts=started, problems=problems,
    )
    figures = account(run)
    figures["logs"] = str(work)
    return figures


def _dialogs(sipp: Any, agents: int, callers: set[str]) -> list[AgentDialog]:
    """The agent phones' dialogs for this kind's callers (the phones serve every kind in turn)."""
    out = []
    for number in range(1, agents + 1):
        for folder in sorted(sipp.log_dir.glob(f"*-agent{number}")):
            out += [d for d in agent_dialogs(f"agent{number}", _read(folder / "messages.log")) if d.caller in callers]
    return out


def _report_total(work: Path, start: float, end: float, env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``acd report --format json`` over the run's database, as an operator would run it; its total row."""
    from datetime import datetime, timezone

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")

    done = subprocess.run(
        [sys.executable, "-m", "acd", "report", "--settings", str(work / "acd.yaml"), "--format", "json",
         "--from", iso(start), "--to", iso(end), "--interval", "day"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    (work / "report.json").write_text(done.stdout)
    (work / "report.err").write_text(done.stderr)
    if done.returncode != 0:
        return None
    try:
        return dict(json.loads(done.stdout)["total"])
    except (ValueError, KeyError, TypeError):
        return None


async def _drain(watcher: LedgerWatcher, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while watcher.ledger.active_callers() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- all kinds


async def run_faults(lab: CpsLab, work: Path, options: FaultOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Every kind in turn on a lab that is already up (one set of agent phones, one engine database per kind)."""
    from acd.lab.sipp import SippRunner

    rng = random.Random(options.seed)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    kinds: list[dict[str, Any]] = []
    wall = time.monotonic()
    try:
        for number in range(1, options.agents + 1):
            await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=100000, answer_after_s=options.answer_after_s,
                talk_s=options.talk_s, answers_options=number == lab.agents, timeout_s=36000,
            )
        await asyncio.sleep(1.5)  # one qualify round for the qualified phone
        for index, kind in enumerate(options.kinds, start=1):
            watcher = LedgerWatcher(lab.ami_port, lab.watch_user, lab.secret)
            await watcher.start()
            try:
                backlog = f", >= {options.backlog} on hold at each" if options.backlog else ""
                progress(f"{kind}: {options.repeat} fault(s){backlog}, {options.rate:g} calls/s, {options.agents} agent phones")
                kinds.append(await run_kind(kind, index, lab, work, options, rng, watcher, sipp, progress))
            finally:
                await watcher.close()
            progress("  " + _line(kinds[-1]))
    finally:
        await sipp.stop_all()
    return {
        "benchmark": "faults",
        "seed": options.seed,
        "ok": all(kind["ok"] for kind in kinds),
        "totals": totals(kinds),
        "kinds": kinds,
        "setup": {
            "rate_cps": options.rate, "agents": options.agents, "answer_after_s": options.answer_after_s, "talk_s": options.talk_s,
            "wrap_up_s": options.wrap_up_s, "repeat": options.repeat, "gap_s": list(options.gap_s), "freeze_s": options.freeze_s,
            "backlog": options.backlog, "capacity_cps": round(options.capacity_cps(), 2), "lab": lab.name, "flow": "play hello-world (FastAGI) -> queue -> AMI redirect to Dial",
        },
        "wall_s": round(time.monotonic() - wall, 1),
        "machine": machine_info(),
        "logs": str(work),
    }


def _line(kind: dict[str, Any]) -> str:
    drift = kind["report_drift"]["drift"]
    shown = "report failed" if drift is None else ", ".join(f"{key} {value:+d}" for key, value in drift.items())
    return (f"{kind['kind']:<8} x{kind['repetitions']}: placed {kind['placed']}, lost {kind['lost']}, rung while talking {kind['double_rings']}, "
            f"connected twice {kind['connected_twice']}, wrong states {kind['wrong_states']}, report - sipp: {shown}  "
            f"{'ok' if kind['ok'] else 'FAIL'}")


def summary(result: dict[str, Any]) -> str:
    """The human summary: one line per kind, then the first few failures of each, explained."""
    backlog = result["setup"].get("backlog")
    lines = [f"faults on lab {result['setup']['lab']}, seed {result['seed']}, {result['setup']['rate_cps']:g} calls/s, "
             f"{result['setup']['agents']} agent phones" + (f", backlog >= {backlog} on hold at each fault" if backlog else "")
             + f" ({result['wall_s']:g} s)"]
    for kind in result["kinds"]:
        lines.append(_line(kind))
        for rep in kind["per_repetition"]:
            lines.append(f"  #{rep['repetition']} at {rep['at']} with {rep['states']}: lost {rep['lost']}, rung while talking "
                         f"{rep['double_rings']}, connected twice {rep['connected_twice']} ({'; '.join(rep['notes'])})")
        for what, items in kind["details"].items():
            for item in items[:3]:
                lines.append(f"    {what}: {json.dumps(item, sort_keys=True)}")
            if len(items) > 3:
                lines.append(f"    {what}: … {len(items) - 3} more in the JSON")
        lines += [f"    harness: {problem}" for problem in kind["problems"]]
    lines.append(f"done-when figures {'all zero' if result['ok'] else 'NOT all zero'}; logs: {result['logs']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kinds", default=",".join(KINDS), metavar="K[,K...]", help=f"fault kinds, in order (default {','.join(KINDS)})")
    parser.add_argument("--repeat", type=number_arg(1, 100, integer=True), default=5, help="faults per kind, at random moments (default 5)")
    parser.add_argument("--seed", type=number_arg(0, 2**31, integer=True), default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--rate", type=number_arg(0.1, 20), default=None, help="callers per second (default 2; with --backlog 1.5 x the phones' capacity)")
    parser.add_argument("--backlog", type=number_arg(0, 100, integer=True), default=0, metavar="N",
                        help="inject each fault with at least N callers on hold (offered load above the agents' capacity; default 0: no such gate)")
    parser.add_argument("--agents", type=number_arg(1, 8, integer=True), default=8, help="agent phones (default 8)")
    parser.add_argument("--freeze", type=number_arg(0.5, 30), default=3.0, metavar="S", help="seconds Asterisk stays frozen (default 3)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT if set, else its own lab 'faults')")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards (stopped only if this run started it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the summary goes to stderr)")


def own_lab(secret: str) -> CpsLab:
    """A lab of its own ("faults"), on a port block no test slot (0-9) or the cps bench uses."""
    env = {
        "ACD_LAB_NAME": "faults", "ACD_LAB_SIP_PORT": "17460", "ACD_LAB_AMI_PORT": "17438", "ACD_LAB_AGI_PORT": "16973",
        "ACD_LAB_AGENT_PORT": "17480", "ACD_LAB_AGENTS": "8", "ACD_LAB_RTP_START": "33000",
    }
    return CpsLab._from_env(env, 8, secret)


def run_from_args(args: argparse.Namespace) -> int:
    prog = "acd bench faults"
    try:
        slot = chosen_slot(args.slot)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    options = FaultOptions(
        kinds=tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip()), repeat=args.repeat, seed=seed,
        rate=args.rate or 2.0, agents=args.agents, freeze_s=args.freeze, backlog=args.backlog,
    )
    if args.backlog and args.rate is None:
        options = replace(options, rate=round(1.5 * options.capacity_cps(), 1))
    problems = options.problems(8)
    if problems:
        for problem in problems:
            print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else own_lab(secret)
    # figures, not a verdict (as every bench): "ok" in the JSON, asserted by tests/lab/test_faults_e2e.py
    return run_on_lab(
        prog, lab, lambda work, progress: run_faults(lab, work, options, progress=progress), summary,
        as_json=args.json, keep_lab=args.keep_lab, note=f"seed {seed}; ",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd bench faults", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
