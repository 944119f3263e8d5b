"""Memory housekeeping: hand back to the system what glibc's allocator keeps after it was freed.

Measured on the lab (README, ``acd bench lab-soak`` at 4 calls/s, 3,600 calls): with the
engine's objects for a call freed when it ends, glibc's own account (``mallinfo2``) showed
the bytes in use flat while the free space inside its arenas crept (1.5 -> 2.3 MB in 15
minutes), and the main arena (``[heap]`` in ``/proc/<pid>/smaps``) grew ~260 B a call: freed
chunks below a block still in use are not given back by ``free``.  ``malloc_trim(0)`` walks
every arena and returns whole free pages (``madvise``) wherever they lie; once a minute it
brought the main arena's growth to ~50 B a call, for ~1 ms a call of it.

So every ``trim_every_s`` (60 s; 0: never) the engine trims, and every ``report_every_s``
(1 h) it logs what the allocator holds: RSS, bytes in use and free in malloc's arenas,
Python's live blocks and what the last trim gave back — the first place to look if memory
ever grows again.

On a libc without ``malloc_trim``/``mallinfo2`` (musl, macOS) both are skipped: the figures
say "n/a" and nothing else changes.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("acd.housekeeping")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None)
    except OSError:
        return None


_LIBC = _libc()
_TRIM = getattr(_LIBC, "malloc_trim", None)
_MALLINFO2 = getattr(_LIBC, "mallinfo2", None)
if _TRIM is not None:
    _TRIM.argtypes, _TRIM.restype = [ctypes.c_size_t], ctypes.c_int
if _MALLINFO2 is not None:
    _MALLINFO2.argtypes, _MALLINFO2.restype = [], _MallInfo2


def rss_kb() -> int:
    """This process's resident set in kB (0 where ``/proc`` is not there)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def trim() -> bool:
    """``malloc_trim(0)``: free pages of every arena back to the system; False where there is none."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


@dataclass(frozen=True)
class MallocFigures:
    """glibc's own account of its arenas (``mallinfo2``), in kB."""

    arenas_kb: int  # obtained from the system with brk/sbrk-like growth, every arena
    mmapped_kb: int  # large blocks served by their own mmap
    in_use_kb: int
    free_kb: int  # free inside the arenas: what fragmentation keeps
    releasable_kb: int  # free at the top of the main arena


def malloc_figures() -> MallocFigures | None:
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return MallocFigures(info.arena // 1024, info.hblkhd // 1024, info.uordblks // 1024, info.fordblks // 1024, info.keepcost // 1024)


class Housekeeping:
    """The periodic trim and the periodic memory line in the log."""

    def __init__(self, trim_every_s: float, report_every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.trim_every_s, self.report_every_s, self.clock = trim_every_s, report_every_s, clock
        self.trims = 0
        self.last_given_back_kb = 0

    def tick(self) -> int:
        """One trim; the RSS it gave back in kB (0 when trimming is off or unavailable)."""
        if self.trim_every_s <= 0:
            return 0
        before = rss_kb()
        if not trim():
            return 0
        self.trims += 1
        self.last_given_back_kb = max(0, before - rss_kb())
        return self.last_given_back_kb

    def report(self) -> str:
        figures = malloc_figures()
        malloc = (
            f"malloc {figures.in_use_kb / 1024:.1f} MB in use, {figures.free_kb / 1024:.1f} MB free in arenas of "
            f"{figures.arenas_kb / 1024:.1f} MB, {figures.mmapped_kb / 1024:.1f} MB mmapped"
            if figures else "malloc n/a"
        )
        trims = f"{self.trims} trims, the last gave back {self.last_given_back_kb} kB" if self.trim_every_s > 0 else "trim off"
        return f"memory: RSS {rss_kb() / 1024:.1f} MB; {malloc}; Python {sys.getallocatedblocks()} blocks; {trims}"

    async def run(self) -> None:
        periods = [p for p in (self.trim_every_s, self.report_every_s) if p > 0]
        if not periods:
            return
        now = self.clock()
        next_trim, next_report = now + self.trim_every_s, now + self.report_every_s
        while True:
            await asyncio.sleep(min(periods))
            now = self.clock()
            if self.trim_every_s > 0 and now >= next_trim:
                next_trim = now + self.trim_every_s
                self.tick()
            if self.report_every_s > 0 and now >= next_report:
                next_report = now + self.report_every_s
                log.info("%s", self.report())
