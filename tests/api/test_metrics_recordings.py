"""/metrics: the recordings' disk use and days left, measured by the tracker's watch, not per scrape."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from tests.api.conftest import InProcess
from tests.api.test_metrics import parse, value


async def test_recordings_disk_use_and_days_left(inproc: InProcess, api: httpx.AsyncClient, tmp_path: Path) -> None:
    assert value(parse((await api.get("/metrics")).text), "acd_recordings_files") is None  # not measured yet: absent
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "1.1.opus").write_bytes(b"x" * 7000)
    (folder / "2.2.wav").write_bytes(b"y" * 14000)
    old = folder / "0.9.opus"
    old.write_bytes(b"z" * 1000)
    os.utime(old, (time.time() - 30 * 86400,) * 2)  # older than the last week: in the total, not in the rate
    tracker = inproc.app.recordings
    assert tracker is not None
    watch = asyncio.create_task(tracker.watch_usage(3600))
    while tracker.usage is None:
        await asyncio.sleep(0.01)
    watch.cancel()
    samples = parse((await api.get("/metrics")).text)
    assert value(samples, "acd_recordings_files") == 3 and value(samples, "acd_recordings_bytes") == 22000
    free = value(samples, "acd_recordings_free_bytes")
    assert free is not None and free > 0
    assert value(samples, "acd_recordings_days_left") == free / (21000 / 7)
