"""How good the announced wait estimates were: each estimate against the wait that followed.

Callers hear "your estimated wait is about N minutes"; the contract wants that number
to be honest, so every announcement is logged (``wait.announcement`` with the wait so
far and the estimate) and compared here with what actually happened to that caller.
"""

from __future__ import annotations

import math
from typing import Iterable

from acd.base.events import Event


def estimate_accuracy(events: Iterable[Event], start: float | None = None, end: float | None = None) -> dict[str, float | int | None]:
    """Median and 90th percentile of |actual remaining wait − announced estimate|.

    Only announcements made in ``[start, end)`` (default: all) to callers later answered
    count: for a caller who hung up, the wait that would have followed is unknown.
    error = (final wait − wait so far at the announcement) − estimate.
    """
    return summarize(
        error for ts, _, error in announcement_errors(events)
        if (start is None or ts >= start) and (end is None or ts < end)
    )


def announcement_errors(events: Iterable[Event]) -> list[tuple[float, str | None, float]]:
    """``(ts, queue, error)`` of each announcement to a caller later answered (see above).

    Kept per quarter hour by ``acd.metrics.cells``, so a month's accuracy is summarized
    from stored errors instead of a month of events.
    """
    ordered = list(events)
    answered = {e.call_id: float(e.data["waited_s"]) for e in ordered if e.type == "call.answered" and "waited_s" in e.data}
    errors: list[tuple[float, str | None, float]] = []
    for event in ordered:
        if event.type != "wait.announcement" or event.call_id not in answered or event.data.get("estimate_s") is None:
            continue
        remaining = answered[event.call_id] - float(event.data.get("waited_s") or 0.0)
        errors.append((event.ts, event.queue, abs(remaining - float(event.data["estimate_s"]))))
    return errors


def summarize(errors: Iterable[float]) -> dict[str, float | int | None]:
    """Count, median and 90th percentile of absolute estimate errors."""
    ordered = sorted(errors)
    if not ordered:
        return {"announcements": 0, "median_abs_error_s": None, "p90_abs_error_s": None}
    return {
        "announcements": len(ordered),
        "median_abs_error_s": round(quantile(ordered, 0.5), 2),
        "p90_abs_error_s": round(quantile(ordered, 0.9), 2),
    }


def quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (``ordered`` sorted, not empty)."""
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


__all__ = ["announcement_errors", "estimate_accuracy", "quantile", "summarize"]
