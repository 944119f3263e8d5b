"""Estimated wait time from the live queue state, not a fixed average.

A caller at position k (1 = next) waits until k agents serving the queue have become
free.  With N agents serving and handle times averaging H (talk + wrap-up, measured over
the queue's recent calls), agents free up at a rate of about N / H, so the wait is about
k · H / N — minus nothing: callers are re-estimated at each announcement from the state
at that moment.  Asterisk's app_queue uses a running average of past holds plus a fixed
margin regardless of position or staffing; this reacts to both.

Pure: fed with completed handle times, asked with (position, agents serving).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class HandleTimes:
    """Recent handle times of one queue (a bounded window, most recent last)."""

    default_s: float
    window: int = 50
    _samples: deque[float] = field(default_factory=deque)

    def add(self, handle_s: float) -> None:
        if handle_s >= 0:
            self._samples.append(handle_s)
            while len(self._samples) > self.window:
                self._samples.popleft()

    @property
    def mean_s(self) -> float:
        return sum(self._samples) / len(self._samples) if self._samples else self.default_s

    @property
    def measured(self) -> int:
        return len(self._samples)


def estimate_wait_s(position: int, agents_serving: int, mean_handle_s: float) -> float | None:
    """Seconds until the caller at ``position`` (1 = next) reaches an agent; None if nobody serves."""
    if position < 1:
        raise ValueError("position starts at 1")
    if agents_serving <= 0:
        return None
    return position * mean_handle_s / agents_serving
