"""The console's heartbeat goes to the store ``store.url`` names, PostgreSQL included."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from acd.lab.postgres import Postgres
from acd.metrics.store_url import StoreLocation, open_store, parse_store_url
from acd.web.heartbeat import ConsoleHeartbeat


async def _beat_and_read(location: StoreLocation, postgres: Postgres) -> list[str]:
    heartbeat = ConsoleHeartbeat(location, 0.2)
    await heartbeat.start()
    deadline = asyncio.get_running_loop().time() + 30
    beats = 0
    while beats < 2 and asyncio.get_running_loop().time() < deadline:  # a loaded machine may take a while to connect
        await asyncio.sleep(0.2)
        try:
            beats = int(await asyncio.to_thread(postgres.psql, "SELECT count(*) FROM events WHERE type = 'console.heartbeat'", "console_beats"))
        except Exception:  # noqa: BLE001 - the tables are not there before the first write
            beats = 0
    await heartbeat.stop()
    store = await open_store(location, create=False)
    try:
        return [e.type for e in await store.events()]
    finally:
        await store.close()


def test_the_heartbeat_writes_to_postgresql(postgres: Postgres) -> None:
    location = parse_store_url(postgres.create_database("console_beats"))
    with ThreadPoolExecutor(1) as thread:  # the browser tests' Playwright may hold this thread's event loop
        types = thread.submit(asyncio.run, _beat_and_read(location, postgres)).result()
    assert types[0] == "console.started" and types[-1] == "console.stopped" and types.count("console.heartbeat") >= 2, types
