"""Memory housekeeping: malloc_trim gives freed arena pages back; the memory line says what malloc holds."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging

import pytest

from acd.housekeeping import Housekeeping, malloc_figures, rss_kb, trim

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]


def test_a_trim_gives_back_freed_pages_that_a_live_block_above_them_pins() -> None:
    assert malloc_figures() is not None, "glibc's mallinfo2 (Debian 12 has glibc 2.36)"
    # 40 MB in 4 kB blocks (below the mmap threshold: inside the arena), then one block kept
    # above them: freeing the rest leaves the pages inside the arena, where only a trim reaches.
    blocks = [libc.malloc(4096) for _ in range(10_000)]
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    pin = libc.malloc(64)
    for block in blocks:
        libc.free(block)
    held = rss_kb()
    assert trim()
    given_back = held - rss_kb()
    libc.free(pin)
    assert given_back > 20_000, f"trim gave back {given_back} kB of 40 MB freed"


def test_a_tick_counts_the_trim_and_a_zero_period_turns_it_off() -> None:
    on, off = Housekeeping(60, 0), Housekeeping(0, 0)
    on.tick(), off.tick()
    assert (on.trims, off.trims) == (1, 0)
    assert "1 trims" in on.report() and "trim off" in off.report() and "MB in use" in on.report()


async def test_the_run_trims_and_logs_the_memory_line_on_its_periods(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    keeper = Housekeeping(0.01, 0.03, clock=lambda: now[0])

    async def advance() -> None:
        for _ in range(10):
            await asyncio.sleep(0.01)
            now[0] += 0.01

    with caplog.at_level(logging.INFO, logger="acd.housekeeping"):
        task = asyncio.create_task(keeper.run())
        await advance()
        task.cancel()
    assert keeper.trims >= 3
    assert any("memory: RSS" in record.getMessage() for record in caplog.records)
