"""The console keeps past days' report figures stored: ``acd report --warm`` in the background.

After an upgrade that retires the stored report cells (``acd.metrics.warmup``), the
first person to open a month or a year would wait while it is replayed from the raw log.
``acd web`` therefore runs ``acd report --warm`` shortly after it starts, and again every
few hours (cheap when nothing is missing), so the cells are built before anyone asks.

Why a child process rather than a task: building a week of cells is seconds of pure
Python; in the console's event loop it would freeze every wallboard for that long, and
in a thread of this process it would share the GIL and the SQLite file's POSIX locks
(closing any descriptor of the file drops every lock the process holds).  A child runs
at a lower CPU priority and its SQLite connection is its own.  Pages meanwhile compute
what they need themselves; either way the figures are the same (one ledger, stored whole).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from acd.metrics.store_url import settings_location
from acd.settings import Settings

log = logging.getLogger("acd.web.warmup")

#: Lower CPU priority of the warm-up process (nice increment): pages and streams come first.
NICE = 10


class CellWarmer:
    """Runs the warm-up ``delay_s`` after start and then every ``every_s`` seconds."""

    def __init__(self, settings: Settings, *, delay_s: float = 10.0, every_s: float = 6 * 3600.0) -> None:
        self.settings = settings
        self.delay_s = delay_s
        self.every_s = every_s
        self.runs = 0
        self.last_output = ""
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def command(self) -> list[str] | None:
        """The ``acd report --warm`` for this console's settings; None while there is no event store."""
        location = settings_location(self.settings)
        if location.path is not None:
            if not location.path.is_file():
                return None
            argv = [sys.executable, "-m", "acd", "report", "--warm", "--db", str(location.path)]
        else:  # PostgreSQL: the child reads store.url from the same settings and environment (no password in argv)
            argv = [sys.executable, "-m", "acd", "report", "--warm"]
        if self.settings.source != "(defaults)":
            argv += ["--settings", str(self.settings.source)]
        return argv

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="console-cell-warmer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()

    async def _run(self) -> None:
        await asyncio.sleep(self.delay_s)
        while True:
            try:
                await self.warm_once()
            except OSError as exc:  # e.g. no process slots: next round
                log.warning("report warm-up could not start: %s", exc)
            await asyncio.sleep(self.every_s)

    async def warm_once(self) -> int | None:
        """One ``acd report --warm``; its exit status (None: no event store yet)."""
        argv = self.command()
        if argv is None:
            return None
        self._process = process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, process.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE))
        _, err = await process.communicate()
        self._process = None
        self.runs += 1
        self.last_output = err.decode(errors="replace").strip()
        if process.returncode == 0:
            log.info("report warm-up: %s", "; ".join(self.last_output.splitlines()) or "done")
        else:
            log.warning("report warm-up failed (exit %s): %s", process.returncode, self.last_output[-500:])
        return process.returncode
