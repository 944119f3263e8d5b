"""``acd bench routing``: how fast does the ACD core decide, on this machine?

Kept as a command (not a test) because latency depends on the machine: operators run it
on the production host to check the p99 stays under a millisecond at their scale.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any

from acd.bounds import HOUR, number_arg, parse_number


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser("bench", help="measure engine performance on this machine")
    kinds = bench.add_subparsers(dest="bench_kind", metavar="KIND", required=True)
    routing = kinds.add_parser("routing", help="latency of routing decisions on a synthetic centre")
    routing.add_argument("--agents", type=_positive, default=2000, help="logged-in agents (default 2000)")
    routing.add_argument("--skills", type=_positive, default=64, help="skills, one queue each plus pair queues (default 64)")
    routing.add_argument("--waiting", type=_non_negative, default=500, help="calls kept waiting (default 500)")
    routing.add_argument("--decisions", type=_positive, default=20000, help="decisions to time (default 20000)")
    routing.add_argument("--seed", type=int, default=1, help="random seed for the synthetic centre (default 1)")
    routing.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    routing.set_defaults(handler=run_routing)
    dispatch = kinds.add_parser(
        "dispatch", help="on the real lab: agent becomes free -> INVITE reaches that agent's sipp phone"
    )
    dispatch.add_argument("--calls", type=number_arg(2, 100_000, integer=True), default=40, help="callers queued behind one agent (default 40)")
    dispatch.add_argument("--wrap-up", type=number_arg(0, 60, low_open=True), default=0.3, help="agent wrap-up seconds between calls")
    dispatch.add_argument("--json", action="store_true")
    dispatch.set_defaults(handler=run_dispatch)
    for delegated in DELEGATED_BENCHES:
        delegated.register(kinds)
    _register_simulate(kinds)
    _register_ami_ingest(kinds)
    _register_ami_small_reads(kinds)
    _register_soak(kinds)
    _register_reports(kinds)
    _register_store(kinds)


_positive = number_arg(1, 100_000_000, integer=True)  # a count a benchmark can get through
_non_negative = number_arg(0, 100_000_000, integer=True)


def run_routing(args: argparse.Namespace) -> int:
    from acd.routing.benchmark import run_routing_bench

    result = run_routing_bench(args.agents, args.skills, args.waiting, args.decisions, args.seed).as_dict()
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    out = sys.stdout
    machine = result["machine"]
    out.write(f"routing bench: {result['agents']} agents, {result['skills']} skills, {result['queues']} queues, seed {result['seed']}\n")
    out.write(f"waiting calls: target {result['waiting_target']}, at start {result['waiting_at_start']}, at end {result['waiting_at_end']}\n")
    out.write(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['python']}, {machine['platform']}\n\n")
    out.write(f"{'decision':<20}{'count':>8}{'rang':>8}{'p50_us':>10}{'p99_us':>10}{'max_us':>10}\n")
    rows = [(kind, item) for kind, item in result["by_kind"].items()] + [("all", {k: result[k] for k in ("decisions", "rang_agent", "p50_us", "p99_us", "max_us")})]
    for kind, item in rows:
        out.write(f"{kind:<20}{item['decisions']:>8}{item['rang_agent']:>8}{item['p50_us']:>10.1f}{item['p99_us']:>10.1f}{item['max_us']:>10.1f}\n")
    verdict = "meets" if result["p99_us"] < 1000 else "MISSES"
    out.write(f"\np99 {result['p99_us']:.1f} us {verdict} the 1 ms goal\n")
    return 0


# --------------------------------------------------------------------------- simulate


def _register_simulate(kinds: Any) -> None:
    sim = kinds.add_parser(
        "simulate",
        help="simulator throughput (calls/s) and how much of it is the router",
        description="Run the simulator on the synthetic centre of 'bench routing'; prints JSON with calls/s, "
        "the router's share (replayed alone), the full report pipeline's cost, and the machine.",
    )
    sim.add_argument("--calls", type=_positive, default=1_000_000, help="calls to simulate (default 1,000,000)")
    sim.add_argument("--agents", type=_positive, default=200, help="agents in the synthetic centre (default 200)")
    sim.add_argument("--skills", type=_positive, default=16, help="skills, one queue each plus pair queues (default 16)")
    sim.add_argument("--repeat", type=_positive, default=3, help="simulation runs; best and median are reported (default 3)")
    sim.add_argument("--breakdown-calls", type=_positive, default=200_000, help="calls in the run whose router calls are replayed alone (default 200,000)")
    sim.add_argument("--report-calls", type=_positive, default=20_000, help="calls in the run through outcome_to_event and compute_report (default 20,000)")
    sim.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    sim.add_argument("--parts", type=_positive, default=2, help="independent replications (own seed, own Router) the calls are split into for the parallel figure (default 2)")
    sim.add_argument("--workers", type=_positive, default=None, help="processes for the parallel figure (default: one per core, at most one per part)")
    sim.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from acd.bench.simulate import SimBenchOptions, run_sim_bench

    options = SimBenchOptions(
        calls=args.calls, agents=args.agents, skills=args.skills, seed=args.seed, repeat=args.repeat,
        breakdown_calls=args.breakdown_calls, report_calls=args.report_calls, parts=args.parts, workers=args.workers or 0,
    )
    result = run_sim_bench(options)
    print(json.dumps(result, indent=2, sort_keys=True))
    sim, parts, goal = result["simulation"], result["breakdown"], result["goal"]
    sys.stderr.write(
        f"simulate: {sim['calls']:,} calls in {sim['wall_s_best']:.2f} s (best of {len(sim['wall_s_runs'])}) = {sim['calls_per_s']:,} calls/s; "
        f"router {parts['router_us_per_call']} us/call ({parts['router_share']:.0%}), simulator {parts['simulator_own_us_per_call']} us/call; "
        f"1M calls projected {goal['projected_s']} s ({'meets' if goal['met'] else 'MISSES'} the {goal['seconds']:g} s goal)\n"
    )
    par = result["parallel"]
    sys.stderr.write(
        f"parallel: {par['calls']:,} calls as {par['parts']} replications on {par['workers']} processes in {par['wall_s_best']:.2f} s "
        f"= {par['calls_per_s']:,} calls/s; 1M calls projected {goal['parallel_projected_s']} s "
        f"({'meets' if goal['parallel_met'] else 'MISSES'} the {goal['seconds']:g} s goal)\n"
    )
    return 0


# --------------------------------------------------------------------------- ami-ingest


def _default_recording() -> str:
    """The checkout's helpline recording; relative to the working folder when there is no
    checkout (then a missing recording is reported as such when the command runs)."""
    from pathlib import Path

    from acd.checkout import find_checkout

    return str((find_checkout() or Path(".")) / "deploy" / "ami-recordings" / "helpline")


def _register_ami_ingest(kinds: Any) -> None:
    ingest = kinds.add_parser(
        "ami-ingest",
        help="replay a recorded AMI stream over TCP into the AMI client, dispatcher and router: events/s and latency",
        description="Replays a real AMI recording (deploy/ami-recordings/) from a local server process into the "
        "engine's AmiClient, call-control translation, Dispatcher and Router; prints JSON with events/s, latency "
        "percentiles per offered rate, and the machine.",
    )
    ingest.add_argument("--recording", default=_default_recording(), metavar="PATH/NAME", help="recording to replay (default: deploy/ami-recordings/helpline)")
    ingest.add_argument("--routing", metavar="FILE", help="routing file (default: the one recorded with the stream)")
    ingest.add_argument("--burst-events", type=_positive, default=200_000, help="events in the as-fast-as-possible phase, in whole passes (default 200,000)")
    ingest.add_argument("--rates", default="50000,20000,5000", metavar="R[,R...]", help="paced phases, events per second (default 50000,20000,5000)")
    ingest.add_argument("--phase-seconds", type=number_arg(0, HOUR, low_open=True), default=4.0, help="length of each paced phase, in whole passes (default 4)")
    ingest.add_argument("--repeat", type=_positive, default=1, help="runs per phase; the best is reported (default 1)")
    ingest.add_argument("--what-if", action="store_true", help="also measure the AmiClient reading the socket with panoramisk's parser instead of its own")
    ingest.set_defaults(handler=run_ami_ingest)


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(parse_number(item.strip(), low=0, high=10_000_000, low_open=True) for item in text.split(",") if item.strip())
    except ValueError as exc:
        raise ValueError(f"--rates: each rate {exc} (events per second, separated by commas)") from None
    if not rates:
        raise ValueError(f"--rates {text!r}: expected numbers separated by commas")
    return rates


def run_ami_ingest(args: argparse.Namespace) -> int:
    from acd.bench.ami_ingest import IngestError, run_ingest_bench

    try:
        rates = _rates(args.rates)
        result = run_ingest_bench(
            args.recording, burst_events=args.burst_events, rates=rates, phase_seconds=args.phase_seconds,
            routing=args.routing, repeat=args.repeat, what_if=args.what_if,
        )
    except (IngestError, ValueError) as exc:
        print(f"acd bench ami-ingest: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    burst, goal = result["burst"], result["goal"]
    lines = [f"ami-ingest: burst {burst['events_per_s']:,} events/s ({burst['events']:,} events, {burst['facts']:,} facts)"]
    for phase in result["paced"]:
        latency = phase["latency_ms"]
        lines.append(f"  offered {phase['offered_rate']:,.0f}/s: got {phase['events_per_s']:,}/s, latency p50 {latency['p50']} ms p99 {latency['p99']} ms")
    lines.append(f"  goal >= {goal['events_per_s']:,} events/s: {'met' if goal['events_per_s_met'] else 'MISSED'}; "
                 f"p99 < {goal['p99_ms']:g} ms at {goal['events_per_s']:,}/s: {'met' if goal['p99_met'] else 'MISSED'}")
    sys.stderr.write("\n".join(lines) + "\n")
    return 0


def _register_ami_small_reads(kinds: Any) -> None:
    reads = kinds.add_parser(
        "ami-small-reads",
        help="AMI framing speed when Asterisk's bytes arrive in small pieces (MB/s per piece size; linear scaling check)",
        description="Frames a recorded AMI stream read 1, 7, 64, 1460 and 65536 bytes at a time (MB/s each), and one big "
        "message of 64 KiB and of 1 MiB read 16 bytes at a time: the ratio of their time per byte is ~1 when framing is linear.",
    )
    reads.add_argument("--recording", default=_default_recording(), metavar="PATH/NAME", help="recording to frame (default: deploy/ami-recordings/helpline)")
    reads.add_argument("--events", type=_positive, default=5000, help="events of the recording to frame (default 5000)")
    reads.add_argument("--repeat", type=_positive, default=3, help="runs per measurement; the best is reported (default 3)")
    reads.set_defaults(handler=run_ami_small_reads)


def run_ami_small_reads(args: argparse.Namespace) -> int:
    from acd.bench.ami_recording import RecordingError
    from acd.bench.ami_small_reads import run_small_reads_bench

    try:
        result = run_small_reads_bench(args.recording, events=args.events, repeat=args.repeat)
    except RecordingError as exc:
        print(f"acd bench ami-small-reads: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _register_soak(kinds: Any) -> None:
    soak = kinds.add_parser(
        "soak",
        help="memory over a simulated day: the engine in-process on a virtual clock; growth per hour and per call",
        description="Runs the real engine (FastAGI IVR, dispatcher, router, live figures, SQLite event log) with Asterisk "
        "played in-process, on a virtual clock, and prints RSS and Python-heap growth per simulated hour after the warm-up.",
    )
    soak.add_argument("--hours", type=number_arg(0.1, 168), default=24.0, help="simulated hours (default 24)")
    soak.add_argument("--cps", type=number_arg(0.01, 50), default=1.0, help="calls per second offered (default 1)")
    soak.add_argument("--warm-up", type=number_arg(0, 168), default=2.0, help="hours not counted in the growth (default 2)")
    soak.add_argument("--no-trace", action="store_true", help="RSS and object counts only (tracemalloc makes the run ~3x slower)")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--json", action="store_true", help="print one JSON object")
    soak.set_defaults(handler=run_soak_bench)


def run_soak_bench(args: argparse.Namespace) -> int:
    from acd.bench.soak import main

    return main(args)


def run_dispatch(args: Any) -> int:
    """Delegates to the lab benchmark (brings up its own Asterisk lab named 'bench')."""
    from acd.bench.dispatch_bench import main as dispatch_main

    argv = ["--calls", str(args.calls), "--wrap-up", str(args.wrap_up)] + (["--json"] if args.json else [])
    return dispatch_main(argv)


# --------------------------------------------------------------------------- reports


def _register_reports(kinds: Any) -> None:
    reports = kinds.add_parser(
        "reports",
        help="acd report over a simulated month and year, from stored quarter-hour cells and from the raw log",
        description="Simulates a month of the help line into a real event store (repeated to a year), then times acd report's paths; prints JSON.",
    )
    reports.add_argument("--month-calls", type=number_arg(100, 1_000_000, integer=True), default=40_000, help="calls in the simulated month (default 40,000)")
    reports.add_argument("--no-year", action="store_true", help="only the month (the year repeats it for 52 weeks)")
    reports.add_argument("--repeat", type=number_arg(1, 20, integer=True), default=3, help="warm runs per figure; best and median are printed (default 3)")
    reports.add_argument("--workdir", metavar="DIR", help="where the temporary store is written (default: a temporary folder)")
    reports.set_defaults(handler=run_reports)


def run_reports(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from acd.bench.reports import run_reports_bench

    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        result = run_reports_bench(Path(folder), month_calls=int(args.month_calls), year=not args.no_year, repeat=int(args.repeat))
    print(json.dumps(result, sort_keys=True))
    return 0


# --------------------------------------------------------------------------- store


def _register_store(kinds: Any) -> None:
    store = kinds.add_parser(
        "store",
        help="events/s sustained into the metrics store: SQLite vs PostgreSQL",
        description="Appends the simulated help line's events the way the engine does, into SQLite and into PostgreSQL "
        "(a throwaway local cluster unless --url); prints JSON with events/s and the machine.",
    )
    store.add_argument("--events", type=number_arg(1000, 10_000_000, integer=True), default=200_000, help="events per run (default 200,000)")
    store.add_argument("--repeat", type=number_arg(1, 20, integer=True), default=3, help="runs per back end, each into a fresh store (default 3)")
    store.add_argument("--rates", default="2000,5000,10000,20000,40000", metavar="R,R,...", help="steady rates offered, events/s (default 2000,5000,10000,20000,40000)")
    store.add_argument("--seconds", type=number_arg(1, 600), default=5.0, help="seconds at each rate (default 5)")
    store.add_argument("--month-calls", type=number_arg(0, 1_000_000, integer=True), default=40_000,
                       help="calls in the month migrated to PostgreSQL and reported on both (default 40,000, the help line's; 0: skip)")
    store.add_argument("--url", metavar="URL", help="an EMPTY PostgreSQL database to write to (one run); password from ACD_STORE_PASSWORD")
    store.add_argument("--workdir", metavar="DIR", help="where the SQLite stores are written (default: a temporary folder)")
    store.set_defaults(handler=run_store)


def run_store(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    from acd.bench.store import run_store_bench
    from acd.lab.postgres import PostgresError
    from acd.metrics.store import StoreError
    from acd.metrics.store_url import parse_store_url

    try:
        rates = [parse_number(r.strip(), low=1, high=10_000_000) for r in args.rates.split(",") if r.strip()]
    except ValueError as exc:
        print(f"acd bench store: error: --rates {exc}", file=sys.stderr)
        return 2
    try:
        url = None
        if args.url:
            location = parse_store_url(args.url, password=os.environ.get("ACD_STORE_PASSWORD") or None)
            if location.kind != "postgresql":
                raise StoreError(f"--url must be a postgresql:// URL, not {location}")
            url = location.dsn
        with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
            result = run_store_bench(Path(folder), events=int(args.events), repeat=int(args.repeat), url=url, rates=rates, seconds=float(args.seconds),
                                     month_calls=0 if url else int(args.month_calls))
    except (StoreError, PostgresError, RuntimeError) as exc:
        print(f"acd bench store: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


# --------------------------------------------------------------------------- lab benches


@dataclass(frozen=True)
class DelegatedBench:
    """A benchmark whose options and run live in its own module of ``acd.bench``
    (``add_arguments(parser)`` and ``entry(args) -> exit status``): the CLI only names it."""

    name: str
    module: str
    help: str
    description: str
    entry: str = "run_from_args"

    def register(self, kinds: Any) -> None:
        parser = kinds.add_parser(self.name, help=self.help, description=self.description)
        importlib.import_module(self.module).add_arguments(parser)
        parser.set_defaults(handler=self.run)

    def run(self, args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(self.module), self.entry)(args))


DELEGATED_BENCHES = (
    DelegatedBench(
        "cps", "acd.bench.cps_bench",
        help="on the real lab: calls per second sustained with zero lost calls (sipp callers -> IVR -> queue -> sipp agents)",
        description="Offers sipp calls at increasing rates through the real Asterisk, the engine's IVR and ACD to sipp "
        "agent phones; counts every call three ways (sipp, the engine's event log, Asterisk over AMI); prints the highest "
        "rate with zero lost calls, where it broke, and the machine.",
    ),
    DelegatedBench(
        "parity", "acd.bench.parity",
        help="on the real lab: the same sipp traffic through Asterisk's app_queue and through acd, side by side",
        description="Alternating runs on one lab, same callers, phones, prompt and hold music: CPU ms per call of Asterisk "
        "and of the engine, dispatch latency, answered calls/s, wait and lost calls per side, and the ratios acd / app_queue.",
    ),
    DelegatedBench(
        "faults", "acd.bench.faults",
        help="on the real lab: AMI drops, Asterisk frozen, engine kill -9 and restarts under sipp traffic; callers lost, double rings, report drift",
        description="Runs the engine as its own process under steady sipp traffic and injects each fault kind --repeat "
        "times at random moments (seeded); counts callers lost, agents rung while talking, callers connected twice, "
        "agents left in a wrong state and acd report against sipp; prints JSON with the machine and a summary.",
    ),
    DelegatedBench(
        "takeover", "acd.bench.takeover",
        help="on the real lab: two acd run on one PostgreSQL (hot standby), the leader killed -9 N times under sipp traffic; takeover p50/max, callers lost",
        description="Starts a throwaway PostgreSQL and two engines sharing it (ha.enabled); kills the leader --kills times "
        "while callers wait on hold; prints the takeover time (kill to the new leader's AMI up) p50/p90/max and the fault "
        "harness's counts (callers lost, agents rung while talking, acd report against sipp) with the machine.",
    ),
    DelegatedBench(
        "lab-soak", "acd.bench.lab_soak",
        help="on the real lab: engine RSS and CPU under steady sipp traffic for --minutes; growth per hour, idle CPU",
        description="Runs acd run as its own process under steady sipp traffic through IVR, queue and agent phones, "
        "samples its resident set and CPU time, and prints growth per hour after the warm-up, CPU ms per call and idle CPU.",
    ),
    DelegatedBench(
        "wallboard", "acd.bench.wallboard", entry="main",
        help="event -> browser latency with N open wallboards (engine + acd web + SSE screens; no Asterisk)",
        description="Starts acd run and acd web on free loopback ports, opens --screens live streams on the console, "
        "changes agent states through the engine's API and times each change until every screen shows it; prints "
        "p50/p99/max in JSON with the machine (exit 1 when p99 >= 250 ms).",
    ),
)
