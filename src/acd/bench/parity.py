"""Benchmark on the real lab: the same traffic through Asterisk's app_queue and through ``acd``.

One lab, alternating runs (app_queue, acd, then acd, app_queue, …), the same sipp callers,
agent phones, prompt and hold music on both sides (:mod:`acd.bench.parity_lab`).  For each
offered rate and side it prints the median over the repeats of:

* CPU ms per call of Asterisk (``/proc`` of its pid) and of the engine (``/proc`` of the
  ``acd run`` process; nothing on the app_queue side), over the whole run;
* dispatch latency p50/p99: agent free → the next INVITE to that phone, for a caller who was
  already waiting (:func:`acd.bench.parity_views.dispatch_latencies`);
* answered calls per second, the callers' wait p50 (queue entry → agent answer);
* lost calls (placed, neither completed nor refused with a SIP error);
* AMI events Asterisk generated per call, as the bench's own unfiltered AMI session counted
  them: a count the machine's noise cannot move, of the work each side asks of Asterisk
  beyond the media (each is a message through Asterisk's bus to every subscriber);

and the ratios acd / app_queue, with the engine's idle CPU (no calls) and the machine.  A
third side, ``wire`` (:mod:`acd.bench.wire_engine`), holds the acd side's conversation with
Asterisk with nothing above it: what any engine of this shape pays before doing anything.

    acd bench parity --json                      # its own lab "cps", 16 phones, 10,20,30 calls/s
    ACD_TEST_LAB_SLOT=5 acd bench parity --sides acd --rates 20 --hold 30   # the engine alone
    ACD_TEST_LAB_SLOT=5 acd bench parity --sides app_queue,acd,wire --rates 10,20   # and the floor under it
    ACD_TEST_LAB_SLOT=3 acd bench parity --rates 2 --hold 3 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from acd.bench.call_views import sipp_calls
from acd.bench.cps_accounting import percentile
from acd.bench.cps_lab import CpsLab, caller_number, chosen_slot, cpu_seconds, run_on_lab, wake_ups
from acd.bench.machine import machine_info
from acd.bench.parity_lab import (
    ACD_DIALED, DEFAULT_SIDES, ENGINE_SIDES, FLOW, PEER_DIALED, PEER_QUEUE, SIDES, EngineProcess, PeerQueue, QueueWatcher, peer_queue,
    routing_text, set_peer_members, settings_text,
)
from acd.bench.parity_views import agent_calls, answered_per_second, dispatch_latencies, waits


@dataclass(frozen=True)
class ParityOptions:
    rates: tuple[float, ...] = (10.0, 20.0, 30.0)
    hold_s: float = 10.0
    agents: int = 16
    answer_after_s: float = 0.1
    talk_s: float = 0.5
    repeats: int = 2
    idle_s: float = 5.0
    call_timeout_s: float = 90.0
    #: folder for cProfile profiles (CPU time) of the engine in each acd run (None: no profiling)
    profile_dir: Path | None = None
    #: the sides run: both (the comparison), or one alone, e.g. to compare two versions of
    #: the engine run after run on the same lab (``--sides acd``); ``wire`` adds the floor
    #: under the engine (:mod:`acd.bench.wire_engine`)
    sides: tuple[str, ...] = DEFAULT_SIDES

    def problems(self, max_agents: int) -> list[str]:
        out = []
        if not self.rates or any(not (0 < rate < 1000) for rate in self.rates):
            out.append("--rates: one or more calls-per-second figures, each in (0, 1000)")
        if not 0 < self.hold_s <= 600:
            out.append("--hold: seconds of traffic per run must be in (0, 600]")
        if not 1 <= self.agents <= max_agents:
            out.append(f"--agents: between 1 and {max_agents} for this lab")
        if not 1 <= self.repeats <= 20:
            out.append("--repeats: between 1 and 20")
        if self.answer_after_s < 0 or self.talk_s <= 0 or self.idle_s < 0:
            out.append("--answer-after and --idle must be >= 0, --talk > 0")
        if not self.sides or len(set(self.sides)) != len(self.sides) or not set(self.sides) <= set(SIDES):
            out.append(f"--sides: any of {', '.join(SIDES)}, each once")
        return out

    def calls(self, rate: float) -> int:
        return max(1, round(rate * self.hold_s))


def order(repeats: int, sides: tuple[str, ...] = DEFAULT_SIDES) -> list[tuple[int, str]]:
    """(repeat, side) in run order: alternating, each side first as often as the other."""
    ordered = [side for side in SIDES if side in sides]
    return [(repeat, side) for repeat in range(repeats) for side in (ordered if repeat % 2 == 0 else ordered[::-1])]


def _ms(values: list[float], fraction: float) -> float | None:
    found = percentile(values, fraction)
    return None if found is None else round(found * 1000, 1)


async def run_side(
    lab: CpsLab, work: Path, side: str, rate: float, step: int, options: ParityOptions, queue: PeerQueue
) -> dict[str, Any]:
    """One run of one side at one rate: phones up, (engine up), idle, traffic, drain, figures."""
    from acd.lab.sipp import AwaitHangup, SippRunner

    work.mkdir(parents=True, exist_ok=True)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    planned = [caller_number(step, call) for call in range(options.calls(rate))]
    watcher = QueueWatcher(lab.ami_port, lab.watch_user, lab.secret)
    engine: EngineProcess | None = None
    phones = []
    asterisk_pid = lab.asterisk_pid()
    try:
        for number in range(1, options.agents + 1):
            phones.append(await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=len(planned) + 10, answer_after_s=options.answer_after_s,
                talk_s=options.talk_s, answers_options=number == lab.agents, timeout_s=36000,
            ))
        await asyncio.sleep(1.5 if options.agents >= lab.agents else 0.3)  # one qualify round
        await watcher.start()
        idle_pct = None
        if side in ENGINE_SIDES:
            (work / "flows").mkdir(exist_ok=True)
            (work / "flows" / "parity.yaml").write_text(FLOW)
            (work / "routing.yaml").write_text(routing_text(options.agents, queue))
            (work / "acd.yaml").write_text(settings_text(lab, work, options.agents))
            profile = options.profile_dir / f"engine-{rate:g}cps-{work.name}.prof" if options.profile_dir and side == "acd" else None
            engine = EngineProcess(work / "acd.yaml", lab.secret, work / "engine.log", profile=profile, wire_only=side == "wire")
            await engine.start(lab.agi_port)
            await asyncio.sleep(2.0)  # AMI login, agents logged in, phones' states read
            if options.idle_s:
                before = cpu_seconds(engine.pid)
                await asyncio.sleep(options.idle_s)
                after = cpu_seconds(engine.pid)
                idle_pct = None if before is None or after is None else round(100 * (after - before) / options.idle_s, 2)
        else:
            await set_peer_members(watcher, lab, options.agents, present=True)
        dialed = ACD_DIALED if side in ENGINE_SIDES else PEER_DIALED
        asterisk_before, engine_before = cpu_seconds(asterisk_pid), cpu_seconds(engine.pid if engine else None)
        engine_woken_before = wake_ups(engine.pid if engine else None)
        events_before = watcher.events
        started = time.monotonic()
        limit = options.hold_s * 3 + options.call_timeout_s + 30
        callers = await sipp.start_callers(
            f"{side}-{rate:g}cps", [AwaitHangup(options.call_timeout_s)], calls=[(dialed, number) for number in planned],
            rate=rate, concurrent=len(planned), timeout_s=limit,
        )
        result = await callers.wait(limit + 10)
        deadline = time.monotonic() + 15
        while watcher.active_callers() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        wall = time.monotonic() - started
        asterisk_after, engine_after = cpu_seconds(asterisk_pid), cpu_seconds(engine.pid if engine else None)
        engine_woken_after = wake_ups(engine.pid if engine else None)
        events_during = watcher.events - events_before
    finally:
        for phone in phones:
            await phone.stop()
        await sipp.stop_all()
        if engine is not None:
            await engine.stop()
        elif watcher._writer is not None:
            await set_peer_members(watcher, lab, options.agents, present=False)
        await watcher.close()
        active, _ = lab.channel_counts()
        if active:
            lab.cli("channel request hangup all")  # a killed sipp sends no BYE: leave the lab clean
    callers_seen = [call for call in sipp_calls(result.messages).values() if call.invite_ts is not None]
    offered = [call for call in callers_seen if call.caller in set(planned)]
    completed = sum(1 for call in offered if call.completed)
    failed = sum(1 for call in offered if call.clear_failure)
    taken = [call for phone in phones for call in agent_calls(phone.name, (phone.log_dir / "messages.log").read_text(errors="replace"))]
    taken = [call for call in taken if call.caller in watcher.joined or call.caller in set(planned)]
    latency = dispatch_latencies(taken, watcher.joined, queue.wrap_up_s)
    waited = waits(taken, watcher.joined)
    first_invite = min((call.invite_ts for call in offered if call.invite_ts is not None), default=None)
    placed = len(offered)

    def per_call(before: float | None, after: float | None) -> float | None:
        return None if before is None or after is None or not placed else round(1000 * (after - before) / placed, 2)

    asterisk_ms = per_call(asterisk_before, asterisk_after)
    engine_ms = per_call(engine_before, engine_after) if side in ENGINE_SIDES else 0.0
    return {
        "side": side, "rate_cps": rate, "planned": len(planned), "placed": placed, "completed": completed,
        "failed": failed, "lost": placed - completed - failed, "queued": sum(1 for number in planned if number in watcher.joined),
        "asterisk_cpu_ms_per_call": asterisk_ms, "engine_cpu_ms_per_call": engine_ms,
        "total_cpu_ms_per_call": None if asterisk_ms is None or engine_ms is None else round(asterisk_ms + engine_ms, 2),
        "engine_idle_cpu_pct": idle_pct,
        # the engine's threads woken per call (voluntary context switches): a count the
        # machine's noise does not move, unlike CPU time, and what most of its cost follows
        "engine_wakeups_per_call": (
            round((engine_woken_after - engine_woken_before) / placed, 1)
            if placed and engine_woken_before is not None and engine_woken_after is not None else None
        ),
        # AMI events Asterisk generated per call, as the bench's unfiltered session counted
        # them: a count, free of the machine's noise, of the work each side asks of Asterisk
        # beyond the media (every event is a message through Asterisk's bus first)
        "ami_events_per_call": round(events_during / placed, 1) if placed else None,
        "dispatch_ms": {"p50": _ms(latency, 0.5), "p99": _ms(latency, 0.99), "samples": len(latency)},
        "wait_s": {"p50": _rounded(percentile(waited, 0.5)), "p99": _rounded(percentile(waited, 0.99))},
        "answered_cps": _rounded(answered_per_second(taken, first_invite), 2),
        "wall_s": round(wall, 1), "sipp_exit": result.returncode, "logs": str(work),
        # the 1-minute load average as the traffic ended: other jobs on the machine make CPU
        # time per call dearer (caches, a shared core), so the figures say what they ran beside
        "load_average": round(os.getloadavg()[0], 2),
    }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(float(value))
    return round(statistics.median(values), 3) if values else None


FIGURES = {  # name -> path in a run's result
    "asterisk_cpu_ms_per_call": ("asterisk_cpu_ms_per_call",),
    "engine_cpu_ms_per_call": ("engine_cpu_ms_per_call",),
    "total_cpu_ms_per_call": ("total_cpu_ms_per_call",),
    "dispatch_p50_ms": ("dispatch_ms", "p50"),
    "dispatch_p99_ms": ("dispatch_ms", "p99"),
    "answered_cps": ("answered_cps",),
    "wait_p50_s": ("wait_s", "p50"),
    "ami_events_per_call": ("ami_events_per_call",),
    "engine_wakeups_per_call": ("engine_wakeups_per_call",),
}


def summarise(runs: list[dict[str, Any]], options: ParityOptions, queue: PeerQueue, lab: CpsLab) -> dict[str, Any]:
    """Per rate: each side's medians over its repeats, its lost calls in all, and acd / app_queue."""
    rows = []
    for rate in options.rates:
        sides = {}
        for side in (side for side in SIDES if side in options.sides):
            mine = [run for run in runs if run["rate_cps"] == rate and run["side"] == side]
            sides[side] = {name: _median(mine, *path) for name, path in FIGURES.items()}
            sides[side]["lost"] = sum(run["lost"] for run in mine)
            sides[side]["failed"] = sum(run["failed"] for run in mine)
            sides[side]["runs"] = len(mine)
            if side in ENGINE_SIDES:
                sides[side]["engine_idle_cpu_pct"] = _median(mine, "engine_idle_cpu_pct")
        row: dict[str, Any] = {"rate_cps": rate, **sides}
        for ours_side in ENGINE_SIDES:
            if ours_side not in sides or "app_queue" not in sides:
                continue
            ratios = {}
            for name in FIGURES:
                ours, theirs = sides[ours_side][name], sides["app_queue"][name]
                ratios[name] = round(ours / theirs, 2) if ours is not None and theirs else None
            # The engine is none of app_queue's cost: acd's total against app_queue's Asterisk alone.
            row[f"{ours_side}_over_app_queue"] = ratios
        rows.append(row)
    return {
        "benchmark": "parity_with_app_queue",
        "rates": rows,
        "runs": runs,
        "setup": {
            **{key: str(value) if isinstance(value, Path) else value for key, value in asdict(options).items() if key != "rates"},
            "rates": list(options.rates),
            "lab": lab.name, "peer_queue": asdict(queue), "peer": f"Queue({PEER_QUEUE}) dialled as {PEER_DIALED}",
            "acd": (
                f"FastAGI flow on {ACD_DIALED} -> engine (acd run, own process) -> Dial straight from the IVR"
                " when an agent is free, else parked and AMI Redirect to Dial"
            ),
            "wire": "the acd side's FastAGI commands, AMI events and actions with nothing above them (python -m acd.bench.wire_engine): the floor under the engine",
            "notes": [
                "cpu ms per call: CPU the process used from the first caller's INVITE to the last caller's hang-up, over calls placed",
                "dispatch: agent free (its call ended + wrap-up) -> next INVITE to that phone, for a caller already waiting then",
                "wait: queue entry seen on the bench's AMI connection -> the agent phone's 200 OK",
            ],
        },
        "machine": machine_info(),
    }


def table(result: dict[str, Any]) -> str:
    setup = result["setup"]
    queue = setup["peer_queue"]
    lines = [
        f"parity bench on lab {setup['lab']}: {setup['agents']} agent phones (answer {setup['answer_after_s']:g} s, talk {setup['talk_s']:g} s), "
        f"{queue['strategy']}, ringinuse={'yes' if queue['ringinuse'] else 'no'}, wrap-up {queue['wrap_up_s']:g} s, ring {queue['ring_timeout_s']:g} s; "
        f"{setup['hold_s']:g} s of calls per run, median of {setup['repeats']}",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, {result['machine']['python']}",
        "",
        f"{'cps':>4} {'side':<9} {'ast ms/call':>11} {'eng ms/call':>11} {'total':>7} {'disp p50':>9} {'disp p99':>9} "
        f"{'ans/s':>6} {'wait p50':>8} {'lost':>4} {'AMI ev/call':>11} {'eng wake/call':>13}",
    ]

    def show(value: Any, width: int, suffix: str = "") -> str:
        return f"{'-' if value is None else f'{value:g}{suffix}':>{width}}"

    for row in result["rates"]:
        for side in (*reversed(SIDES), *(f"{ours}_over_app_queue" for ours in ENGINE_SIDES)):
            if side not in row:
                continue
            figures = row[side]
            ratio = side.endswith("_over_app_queue")
            label = f"{side.split('_')[0]}/aq" if ratio else side
            lost = "" if ratio else figures["lost"]
            lines.append(
                f"{row['rate_cps']:>4g} {label:<9} {show(figures['asterisk_cpu_ms_per_call'], 11)} {show(figures['engine_cpu_ms_per_call'], 11)} "
                f"{show(figures['total_cpu_ms_per_call'], 7)} {show(figures['dispatch_p50_ms'], 9)} {show(figures['dispatch_p99_ms'], 9)} "
                f"{show(figures['answered_cps'], 6)} {show(figures['wait_p50_s'], 8)} {lost:>4} {show(figures.get('ami_events_per_call'), 11)} "
                f"{show(figures.get('engine_wakeups_per_call'), 13)}"
            )
    idle = [row[side].get("engine_idle_cpu_pct") for row in result["rates"] for side in ENGINE_SIDES if side in row]
    loads = [run["load_average"] for run in result["runs"] if isinstance(run.get("load_average"), (int, float))]
    lines.append("")
    if loads:
        lines.append(f"load average (1 min) at the end of each run: {min(loads):g}–{max(loads):g} on {result['machine']['cores']} cores")
    if idle:
        lines.append(f"engine idle CPU (no calls): {', '.join('-' if value is None else f'{value:g} %' for value in idle)} of one core")
    return "\n".join(lines)


async def run_parity(lab: CpsLab, work: Path, options: ParityOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Every rate, every repeat, the sides alternating, on a lab that is already up."""
    queue_file = lab.log_dir().parent / "etc" / "queues.conf"
    queue = peer_queue(queue_file.read_text())
    runs = []
    for index, rate in enumerate(options.rates, start=1):
        for repeat, side in order(options.repeats, options.sides):
            run = await run_side(lab, work / f"{rate:g}cps-{repeat + 1}-{side}", side, rate, index, options, queue)
            runs.append(run)
            progress(
                f"{rate:g} cps, {side} ({repeat + 1}/{options.repeats}): placed {run['placed']}/{run['planned']}, completed "
                f"{run['completed']}, lost {run['lost']}; CPU ms/call asterisk {run['asterisk_cpu_ms_per_call']} engine "
                f"{run['engine_cpu_ms_per_call']}, engine wake-ups/call {run['engine_wakeups_per_call']}; AMI events/call {run['ami_events_per_call']}; dispatch p99 {run['dispatch_ms']['p99']} ms"
                f" ({run['wall_s']} s)"
            )
            await asyncio.sleep(queue.wrap_up_s + 0.5)
    return summarise(runs, options, queue, lab)


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", default="10,20,30", metavar="R[,R...]", help="offered calls per second, one set of runs each (default 10,20,30)")
    parser.add_argument("--hold", type=float, default=10.0, metavar="S", help="seconds of calls per run (default 10)")
    parser.add_argument("--agents", type=int, default=None, help="agent phones (default 16 on its own lab, 8 on a test slot's lab)")
    parser.add_argument("--talk", type=float, default=0.5, metavar="S", help="agent talk time (default 0.5)")
    parser.add_argument("--answer-after", type=float, default=0.1, metavar="S", help="agent ring time before answering (default 0.1)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side and rate, alternating; the median is shown (default 2)")
    parser.add_argument("--idle", type=float, default=5.0, metavar="S", help="seconds the engine's idle CPU is measured before each acd run (default 5)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR", help="profile the engine (cProfile on CPU time, so other load on the machine does not skew it) in each acd run; "
                        "pstats files in DIR (the engine's CPU figures then include the profiler's overhead)")
    parser.add_argument("--sides", default=",".join(DEFAULT_SIDES), metavar="SIDE[,SIDE]", help=f"the sides to run, any of {', '.join(SIDES)} "
                        f"(default {','.join(DEFAULT_SIDES)}; one alone prints its figures without ratios, e.g. to compare two versions of the engine on one lab; "
                        "wire: acd's conversation with Asterisk and nothing above it, the floor under the engine's cost)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT, else a lab of its own named 'cps')")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards (it is stopped only if this run started it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the table goes to stderr)")


def run_from_args(args: argparse.Namespace) -> int:
    from acd.bench.cps_bench import parse_rates
    from acd.logs import configure_logging

    prog = "acd bench parity"
    try:
        slot = chosen_slot(args.slot)
        rates = parse_rates(args.rates)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    agents = args.agents if args.agents is not None else (8 if slot is not None else 16)
    options = ParityOptions(
        rates=rates, hold_s=args.hold, agents=agents, answer_after_s=args.answer_after, talk_s=args.talk,
        repeats=args.repeats, idle_s=args.idle, profile_dir=args.profile,
        sides=tuple(side.strip() for side in args.sides.split(",") if side.strip()),
    )
    problems = options.problems(8 if slot is not None else 49)
    for problem in problems:
        print(f"{prog}: {problem}", file=sys.stderr)
    if problems:
        return 2
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else CpsLab.own(agents, secret)
    configure_logging("warning")

    async def run(work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
        try:
            result = await run_parity(lab, work, options, progress=progress)
        except ValueError as exc:  # the lab's queues.conf has no usable [acd-parity]
            raise RuntimeError(str(exc)) from None
        result["logs"] = str(work)
        return result

    return run_on_lab(prog, lab, run, table, as_json=args.json, keep_lab=args.keep_lab)
