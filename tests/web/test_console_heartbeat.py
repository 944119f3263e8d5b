"""A running console writes its heartbeats where ``acd sla`` reads report availability."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from acd.metrics.store import EventStore
from tests.wall_clock import local_month, wait_clear_of_local_midnight


async def _console_events(database: Path) -> list[str]:
    store = await EventStore.open(database, create=False)
    try:
        return [event.type for event in await store.events(0, time.time() + 60) if event.type.startswith("console.")]
    finally:
        await store.close()


def test_the_console_beats_while_it_serves_and_says_when_it_stops(start_console) -> None:  # noqa: ANN001
    wait_clear_of_local_midnight(60.0)  # the month asked for below must be the one the beats were logged in
    console = start_console(heartbeat_s=0.3)
    database = console.database.parent / "var" / "acd.sqlite"
    time.sleep(1.5)
    console.process.terminate()
    console.process.wait(timeout=15)
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API may hold this thread's event loop
        types = thread.submit(asyncio.run, _console_events(database)).result()
    assert types[0] == "console.started" and types[-1] == "console.stopped", types
    assert types.count("console.heartbeat") >= 2, types
    assert database.stat().st_mode & 0o077 == 0  # the metrics log stays owner-only

    # the centre's month (acd sla's calendar), not the host's: on a UTC host the 1st of a month
    # begins three or four hours before it does in Santiago
    month = local_month(time.time())
    run = subprocess.run(
        [sys.executable, "-m", "acd", "sla", "--db", str(database), "--month", month, "--json"],
        capture_output=True, text=True, cwd=console.database.parent,
    )
    assert run.returncode == 0, run.stderr
    sla = json.loads(run.stdout)
    assert sla["report_availability_measured_from"] is not None
    assert sla["report_outages"][-1]["reason"] == "console stopped"  # stopped until now
    assert sla["penalty_detail_uf"]["report_availability"] >= 0
