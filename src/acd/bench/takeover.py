"""Hot standby under sipp traffic: two ``acd run`` on one PostgreSQL, the leader killed -9, again and again.

Both engines run as their own processes (``ha.enabled``, the store on a throwaway Debian
PostgreSQL this harness starts), beside one Asterisk lab, on the same host: the standby
opens no port until it leads.  Each has its own FastAGI address, as on two machines:
the lab's ``ACD_AGI`` is node-a's, ``ACD_AGI_STANDBY`` node-b's, and the dialplan tries
the second when the first cannot be reached (README "Hot standby").  They share the API
port (only the leader serves it), so the harness asks whichever leads.  sipp callers arrive steadily, hear
a prompt, wait on hold and are answered by sipp agent phones.  ``--kills`` times, once
callers wait on hold and an agent rings, the leader gets SIGKILL; the standby takes the
lease, starts (AMI login, resynchronisation: parked callers re-queued with their wait)
and the killed engine comes back as the new standby.

Figures: the takeover time (SIGKILL to the new leader's API saying AMI is connected)
p50/max, and the fault harness's counts (:mod:`acd.bench.fault_views`): callers lost,
agents rung while talking, callers connected twice, agents in a wrong state, and
``acd report --format json`` on the PostgreSQL store against sipp.

    acd bench takeover --json                          # its own lab "faults", 10 kills
    ACD_TEST_LAB_SLOT=2 acd bench takeover --kills 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from acd.bench.call_views import engine_calls, sipp_calls
from acd.bench.cps_lab import DIALED, CpsLab, CpsOptions, caller_number, chosen_slot, routing_text, run_on_lab
from acd.bench.fault_views import Injection, KindRun, account
from acd.bench.faults import FLOW, GATE_S, EngineProcess, FaultOptions, LedgerWatcher, _dialogs, _drain, _gate, _report_total, own_lab, settings_text
from acd.bench.machine import machine_info
from acd.bounds import number_arg

KIND = "takeover"
NEEDS = ("hold", "ringing")


@dataclass(frozen=True)
class TakeoverOptions:
    """Traffic as ``acd bench faults`` (2 calls/s, 8 phones), a kill every 8-12 s, the lease's production timers."""

    kills: int = 10
    seed: int = 0
    rate: float = 2.0
    agents: int = 8
    answer_after_s: float = 0.8
    talk_s: float = 2.5
    wrap_up_s: float = 0.3
    gap_s: tuple[float, float] = (8.0, 12.0)
    warmup_s: float = 6.0
    tail_s: float = 10.0
    patience_s: float = 120.0
    lease_s: float = 5.0
    renew_s: float = 0.5


class PairNode(EngineProcess):
    """One engine of the pair: its own folder (settings, keys, logs), the shared store in its environment."""

    def __init__(self, work: Path, lab: CpsLab, api_port: int, token: str, env: dict[str, str]) -> None:
        super().__init__(work, lab, api_port, token)
        self.env = env

    def start(self) -> None:
        self.starts += 1
        log = open(self.work / f"engine-{self.starts}.log", "wb")
        env = {**os.environ, **self.env, "ACD_AMI_SECRET": self.lab.secret, "ACD_API_TOKEN": self.token}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "acd", "run", "--settings", str(self.work / "acd.yaml"), "--grace", "5"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        finally:
            log.close()

    def log_text(self) -> str:
        try:
            return (self.work / f"engine-{self.starts}.log").read_text(errors="replace")
        except OSError:
            return ""

    async def watching(self, timeout_s: float = 60) -> None:
        """Wait until this node says it is the standby (it reached the lease and saw the leader)."""
        began = time.monotonic()
        while "; watching" not in self.log_text():
            if self.process is None or self.process.poll() is not None or time.monotonic() - began > timeout_s:
                raise RuntimeError(f"{self.work.name} did not become the standby; see {self.work}/engine-{self.starts}.log")
            await asyncio.sleep(0.1)


def node_settings(lab: CpsLab, work: Path, root: Path, options: TakeoverOptions, api_port: int, agi_port: int) -> str:
    """The fault harness's settings (flows and routing shared in ``root``), plus the lease."""
    text = settings_text(lab, root, FaultOptions(agents=options.agents), api_port)
    text = text.replace(f"agi:\n  port: {lab.agi_port}\n", f"agi:\n  port: {agi_port}\n")
    text = text.replace(f"database: {root / 'acd.sqlite'}", f"database: {work / 'acd.sqlite'}")
    text = text.replace(f"database: {root / 'callbacks.sqlite'}", f"database: {work / 'callbacks.sqlite'}")
    return text + f"ha:\n  enabled: true\n  node: {work.name}\n  lease_s: {options.lease_s:g}\n  renew_s: {options.renew_s:g}\n"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


async def run_takeover(lab: CpsLab, work: Path, options: TakeoverOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """The pair on ``lab`` (already up) and a throwaway PostgreSQL; kills, traffic, the figures."""
    from acd.lab.postgres import Postgres
    from acd.lab.sipp import SippRunner

    rng = random.Random(options.seed)
    wall = time.monotonic()
    postgres = await asyncio.to_thread(Postgres)
    await asyncio.to_thread(postgres.start)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    nodes: list[PairNode] = []
    problems: list[str] = []
    try:
        url = await asyncio.to_thread(postgres.create_database, "acd")
        # as README "Hot standby" says: one pseudonym key and one FastAGI key for both nodes
        env = {"ACD_STORE_URL": url, "ACD_PRIVACY_KEY": secrets.token_hex(32), "ACD_AGI_KEY": secrets.token_hex(16)}
        (work / "flows").mkdir(parents=True, exist_ok=True)
        (work / "flows" / "faults.yaml").write_text(FLOW)
        (work / "routing.yaml").write_text(routing_text(CpsOptions(agents=options.agents, wrap_up_s=options.wrap_up_s)))
        api_port, token = lab.agi_port + 567, secrets.token_hex(16)  # as acd bench faults: free in the slot's port block
        agi_ports = (lab.agi_port, lab.agi_port + 1)  # the second: free in the slot's port block, as the API's
        for name, agi_port in zip(("node-a", "node-b"), agi_ports):
            folder = work / name
            folder.mkdir()
            (folder / "acd.yaml").write_text(node_settings(lab, folder, work, options, api_port, agi_port))
            nodes.append(PairNode(folder, lab, api_port, token, env))
        # Left set afterwards: a dead second address only fails again where the first failed.
        lab.cli(f"dialplan set global ACD_AGI_STANDBY agi://127.0.0.1:{agi_ports[1]}")
        for number in range(1, options.agents + 1):
            await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=100000, answer_after_s=options.answer_after_s,
                talk_s=options.talk_s, answers_options=number == lab.agents, timeout_s=36000,
            )
        watcher = LedgerWatcher(lab.ami_port, lab.watch_user, lab.secret)
        await watcher.start()
        try:
            nodes[0].start()
            await nodes[0].ready(60)
            nodes[1].start()
            await nodes[1].watching()
            await asyncio.sleep(1.0)
            figures = await _traffic(lab, work, options, rng, watcher, sipp, nodes, url, env, problems, progress)
        finally:
            await watcher.close()
    finally:
        for node in reversed(nodes):  # the standby first, so it does not take over from the leader's clean stop
            code = await node.stop()
            if code not in (0, None):
                problems.append(f"{node.work.name}'s final stop exited {code}")
        await sipp.stop_all()
        await asyncio.to_thread(postgres.close)
    figures["problems"] = problems
    figures["ok"] = figures["ok"] and not problems
    return {
        "benchmark": "takeover",
        "seed": options.seed,
        "ok": figures["ok"],
        "takeover_s": figures.pop("takeover_s"),
        "kinds": [figures],
        "setup": {
            "kills": options.kills, "rate_cps": options.rate, "agents": options.agents, "lease_s": options.lease_s,
            "renew_s": options.renew_s, "lab": lab.name, "store": "PostgreSQL (Debian, throwaway cluster)",
            "shape": "two acd run on one host (FastAGI on two ports: ACD_AGI, ACD_AGI_STANDBY), one PostgreSQL, SIGKILL to the leader",
        },
        "wall_s": round(time.monotonic() - wall, 1),
        "machine": machine_info(),
        "logs": str(work),
    }


async def _traffic(
    lab: CpsLab, work: Path, options: TakeoverOptions, rng: random.Random, watcher: LedgerWatcher, sipp: Any,
    nodes: list[PairNode], url: str, env: dict[str, str], problems: list[str], progress: Callable[[str], None],
) -> dict[str, Any]:
    from acd.lab.sipp import AwaitHangup

    plan, at = [], options.warmup_s
    for _ in range(options.kills):
        plan.append(at)
        at += rng.uniform(*options.gap_s)
    duration = plan[-1] + GATE_S + options.tail_s
    planned = [caller_number(9, call) for call in range(max(1, round(options.rate * duration)))]
    injections: list[Injection] = []
    took: list[float] = []
    leader = 0
    started = time.time()
    callers = await sipp.start_callers(
        KIND, [AwaitHangup(options.patience_s)], calls=[(DIALED, number) for number in planned], rate=options.rate,
        concurrent=len(planned), timeout_s=duration * 3 + options.patience_s + 60,
    )
    for repetition, offset in enumerate(plan, start=1):
        await asyncio.sleep(max(0.0, started + offset - time.time()))
        states = await _gate(watcher, NEEDS, GATE_S)
        injection = Injection(repetition, KIND, time.time(), states)
        dead, heir = nodes[leader], nodes[1 - leader]
        dead.kill(signal.SIGKILL)
        if dead.process is not None:
            await asyncio.to_thread(dead.process.wait)
        try:
            seconds = await heir.ready(60)
            took.append(seconds)
            injection.notes = [f"{dead.work.name} killed (SIGKILL); {heir.work.name} led with AMI up {seconds:.2f} s later"]
            leader = 1 - leader
            dead.start()
            await dead.watching()
        except RuntimeError as exc:
            injection.notes = [str(exc)]
            problems.append(f"kill {repetition}: {exc}")
        injections.append(injection)
        progress(f"  kill #{repetition} at t+{injection.ts - started:.1f}s with {states}: {'; '.join(injection.notes)}")
    result = await callers.wait(duration * 3 + options.patience_s + 90)
    await _drain(watcher, 30)
    await asyncio.sleep(options.wrap_up_s + 1.5)
    agents = None
    try:
        agents = await asyncio.to_thread(nodes[leader].get, "/agents")
    except Exception as exc:  # noqa: BLE001 - httpx or JSON: a figure, not a crash
        problems.append(f"GET /api/agents failed at the end: {exc}")
    if watcher.ledger.active_callers():
        lab.cli("channel request hangup all")
    report = await asyncio.to_thread(_report_total, nodes[leader].work, started - 60, time.time() + 60, {**os.environ, **env})
    if report is None:
        problems.append(f"acd report failed (see {nodes[leader].work}/report.err)")
    run = KindRun(
        kind=KIND, planned=planned, sipp=sipp_calls(result.messages), dialogs=_dialogs(sipp, options.agents, set(planned)),
        ledger=watcher.ledger, engine=await _engine_calls(nodes[0].work, planned, url, env), agents=agents,
        report_total=report, injections=injections, started_ts=started, problems=problems,
    )
    figures = account(run)
    figures["takeover_s"] = {
        "each": [round(t, 2) for t in took], "p50": round(statistics.median(took), 2) if took else None,
        "max": round(max(took), 2) if took else None, "p90": round(percentile(took, 0.9), 2) if took else None,
    }
    return figures


async def _engine_calls(folder: Path, planned: list[str], url: str, env: dict[str, str]) -> Any:
    """The engines' record of each caller, from the shared store, pseudonyms by the pair's key."""
    saved = os.environ.get("ACD_PRIVACY_KEY")
    os.environ["ACD_PRIVACY_KEY"] = env["ACD_PRIVACY_KEY"]
    try:
        return await engine_calls(folder / "acd.sqlite", planned, store_url=url)
    finally:
        if saved is None:
            os.environ.pop("ACD_PRIVACY_KEY", None)
        else:
            os.environ["ACD_PRIVACY_KEY"] = saved


def summary(result: dict[str, Any]) -> str:
    kind, took = result["kinds"][0], result["takeover_s"]
    drift = kind["report_drift"]["drift"]
    lines = [
        f"takeover on lab {result['setup']['lab']}, seed {result['seed']}: {len(took['each'])} of {result['setup']['kills']} kills taken over; "
        f"takeover p50 {took['p50']} s, p90 {took['p90']} s, max {took['max']} s (lease_s {result['setup']['lease_s']:g}, renew_s {result['setup']['renew_s']:g})",
        f"placed {kind['placed']}, lost {kind['lost']}, rung while talking {kind['double_rings']}, connected twice {kind['connected_twice']}, "
        f"wrong states {kind['wrong_states']}, report - sipp: {drift}",
    ]
    for rep in kind["per_repetition"]:
        lines.append(f"  #{rep['repetition']} at {rep['at']} with {rep['states']}: lost {rep['lost']}, rung while talking {rep['double_rings']} ({'; '.join(rep['notes'])})")
    lines += [f"  harness: {problem}" for problem in kind["problems"]]
    lines.append(f"{'all zero' if result['ok'] else 'NOT all zero'} ({result['wall_s']:g} s); logs: {result['logs']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kills", type=number_arg(1, 100, integer=True), default=10, help="SIGKILLs of the leader (default 10)")
    parser.add_argument("--seed", type=number_arg(0, 2**31, integer=True), default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--rate", type=number_arg(0.1, 20), default=2.0, help="callers per second (default 2)")
    parser.add_argument("--agents", type=number_arg(1, 8, integer=True), default=8, help="agent phones (default 8)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT if set, else its own lab 'faults')")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards (stopped only if this run started it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the summary goes to stderr)")


def run_from_args(args: argparse.Namespace) -> int:
    prog = "acd bench takeover"
    try:
        slot = chosen_slot(args.slot)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    options = TakeoverOptions(kills=args.kills, seed=seed, rate=args.rate, agents=args.agents)
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else own_lab(secret)
    return run_on_lab(
        prog, lab, lambda work, progress: run_takeover(lab, work, options, progress=progress), summary,
        as_json=args.json, keep_lab=args.keep_lab, note=f"seed {seed}; ",
    )
