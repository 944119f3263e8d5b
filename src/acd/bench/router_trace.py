"""Time the router alone on exactly the calls a simulation made to it.

A :class:`TracingRouter` is a Router that records every public call (method and
arguments) while a simulation drives it.  Replaying that trace into a fresh Router
repeats the same decisions in the same order with nothing else around them, so
"simulation time minus replay time" is the simulator's own overhead, and a profile of
the replay says where the router spends its time — the honest answer when the
router, not the simulator, is what limits throughput.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from acd.routing import Router, RoutingConfig

TRACED = ("agent_login", "call_arrived", "agent_answered", "ring_no_answer", "call_completed", "caller_abandoned", "advance", "next_deadline")


class TracingRouter(Router):
    """A Router that also appends ``(method, args)`` to ``trace`` for every public call."""

    def __init__(self, config: RoutingConfig) -> None:
        super().__init__(config)
        self.trace: list[tuple[str, tuple[Any, ...]]] = []


def _traced(name: str) -> Callable[..., Any]:
    original = getattr(Router, name)

    def method(self: TracingRouter, *args: Any) -> Any:
        self.trace.append((name, args))
        return original(self, *args)

    method.__name__ = name
    return method


for _name in TRACED:
    setattr(TracingRouter, _name, _traced(_name))


@dataclass(frozen=True)
class RouterTiming:
    """The router alone on a trace: total, per method, and its hottest functions."""

    calls: int
    seconds: float
    by_method: dict[str, dict[str, float]]
    hotspots: list[dict[str, Any]]


def _bound(config: RoutingConfig, trace: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[Callable[..., Any], tuple[Any, ...], str]]:
    router = Router(config)
    return [(getattr(router, name), args, name) for name, args in trace]


def replay_seconds(config: RoutingConfig, trace: list[tuple[str, tuple[Any, ...]]]) -> float:
    """Wall time of the trace's calls into a fresh Router, with nothing else in the loop."""
    ops = _bound(config, trace)
    gc.collect()
    started = time.perf_counter()
    for method, args, _ in ops:
        method(*args)
    return time.perf_counter() - started


def _per_method(config: RoutingConfig, trace: list[tuple[str, tuple[Any, ...]]]) -> dict[str, dict[str, float]]:
    ops = _bound(config, trace)
    spent: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    clock = time.perf_counter_ns
    for method, args, name in ops:
        started = clock()
        method(*args)
        spent[name] += clock() - started
        count[name] += 1
    return {name: {"calls": count[name], "us_per_call": round(spent[name] / count[name] / 1000, 3)} for name in sorted(spent)}


def _hotspots(config: RoutingConfig, trace: list[tuple[str, tuple[Any, ...]]], top: int) -> list[dict[str, Any]]:
    """The router functions with the most own time under cProfile (shares are indicative:
    the profiler inflates small functions)."""
    ops = _bound(config, trace)
    profiler = cProfile.Profile()
    profiler.enable()
    for method, args, _ in ops:
        method(*args)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values()) or 1.0
    ranked = sorted(rows.items(), key=lambda item: item[1][2], reverse=True)[:top]
    out = []
    for (path, line, function), (_, ncalls, tottime, _cum, _) in ranked:
        where = path.split("/src/")[-1] if "/src/" in path else path.rsplit("/", 1)[-1]
        out.append({"function": f"{where}:{line}({function})", "calls": ncalls, "share_of_router": round(tottime / total, 3)})
    return out


def time_router(config: RoutingConfig, trace: list[tuple[str, tuple[Any, ...]]], *, top: int = 10) -> RouterTiming:
    return RouterTiming(
        calls=len(trace),
        seconds=replay_seconds(config, trace),
        by_method=_per_method(config, trace),
        hotspots=_hotspots(config, trace, top),
    )
