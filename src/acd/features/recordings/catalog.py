"""The recordings a search finds: one row per recorded call, read from the event log.

The event log already says everything a listing needs: ``call.started`` (the caller,
masked, and its pseudonym), ``recording.started`` (agent, queue, when),
``recording.finished`` (length, stored file, checksum, empty or not).  The file itself is
looked up by call id in the recordings folder (never by the path an event holds, so a
listing cannot be made to open another file).  ``acd recordings find``, ``export`` and the
console's recordings page all read rows from here, so they agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from acd.base.events import Event
from acd.features.recordings.storage import is_empty, locate

#: call.started may precede its recording by this much (a long IVR plus a long wait)
LEAD_S = 86400.0
#: a search lists at most this many rows (newest first); narrow the range for more
MAX_ROWS = 1000


@dataclass
class RecordingRow:
    call_id: str
    started: float
    agent: str | None
    queue: str | None
    caller: str  # masked by the engine
    caller_ref: str  # pseudonym of the number (acd.privacy)
    duration_s: float | None = None
    bytes: int | None = None
    sha256: str | None = None
    codec: str | None = None
    finished: bool = False
    empty: bool = False
    truncated: bool = False
    file: Path | None = None
    disposition: str | None = None  # the wrap-up code the agent gave the call (call.disposition)

    @property
    def missing(self) -> bool:
        return self.finished and self.file is None

    @property
    def flags(self) -> list[str]:
        """What is wrong with it, as message keys' suffixes: empty, truncated, missing, unfinished."""
        out = []
        if self.empty:
            out.append("empty")
        if self.truncated:
            out.append("truncated")
        if self.missing:
            out.append("missing")
        if not self.finished:
            out.append("unfinished")
        return out

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["file"] = str(self.file) if self.file else None
        data["flags"] = self.flags
        return data


@dataclass(frozen=True)
class Search:
    """What to look for; every field optional (``caller_ref``: the pseudonym of a number)."""

    start: float | None = None
    end: float | None = None
    call_id: str | None = None
    caller_ref: str | None = None
    agent: str | None = None
    queue: str | None = None
    disposition: str | None = None


def rows_from(events: Iterable[Event], folder: Path, search: Search, *, limit: int | None = MAX_ROWS) -> list[RecordingRow]:
    """Rows for the recordings started in ``[start, end)`` matching ``search``, newest first (``limit``: None for all)."""
    callers: dict[str, dict[str, object]] = {}
    rows: dict[str, RecordingRow] = {}
    finished: dict[str, Event] = {}
    codes: dict[str, str] = {}
    for event in events:
        if event.call_id is None:
            continue
        if event.type == "call.disposition":
            codes[event.call_id] = str(event.data.get("code") or "")  # the last one stands (acd.metrics.dispositions)
        elif event.type == "call.started":
            callers[event.call_id] = event.data
        elif event.type == "recording.started":
            if (search.start is not None and event.ts < search.start) or (search.end is not None and event.ts >= search.end):
                continue
            started = callers.get(event.call_id, {})
            rows[event.call_id] = RecordingRow(
                call_id=event.call_id, started=event.ts, agent=event.agent_id,
                queue=event.queue or _str(event.data.get("queue")),
                caller=str(started.get("caller") or ""), caller_ref=str(started.get("caller_ref") or ""),
            )
        elif event.type == "recording.finished":
            finished[event.call_id] = event
    found = []
    for row in rows.values():
        row.disposition = codes.get(row.call_id) or None
        if not _matches(row, search):
            continue
        end = finished.get(row.call_id)
        if end is not None:
            row.finished = True
            duration = end.data.get("duration_s")
            row.duration_s = float(duration) if isinstance(duration, (int, float)) else None
            row.bytes = _int(end.data.get("bytes"))
            row.sha256 = _str(end.data.get("sha256"))
            row.codec = _str(end.data.get("codec"))
            row.empty = bool(end.data.get("empty")) or (row.duration_s is not None and is_empty(row.duration_s, row.bytes))
            row.truncated = bool(end.data.get("truncated"))
        found.append(row)
    found.sort(key=lambda r: r.started, reverse=True)
    found = found if limit is None else found[:limit]
    for row in found:  # only the rows shown: a month is ~10^4 recordings, each a stat
        row.file = locate(folder, row.call_id)
    return found


def _matches(row: RecordingRow, search: Search) -> bool:
    return (
        (not search.call_id or row.call_id == search.call_id)
        and (not search.caller_ref or row.caller_ref == search.caller_ref)
        and (not search.agent or row.agent == search.agent)
        and (not search.queue or row.queue == search.queue)
        and (not search.disposition or row.disposition == search.disposition)
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


RECORDING_TYPES = ("call.started", "recording.started", "recording.finished", "call.disposition")


async def search_recordings(store: object, folder: Path, search: Search, *, limit: int | None = MAX_ROWS) -> list[RecordingRow]:
    """Rows from an open :class:`~acd.metrics.store.EventStore` (``store.events``)."""
    lo = None if search.start is None else search.start - LEAD_S
    hi = None if search.end is None else search.end + LEAD_S
    events = await store.events(lo, hi, types=RECORDING_TYPES)  # type: ignore[attr-defined]
    return rows_from(events, folder, search, limit=limit)


__all__ = ["MAX_ROWS", "RecordingRow", "Search", "rows_from", "search_recordings"]
