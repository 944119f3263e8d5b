"""A one-line progress bar on stderr, for simulations that take more than a moment.

Drawn only when asked (the CLI asks when stderr is a terminal, or with ``--progress``)
and at most five times a second, so piping ``acd simulate`` into a file stays clean
and drawing never costs more than the simulation it reports on.
"""

from __future__ import annotations

import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """Call with ``(done, total)``; ``close()`` ends the line."""

    def __init__(self, stream: TextIO, label: str = "simulating", min_interval_s: float = 0.2) -> None:
        self.stream = stream
        self.label = label
        self.min_interval_s = min_interval_s
        self.started = time.monotonic()
        self.last = float("-inf")
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.min_interval_s and done < total:
            return
        self.last = now
        fraction = done / total if total else 1.0
        filled = int(round(fraction * WIDTH))
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = now - self.started
        self.stream.write(f"\r{self.label} [{bar}] {fraction * 100:5.1f}%  {done:,}/{total:,} calls  {elapsed:6.1f} s")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
