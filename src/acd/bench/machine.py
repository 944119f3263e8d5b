"""The machine a benchmark ran on, and the growth rate the memory benchmarks read: shared by every ``acd bench`` command."""

from __future__ import annotations

from acd.routing.benchmark import machine_info

__all__ = ["machine_info", "slope"]


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
