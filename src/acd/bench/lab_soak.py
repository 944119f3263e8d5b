"""``acd bench lab-soak``: the engine's memory and CPU under real traffic for a long while.

``acd bench soak`` runs a simulated day through the in-process engine on a virtual clock:
fast, but with a fake Asterisk side.  This one is the same question on the real lab: the
engine runs as its own process (``acd run``, as in :mod:`acd.bench.faults`), sipp callers
arrive at a steady rate for ``--minutes``, go through the IVR (FastAGI), wait in the queue
and talk to sipp agent phones over AMI-driven rings; SQLite is written as in production.

Every ``--sample`` seconds the engine's resident set (``/proc/<pid>/status``), CPU time
(``/proc/<pid>/stat``) and where the resident pages lie (``/proc/<pid>/smaps``: glibc's main
arena ``[heap]``, anonymous mappings — the other malloc arenas, Python's own arenas, thread
stacks —, and files) are read.  After the warm-up (the first third) growth is the
least-squares slope of the samples with its 95 % confidence interval
(:func:`acd.bench.machine.slope_interval`), given per 1,000 calls, per day of the help line
(≈ 2,000 calls) and per hour at its peak (≈ 700 calls/h), with a verdict against
``FLAT_BYTES_PER_CALL``: *flat* when the whole interval lies below it, *not flat* when
the whole interval lies above, else *undecided* (run longer).  Calls are what matter, not
hours: a faster rate compresses a day of the help line into minutes.  Then the traffic
stops and the engine's idle CPU is measured (no calls: timers, pings, heartbeats only) —
issue 20's goal is ≤ 0.5 % of a core.

    acd bench lab-soak --minutes 30 --rate 2 --json     # its own lab "faults"
    ACD_TEST_LAB_SLOT=6 acd bench lab-soak --minutes 15 --rate 4 --answer 0.3 --talk 0.5   # ~1.7 help-line days
    ACD_TEST_LAB_SLOT=6 acd bench lab-soak --minutes 15 --rate 4 --answer 0.3 --talk 0.5 --trim-every 0  # without the housekeeping
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from acd.bench.call_views import sipp_calls
from acd.bench.cps_lab import DIALED, CpsLab, CpsOptions, caller_number, chosen_slot, routing_text, run_on_lab
from acd.bench.faults import FLOW, EngineProcess, FaultOptions, own_lab, settings_text
from acd.bench.machine import FLAT_BYTES_PER_CALL, Slope, flat_verdict, machine_info, slope_interval
from acd.bounds import number_arg
from acd.metrics import ledger
from acd.settings import MemorySettings

TICKS = os.sysconf("SC_CLK_TCK")

# The help line (README, `acd bench reports`: a month of 43,830 calls on ~21.7 business days
# of 9 hours, the busiest hour 3 x the average): what a day and a peak hour of it are.
HELP_LINE_DAY_CALLS = 2_000
HELP_LINE_PEAK_CALLS_PER_HOUR = 700


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 10.0
    rate: float = 2.0
    agents: int = 8
    sample_s: float = 15.0
    idle_s: float = 30.0
    patience_s: float = 90.0
    answer_after_s: float = FaultOptions.answer_after_s
    talk_s: float = FaultOptions.talk_s
    trim_every_s: float | None = None  # the engine's memory.trim_every_s (None: its default)
    warm_up_min: float | None = None  # minutes left out of the growth (None: the first third)


def process_sample(pid: int) -> tuple[int, float] | None:
    """(RSS in kB, CPU seconds so far) of ``pid``, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss, (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def memory_map(pid: int) -> dict[str, int] | None:
    """Resident kB of ``pid`` by kind of mapping: ``heap`` (glibc's main arena), ``anon`` (other
    malloc arenas, Python's arenas, thread stacks), ``file`` (code, SQLite's shared memory)."""
    kinds = {"heap": 0, "anon": 0, "file": 0}
    kind = "anon"
    try:
        with open(f"/proc/{pid}/smaps") as smaps:
            for line in smaps:
                if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                    fields = line.split()
                    name = fields[5] if len(fields) > 5 else ""
                    kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
                elif line.startswith("Rss:"):
                    kinds[kind] += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return kinds


def _interval(points: list[tuple[float, float]]) -> dict[str, float]:
    return {"value": round(points[0][1], 1), "low": round(points[1][1], 1), "high": round(points[2][1], 1)} if points else {}


def growth(samples: list[dict[str, float]], rate_cps: float, key: str = "rss_kb", warm_up_s: float | None = None) -> dict[str, Any]:
    """Growth of ``key`` after the warm-up (``warm_up_s``; default the first third of the traffic):
    per hour, per call (each with its 95 % interval), per 1,000 calls, per help-line day and peak
    hour; the verdict."""
    start = (samples[-1]["t_s"] / 3 if warm_up_s is None else warm_up_s) if samples else 0.0
    after = [(s["t_s"], s[key]) for s in samples if key in s and s["t_s"] >= start] if samples else []
    if len(after) < 3 or rate_cps <= 0:
        return {"mb_per_hour": None, "bytes_per_call": None, "verdict": "undecided"}
    kb_per_s = slope_interval(after)
    per_call = kb_per_s.scaled(1024 / rate_cps)  # bytes

    def ranged(value: Slope, digits: int) -> dict[str, float]:
        return {"value": round(value.value, digits), "low": round(value.low, digits), "high": round(value.high, digits)}

    verdict = flat_verdict(per_call)
    return {
        "mb_per_hour": round(kb_per_s.value * 3600 / 1024, 2),
        "bytes_per_call": round(per_call.value, 1),
        "bytes_per_call_95": ranged(per_call, 1),
        "kb_per_1000_calls_95": ranged(per_call.scaled(1000 / 1024), 1),
        "mb_per_help_line_day_95": ranged(per_call.scaled(HELP_LINE_DAY_CALLS / 1024**2), 2),
        "mb_per_peak_hour_95": ranged(per_call.scaled(HELP_LINE_PEAK_CALLS_PER_HOUR / 1024**2), 3),
        "threshold_bytes_per_call": FLAT_BYTES_PER_CALL,
        "verdict": verdict,
    }


async def run_lab_soak(lab: CpsLab, work: Path, options: SoakOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    from acd.lab.sipp import AwaitHangup, SippRunner

    faults = FaultOptions(rate=options.rate, agents=options.agents, answer_after_s=options.answer_after_s, talk_s=options.talk_s)
    (work / "flows").mkdir(parents=True, exist_ok=True)
    (work / "flows" / "faults.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(routing_text(CpsOptions(agents=options.agents, wrap_up_s=faults.wrap_up_s)))
    api_port = lab.agi_port + 567
    memory = "memory:\n  report_every_s: 60\n" + (f"  trim_every_s: {options.trim_every_s:g}\n" if options.trim_every_s is not None else "")
    (work / "acd.yaml").write_text(settings_text(lab, work, faults, api_port) + memory)
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
            kinds = memory_map(pid) or {}
            samples.append({"t_s": round(time.monotonic() - started, 1), "rss_kb": sample[0], "cpu_s": sample[1],
                            **{f"{kind}_kb": kb for kind, kb in kinds.items()}})
            progress(f"  t+{samples[-1]['t_s']:.0f}s RSS {sample[0] / 1024:.1f} MB "
                     f"({', '.join(f'{kind} {kb / 1024:.1f}' for kind, kb in kinds.items())}), CPU {sample[1]:.1f} s")
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
                  "answer_after_s": options.answer_after_s, "talk_s": options.talk_s,
                  "trim_every_s": options.trim_every_s if options.trim_every_s is not None else MemorySettings().trim_every_s,
                  "flow": "play hello-world (FastAGI) -> queue -> AMI redirect to Dial -> SQLite"},
        "calls": {"placed": len(planned), "completed": completed, "failed": sum(1 for call in calls.values() if call.clear_failure)},
        "rss_mb": {"first": round(samples[0]["rss_kb"] / 1024, 1) if samples else None,
                   "last": round(samples[-1]["rss_kb"] / 1024, 1) if samples else None},
        "growth_after_warmup": growth(samples, options.rate, warm_up_s=None if options.warm_up_min is None else options.warm_up_min * 60),
        "growth_by_mapping": {kind: growth(samples, options.rate, f"{kind}_kb") for kind in ("heap", "anon", "file")},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "engine_cpu_ms_per_call": cpu_ms_per_call,
        "idle": idle,
        "samples": samples,
        "machine": machine_info(),
        "logs": str(work),
    }


def _span(figure: dict[str, float] | None, unit: str) -> str:
    return f"{figure['value']:g} {unit} [{figure['low']:g}, {figure['high']:g}]" if figure else "n/a"


def describe(result: dict[str, Any]) -> str:
    grow, idle = result["growth_after_warmup"], result["idle"] or {}
    kinds = result.get("growth_by_mapping") or {}
    where = ", ".join(f"{kind} {_span(g.get('bytes_per_call_95'), 'B/call')}" for kind, g in kinds.items())
    return (
        f"lab soak: {result['setup']['minutes']:g} min at {result['setup']['rate_cps']:g} calls/s on lab {result['setup']['lab']} "
        f"(malloc_trim every {result['setup'].get('trim_every_s'):g} s, 0 = off; load average {result.get('load_average')}): "
        f"{result['calls']['completed']}/{result['calls']['placed']} completed; engine RSS {result['rss_mb']['first']} -> "
        f"{result['rss_mb']['last']} MB; after warm-up (95 % intervals) {_span(grow.get('bytes_per_call_95'), 'B/call')} = "
        f"{_span(grow.get('kb_per_1000_calls_95'), 'kB per 1,000 calls')} = {_span(grow.get('mb_per_help_line_day_95'), 'MB per help-line day')} = "
        f"{_span(grow.get('mb_per_peak_hour_95'), 'MB/h at its peak')} ({grow['mb_per_hour']} MB/h at this rate); "
        f"verdict against {FLAT_BYTES_PER_CALL:g} B/call: {grow['verdict'].upper()}; by mapping: {where}; "
        f"engine CPU {result['engine_cpu_ms_per_call']} ms/call; idle {idle.get('cpu_percent_of_a_core')} % of a core"
        + window_note(result["setup"]["minutes"])
    )


def window_note(minutes: float) -> str:
    """A run shorter than the live figures' window of finished calls counts that window filling up as growth."""
    if minutes * 60 >= ledger.EXTRA_WINDOW_S + 900:
        return ""
    return (f"\nnote: {minutes:g} min is inside the live figures' {ledger.EXTRA_WINDOW_S / 3600:g} h window of finished calls "
            "(ledger.EXTRA_WINDOW_S: each call's queue and skills, kept for late surveys; bounded by time, not calls): "
            "at a compressed rate it fills for the whole run and reads as growth (Python objects, the anon mapping); "
            "past it, `acd bench soak` measures hours")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=number_arg(0.5, 24 * 60), default=10.0, help="minutes of traffic (default 10)")
    parser.add_argument("--rate", type=number_arg(0.1, 10), default=2.0, help="callers per second (default 2; 8 phones take about 2, more with --talk 0.5 --answer 0.3)")
    parser.add_argument("--answer", type=number_arg(0.1, 10), default=FaultOptions.answer_after_s, metavar="S", help=f"seconds an agent phone rings (default {FaultOptions.answer_after_s:g})")
    parser.add_argument("--talk", type=number_arg(0.2, 60), default=FaultOptions.talk_s, metavar="S", help=f"seconds of talk (default {FaultOptions.talk_s:g})")
    parser.add_argument("--trim-every", type=number_arg(0, 3600), default=None, metavar="S", help="the engine's memory.trim_every_s (default: its own, 60; 0: no malloc_trim, to compare)")
    parser.add_argument("--warm-up", type=number_arg(0, 24 * 60), default=None, metavar="MINUTES",
                        help="minutes left out of the growth (default: the first third; the live figures' 1 h window "
                        "of finished calls fills during the first hour, so 60+ to see past it)")
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
    options = SoakOptions(minutes=args.minutes, rate=args.rate, sample_s=min(args.sample, args.minutes * 20),
                          answer_after_s=args.answer, talk_s=args.talk, trim_every_s=args.trim_every)
    if args.warm_up is not None and args.warm_up >= args.minutes:
        print(f"{prog}: --warm-up {args.warm_up:g} must be shorter than --minutes {args.minutes:g}", file=sys.stderr)
        return 2
    options = replace(options, warm_up_min=args.warm_up)
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else own_lab(secret)
    return run_on_lab(prog, lab, lambda work, progress: run_lab_soak(lab, work, options, progress=progress), describe, as_json=args.json)
