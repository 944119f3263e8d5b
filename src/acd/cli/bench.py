"""``acd bench routing``: how fast does the ACD core decide, on this machine?

Kept as a command (not a test) because latency depends on the machine: operators run it
on the production host to check the p99 stays under a millisecond at their scale.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text}")
    return value


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
