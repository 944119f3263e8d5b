"""The machine a benchmark ran on, and the growth rate the memory benchmarks read: shared by every ``acd bench`` command."""

from __future__ import annotations

import math
from dataclasses import dataclass

from acd.routing.benchmark import machine_info

__all__ = ["FLAT_BYTES_PER_CALL", "Slope", "flat_verdict", "machine_info", "slope", "slope_interval"]

# The memory benchmarks' line: growth below 250 B a call is flat — < 0.5 MB a day of the help
# line (~2,000 calls), < 11 MB for its month of calls (~44,000).
FLAT_BYTES_PER_CALL = 250.0

# Student's t, two-sided 95 %, by degrees of freedom (1..30); beyond 30 the normal 1.96 is close enough.
_T95 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13,
        2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 with fewer than two): growth per unit of x.

    The memory benchmarks (``soak``, ``lab-soak``) read growth this way: a per-call
    structure kept after its call shows as a straight line, a bounded one flattens."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


@dataclass(frozen=True)
class Slope:
    """A least-squares slope and its 95 % confidence half-width (``value ± half_width``)."""

    value: float
    half_width: float

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width

    def scaled(self, factor: float) -> "Slope":
        return Slope(self.value * factor, self.half_width * abs(factor))


def slope_interval(points: list[tuple[float, float]]) -> Slope:
    """The slope with a 95 % confidence interval from the residuals (Student's t, n − 2 degrees).

    Memory samples are not independent (RSS moves in steps), so the interval is a floor on
    the uncertainty, not a promise; with fewer than three points it is infinite."""
    value = slope(points)
    n = len(points)
    if n < 3:
        return Slope(value, math.inf)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return Slope(value, math.inf)
    residuals = sum((y - mean_y - value * (x - mean_x)) ** 2 for x, y in points)
    error = math.sqrt(residuals / (n - 2) / spread)
    t = _T95[n - 3] if n - 2 <= len(_T95) else 1.96
    return Slope(value, t * error)


def flat_verdict(bytes_per_call: Slope, threshold: float = FLAT_BYTES_PER_CALL) -> str:
    """"flat" when the whole 95 % interval lies below ``threshold``, "not flat" when it lies
    wholly above, else "undecided" (too few or too noisy samples: run longer)."""
    if bytes_per_call.high <= threshold:
        return "flat"
    if bytes_per_call.low > threshold:
        return "not flat"
    return "undecided"
