"""``acd bench lab-soak``: the engine's memory and CPU under real traffic for a long while.

``acd bench soak`` runs a simulated day through the in-process engine on a virtual clock:
fast, but with a fake Asterisk side.  This one is the same question on the real lab: the
engine runs as its own process (``acd run``, as in :mod:`acd.bench.faults`), sipp callers
arrive at a steady rate for ``--minutes``, go through the IVR (FastAGI), wait in the queue
and talk to sipp agent phones over AMI-driven rings; SQLite is written as in production.

Every ``--sample`` seconds the engine's resident set (``/proc/<pid>/status``) and CPU
time (``/proc/<pid>/stat``) are read.  After the warm-up (the first third) the growth per
hour is the least-squares slope of the RSS samples, and bytes per call that slope over the
calls of an hour: a per-call structure kept after its call shows as a straight line.  Then
the traffic stops and the engine's idle CPU is measured (no calls: timers, pings,
heartbeats only) — issue 20's goal is ≤ 0.5 % of a core.

    acd bench lab-soak --minutes 30 --rate 2 --json     # its own lab "faults"
    ACD_TEST_LAB_SLOT=3 acd bench lab-soak --minutes 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from acd.bench.call_views import sipp_calls
from acd.bench.cps_lab import DIALED, CpsLab, CpsOptions, caller_number, chosen_slot, routing_text, run_on_lab
from acd.bench.faults import FLOW, EngineProcess, FaultOptions, own_lab, settings_text
from acd.bench.machine import machine_info, slope
from acd.bounds import number_arg

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 10.0
    rate: float = 2.0
    agents: int = 8
    sample_s: float = 15.0
    idle_s: float = 30.0
    patience_s: float = 90.0


def process_sample(pid: int) -> tuple[int, float] | None:
    """(RSS in kB, CPU seconds so far) of ``pid``, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss, (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def growth(samples: list[dict[str, float]], rate_cps: float) -> dict[str, float | None]:
    """RSS growth after the warm-up (the first third of the traffic): per hour and per call."""
    if not samples:
        return {"mb_per_hour": None, "bytes_per_call": None}
    end = samples[-1]["t_s"]
    after = [(s["t_s"], s["rss_kb"]) for s in samples if s["t_s"] >= end / 3]
    kb_per_s = slope(after)
    return {
        "mb_per_hour": round(kb_per_s * 3600 / 1024, 2),
        "bytes_per_call": round(kb_per_s * 1024 / rate_cps, 1) if rate_cps > 0 else None,
    }


async def run_lab_soak(lab: CpsLab, work: Path, options: SoakOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    from acd.lab.sipp import AwaitHangup, SippRunner

    faults = FaultOptions(rate=options.rate, agents=options.agents)
    (work / "flows").mkdir(parents=True, exist_ok=True)
    (work / "flows" / "faults.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(routing_text(CpsOptions(agents=options.agents, wrap_up_s=faults.wrap_up_s)))
    api_port = lab.agi_port + 567
    (work / "acd.yaml").write_text(settings_text(lab, work, faults, api_port))
    engine = EngineProcess(work, lab, api_port, secrets.token_hex(16))
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    duration = options.minutes * 60
    planned = [caller_number(900, call) for call in range(max(1, round(options.rate * duration)))]
    samples: list[dict[str, float]] = []
    idle: dict[str, float] | None = None
    engine.start()
    try:
        for number in range(1, options.agents + 1):
            await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=1_000_000, answer_after_s=faults.answer_after_s,
                talk_s=faults.talk_s, timeout_s=duration + 3600,
            )
        await engine.ready()
        await asyncio.sleep(1.5)
        pid = engine.pid
        assert pid is not None
        callers = await sipp.start_callers(
            "soak", [AwaitHangup(options.patience_s)], calls=[(DIALED, number) for number in planned], rate=options.rate,
            concurrent=len(planned), timeout_s=duration * 2 + options.patience_s + 120,
        )
        started = time.monotonic()
        while time.monotonic() - started < duration:
            await asyncio.sleep(options.sample_s)
            sample = process_sample(pid)
            if sample is None:
                raise RuntimeError(f"the engine died during the soak; see {work}")
            samples.append({"t_s": round(time.monotonic() - started, 1), "rss_kb": sample[0], "cpu_s": sample[1]})
            progress(f"  t+{samples[-1]['t_s']:.0f}s RSS {sample[0] / 1024:.1f} MB, CPU {sample[1]:.1f} s")
        result = await callers.wait(duration + options.patience_s + 120)
        await asyncio.sleep(5.0)  # the last wrap-ups and event batches
        before = process_sample(pid)
        await asyncio.sleep(options.idle_s)
        after = process_sample(pid)
        if before is not None and after is not None:
            idle = {"seconds": options.idle_s, "cpu_percent_of_a_core": round(100 * (after[1] - before[1]) / options.idle_s, 2)}
    finally:
        await engine.stop()
        await sipp.stop_all()
    calls = sipp_calls(result.messages)
    completed = sum(1 for call in calls.values() if call.completed)  # answered, then hung up by Asterisk
    busy = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 3] if samples else []
    cpu_ms_per_call = (
        round(1000 * (busy[-1]["cpu_s"] - busy[0]["cpu_s"]) / ((busy[-1]["t_s"] - busy[0]["t_s"]) * options.rate), 2)
        if len(busy) >= 2 and busy[-1]["t_s"] > busy[0]["t_s"] else None
    )
    return {
        "benchmark": "lab-soak",
        "setup": {"minutes": options.minutes, "rate_cps": options.rate, "agents": options.agents, "lab": lab.name,
                  "flow": "play hello-world (FastAGI) -> queue -> AMI redirect to Dial -> SQLite"},
        "calls": {"placed": len(planned), "completed": completed, "failed": sum(1 for call in calls.values() if call.clear_failure)},
        "rss_mb": {"first": round(samples[0]["rss_kb"] / 1024, 1) if samples else None,
                   "last": round(samples[-1]["rss_kb"] / 1024, 1) if samples else None},
        "growth_after_warmup": growth(samples, options.rate),
        "engine_cpu_ms_per_call": cpu_ms_per_call,
        "idle": idle,
        "samples": samples,
        "machine": machine_info(),
        "logs": str(work),
    }


def describe(result: dict[str, Any]) -> str:
    grow, idle = result["growth_after_warmup"], result["idle"] or {}
    return (
        f"lab soak: {result['setup']['minutes']:g} min at {result['setup']['rate_cps']:g} calls/s on lab {result['setup']['lab']}: "
        f"{result['calls']['completed']}/{result['calls']['placed']} completed; engine RSS {result['rss_mb']['first']} -> "
        f"{result['rss_mb']['last']} MB, after warm-up {grow['mb_per_hour']} MB/h ({grow['bytes_per_call']} B/call); "
        f"engine CPU {result['engine_cpu_ms_per_call']} ms/call; idle {idle.get('cpu_percent_of_a_core')} % of a core"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=number_arg(0.5, 24 * 60), default=10.0, help="minutes of traffic (default 10)")
    parser.add_argument("--rate", type=number_arg(0.1, 5), default=2.0, help="callers per second (default 2; 8 phones take about 2)")
    parser.add_argument("--sample", type=number_arg(1, 600), default=15.0, metavar="S", help="seconds between samples (default 15)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT if set, else the lab 'faults')")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the summary goes to stderr)")


def run_from_args(args: argparse.Namespace) -> int:
    prog = "acd bench lab-soak"
    try:
        slot = chosen_slot(args.slot)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    options = SoakOptions(minutes=args.minutes, rate=args.rate, sample_s=min(args.sample, args.minutes * 20))
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else own_lab(secret)
    return run_on_lab(prog, lab, lambda work, progress: run_lab_soak(lab, work, options, progress=progress), describe, as_json=args.json)
