"""What was simulated, in words (above the report table) and as JSON (beside the report).

Kept apart from the report itself, which is the unchanged ``acd report`` rendering:
this is only the scenario a reader needs to trust or reproduce the figures.
Nothing here depends on the wall clock, so the same command prints the same bytes.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from acd.metrics.timeutil import fmt_local
from acd.planning.sim.report import SimulationResult
from acd.planning.sim.traffic import QueueLoad


def _average(load: QueueLoad) -> tuple[float, float]:
    """Mean calls per hour and call-weighted mean AHT over the load's segments."""
    hours = sum(s.end - s.start for s in load.segments) / 3600.0
    calls = load.expected_calls
    aht = sum(s.aht_s * s.calls_per_hour * (s.end - s.start) for s in load.segments) / 3600.0 / calls if calls else load.segments[0].aht_s
    return (calls / hours if hours else 0.0), aht


def summary_dict(result: SimulationResult, sources: dict[str, str]) -> dict[str, Any]:
    scenario = result.scenario
    tz = ZoneInfo(scenario.config.timezone)
    queues = {}
    for load in scenario.loads:
        rate, aht = _average(load)
        queues[load.queue] = {"calls_per_hour": round(rate, 3), "aht_s": round(aht, 3), "source": sources.get(load.queue, "rate")}
    stats = result.stats
    return {
        "seed": scenario.seed,
        "from": fmt_local(scenario.start, tz),
        "to": fmt_local(scenario.end, tz),
        "timezone": scenario.config.timezone,
        "warmup_s": scenario.warmup_s,
        "queues": queues,
        "handle_time": {"dist": scenario.handle.dist, "sd_s": scenario.handle.sd_s},
        "patience_s": scenario.patience_s,
        "answer_delay_s": scenario.answer_delay_s,
        "agents_logged_in": list(scenario.agents),
        "calls_simulated": stats.calls,
        "answered": stats.answered,
        "abandoned": stats.abandoned,
        "timed_out": stats.timed_out,
        "router_calls": stats.router_calls,
        "events": result.events,
        "ignored_by_router": stats.ignored,
    }


def summary_lines(result: SimulationResult, sources: dict[str, str], routing_path: str) -> list[str]:
    data = summary_dict(result, sources)
    traffic = "; ".join(
        f"{name} {q['calls_per_hour']:g} calls/h AHT {q['aht_s']:g} s" + ("" if q["source"] == "rate" else f" ({q['source']})")
        for name, q in data["queues"].items()
    )
    handle = "exponential" if data["handle_time"]["dist"] == "exp" else f"lognormal sd {data['handle_time']['sd_s']:g} s"
    patience = "callers never hang up" if data["patience_s"] is None else f"patience exponential, mean {data['patience_s']:g} s"
    lines = [
        f"acd simulate {routing_path}: seed {data['seed']}, {data['from']} .. {data['to']} ({data['timezone']})"
        + (f", warm-up {data['warmup_s']:g} s" if data["warmup_s"] else ""),
        f"  traffic: {traffic}",
        f"  handle times {handle}; {patience}; answer delay {data['answer_delay_s']:g} s; {len(data['agents_logged_in'])} agents logged in",
        f"  {data['calls_simulated']:,} calls simulated: {data['answered']:,} answered, {data['abandoned']:,} abandoned, {data['timed_out']:,} timed out",
    ]
    if data["ignored_by_router"]:
        lines.append(f"  WARNING: the router ignored {data['ignored_by_router']} simulated events (a simulator bug; please report)")
    return lines
