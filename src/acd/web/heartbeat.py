"""The console's own availability, written where ``acd sla`` reads it.

The contract fines report unavailability (reports available >= 95 % of the hours); the
reports are this console's, so while it serves it writes ``console.started`` (with its
period), a ``console.heartbeat`` every ``web.heartbeat_s`` and ``console.stopped`` on a clean
stop into the metrics store — the same SQLite log the engine writes (WAL: both may write).
``acd.metrics.report_availability`` turns them into outages: a crash shows as missing
heartbeats, counted from the last one.

Failure rule: the console serves pages whether or not the store can be written; a beat that
cannot be written is logged and the next one tries again (a store down is itself an
outage of the reports, and its missing beats say so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Callable

from acd.base.events import Event
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import SQLITE, StoreLocation, open_store

log = logging.getLogger("acd.web.heartbeat")


class ConsoleHeartbeat:
    def __init__(self, database: Path | StoreLocation, period_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database if isinstance(database, StoreLocation) else StoreLocation(SQLITE, path=database)
        self.period_s = period_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._store: MetricsStore | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    async def _write(self, type_: str, **data: object) -> None:
        try:
            if self._store is None:
                if self.database.path is not None:
                    self.database.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a console may run before the engine ever did
                self._store = await open_store(self.database, batch_interval_s=0.2)
            self._store.append(Event(type=type_, ts=self.clock(), data=dict(data)))  # type: ignore[arg-type]
            await self._store.flush()
        except Exception as exc:  # the store may be locked, missing or full: pages are served anyway
            log.warning("console %s not written to %s: %s", type_.split(".")[1], self.database, exc)
            await self._drop_store()

    async def _beat(self) -> None:
        await self._write("console.started", period_s=self.period_s)
        while True:
            await asyncio.sleep(self.period_s)
            await self._write("console.heartbeat")

    async def _drop_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                await store.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._write("console.stopped")
        await self._drop_store()


__all__ = ["ConsoleHeartbeat"]
