"""Call recordings: which file belongs to which call, how long it is, and expiry.

Asterisk writes ``<call id>.wav`` with MixMonitor while the caller and the agent are
bridged.  The engine follows the calls' events: when an agent answers it records
``recording.started`` (the file's path); when the call completes and MixMonitor has
closed the file, ``recording.finished`` with its duration, the stored file (compressed,
:mod:`acd.features.recordings.storage`), its SHA-256 and whether it is empty, so every
recording is reachable from the event log by call id or by caller number.  With a
retention period set, files older than it are removed, each with a log line; without one
(the default) they are kept until the contract ends (``acd recordings export``/``erase``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from acd.base.events import Event
from acd.features.recordings.storage import EXTENSIONS, Usage, is_truncated, store_finished
from acd.features.recordings.storage import usage as usage_of

log = logging.getLogger("acd.recordings")


def recording_path(folder: Path, call_id: str) -> Path:
    return folder / f"{call_id}.wav"


def wav_duration_s(path: Path) -> float | None:
    """Length of a WAV file in seconds, or None when it is missing or unreadable."""
    try:
        with contextlib.closing(wave.open(str(path), "rb")) as handle:
            rate = handle.getframerate()
            return handle.getnframes() / rate if rate else None
    except (OSError, EOFError, wave.Error):
        return None


@dataclass
class RecordingTracker:
    """An event sink that adds recording events for answered and completed calls."""

    folder: Path
    emit: Callable[[Event], None]
    clock: Callable[[], float] = time.time
    settle_s: float = 1.0
    attempts: int = 5
    codec: str = "wav"
    _pending: set[asyncio.Task[None]] = field(default_factory=set)
    _answered: dict[str, float] = field(default_factory=dict)  # call id -> answer time, until the call completes
    #: the folder's disk use, refreshed by :meth:`watch_usage` (``/metrics``); None until first measured
    usage: Usage | None = None

    async def watch_usage(self, interval_s: float) -> None:
        """Measure disk use and days left every ``interval_s`` (a folder scan: off the loop, not per scrape)."""
        while True:
            try:
                self.usage = await asyncio.to_thread(usage_of, self.folder)
            except OSError as exc:
                log.warning("cannot measure the recordings folder %s: %s", self.folder, exc.strerror or exc)
            await asyncio.sleep(interval_s)

    def append(self, event: Event) -> None:
        if event.data.get("reconciled") == "away":
            return  # served by Asterisk's fallback queue while the engine was away: acd-agent's MixMonitor never ran
        if event.type == "call.answered" and event.call_id:
            path = recording_path(self.folder, event.call_id)
            data = {"path": str(path), "queue": event.queue}
            self._answered[event.call_id] = event.ts
            self._later(lambda: self.emit(Event(type="recording.started", ts=event.ts, call_id=event.call_id, agent_id=event.agent_id, data=data)))
        elif event.type == "call.completed" and event.call_id:
            answered = self._answered.pop(event.call_id, None)
            task = asyncio.get_running_loop().create_task(self._finish(event, None if answered is None else event.ts - answered))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _later(self, action: Callable[[], None]) -> None:
        # Never emit from inside the bus's own fan-out: schedule it.
        asyncio.get_running_loop().call_soon(action)

    async def _finish(self, completed: Event, talk_s: float | None = None) -> None:
        assert completed.call_id is not None
        path = recording_path(self.folder, completed.call_id)
        duration = None
        for _ in range(self.attempts):
            await asyncio.sleep(self.settle_s)  # MixMonitor closes the file after the bridge ends
            duration = wav_duration_s(path)
            if duration is not None:
                break
        data: dict[str, object] = {"path": str(path), "duration_s": duration}
        if duration is None:
            data["error"] = "file missing or unreadable"
            log.warning("recording for call %s not found at %s", completed.call_id, path)
        else:
            try:
                data.update(await asyncio.to_thread(store_finished, path, duration, self.codec))
            except OSError as exc:  # the file went away meanwhile: say so, keep the call's event
                data["error"] = f"cannot store: {exc.strerror or exc}"
            if talk_s is not None:
                data["talk_s"] = round(talk_s, 1)
                if is_truncated(duration, talk_s):
                    data["truncated"] = True
                    log.warning("recording for call %s is truncated: %.1f s of a %.1f s conversation", completed.call_id, duration, talk_s)
        self.emit(Event(type="recording.finished", ts=self.clock(), call_id=completed.call_id, agent_id=completed.agent_id, data=data))

    async def close(self) -> None:
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def purge_expired(folder: Path, retention_days: int, *, now: float | None = None) -> list[Path]:
    """Remove recordings older than ``retention_days``; log one line per removed file."""
    limit = (now if now is not None else time.time()) - retention_days * 86400
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in sorted(p for p in folder.iterdir() if p.suffix in EXTENSIONS):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
                log.info("recording %s removed: older than %d days", path.name, retention_days)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not remove expired recording %s: %s", path, exc.strerror)
    return removed


async def purge_periodically(folder: Path, retention_days: int, interval_s: float) -> None:
    while True:
        purge_expired(folder, retention_days)
        await asyncio.sleep(interval_s)
