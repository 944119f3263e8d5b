"""The calls a simulation offers: Poisson arrivals, handle times and patience, drawn up front.

Every random quantity of a call is drawn before the simulation starts, vectorised with
numpy, and indexed by the call's place in the arrival order.  Two reasons:

* speed: the event loop then only reads lists, it never calls a random generator;
* common random numbers: with the same seed, call number *k* has the same arrival time,
  queue, handle time and patience whatever the staffing or routing being tried, so
  the difference between two scenarios is the scenarios' doing, not sampling noise.

Arrivals are a Poisson process per queue whose rate is constant within each load
segment (an interval of a forecast, or the whole run): a Poisson number of calls
placed uniformly in the segment, which is the same process as exponential gaps.
Each purpose (arrivals, handle times, patience) has its own child generator of one
``SeedSequence``, so adding patience does not move the arrivals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

HandleDist = Literal["exp", "lognormal"]
HANDLE_DISTS: tuple[str, ...] = ("exp", "lognormal")


@dataclass(frozen=True, slots=True)
class LoadSegment:
    """``calls_per_hour`` offered uniformly at random in ``[start, end)`` (UNIX s), mean handle ``aht_s``."""

    start: float
    end: float
    calls_per_hour: float
    aht_s: float


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """The traffic offered to one queue, as consecutive segments."""

    queue: str
    segments: tuple[LoadSegment, ...]

    @property
    def expected_calls(self) -> float:
        return sum(s.calls_per_hour * (s.end - s.start) / 3600.0 for s in self.segments)


@dataclass(frozen=True, slots=True)
class HandleTimes:
    """How talk times scatter around a segment's AHT: exponential, or lognormal with ``sd_s``."""

    dist: HandleDist = "exp"
    sd_s: float | None = None

    def __post_init__(self) -> None:
        if self.dist not in HANDLE_DISTS:
            raise ValueError(f"unknown handle-time distribution {self.dist!r} (use exp or lognormal)")
        if self.dist == "lognormal" and (self.sd_s is None or not self.sd_s > 0 or not math.isfinite(self.sd_s)):
            raise ValueError("a lognormal handle time needs a positive standard deviation")


@dataclass(slots=True)
class CallPlan:
    """The calls of one run in arrival order; ``patience_s`` is None when callers never hang up."""

    times: list[float]
    queues: list[str]
    handle_s: list[float]
    patience_s: list[float] | None

    def __len__(self) -> int:
        return len(self.times)


def _lognormal(rng: np.random.Generator, means: np.ndarray, sd: float) -> np.ndarray:
    """Lognormal draws with the given means and standard deviation ``sd`` (moment-matched)."""
    sigma2 = np.log1p((sd / means) ** 2)
    mu = np.log(means) - sigma2 / 2.0
    return np.exp(mu + np.sqrt(sigma2) * rng.standard_normal(means.size))


def plan_calls(loads: list[QueueLoad], handle: HandleTimes, patience_s: float | None, seed: int) -> CallPlan:
    """Draw every call of the run (see the module docstring)."""
    arrivals_rng, handle_rng, patience_rng = (np.random.Generator(np.random.PCG64(child)) for child in np.random.SeedSequence(seed).spawn(3))
    times_parts: list[np.ndarray] = []
    queue_parts: list[np.ndarray] = []
    aht_parts: list[np.ndarray] = []
    for index, load in enumerate(loads):
        for segment in load.segments:
            length = segment.end - segment.start
            if length <= 0 or segment.calls_per_hour <= 0:
                continue
            count = int(arrivals_rng.poisson(segment.calls_per_hour * length / 3600.0))
            times_parts.append(segment.start + arrivals_rng.uniform(0.0, length, count))
            queue_parts.append(np.full(count, index, dtype=np.int32))
            aht_parts.append(np.full(count, segment.aht_s))
    if not times_parts:
        return CallPlan([], [], [], [] if patience_s is not None else None)
    times = np.concatenate(times_parts)
    order = np.argsort(times, kind="stable")
    times = times[order]
    queue_index = np.concatenate(queue_parts)[order]
    means = np.concatenate(aht_parts)[order]
    if handle.dist == "exp":
        handles = handle_rng.standard_exponential(times.size) * means
    else:
        assert handle.sd_s is not None
        handles = _lognormal(handle_rng, means, handle.sd_s)
    names = [load.queue for load in loads]
    return CallPlan(
        times=times.tolist(),
        queues=[names[i] for i in queue_index.tolist()],
        handle_s=handles.tolist(),
        patience_s=(patience_rng.standard_exponential(times.size) * patience_s).tolist() if patience_s is not None else None,
    )
