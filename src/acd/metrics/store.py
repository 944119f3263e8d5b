"""The durable event log: every ``Event`` in one SQLite file, written in batches.

Why batches: the routing core must never wait for a disk.  ``append()`` only puts the
event in an in-memory list; a background task writes the list every
``batch_interval_s`` (at most 1 s) in ONE transaction (``acd.metrics.batching``, shared
with the PostgreSQL store), so a busy contact center costs a
handful of fsyncs per second instead of one per event.

Durability contract (what a contract audit may rely on):

* ``close()`` writes everything still pending, so a clean shutdown loses nothing.
* If the process dies without closing (``kill -9``, OOM killer, segfault), what is lost is
  at most the events appended during the last batch window: an event appended at time
  *t* is committed by *t + batch_interval_s +* the time one flush takes (milliseconds),
  as long as the event loop is not blocked.
  Everything older is in the file, because each flush is a committed WAL transaction.
* The database runs in WAL mode with ``synchronous=FULL``: a committed batch also
  survives a power cut or kernel crash, not only a process crash (the price is one fsync
  per batch, i.e. a few per second).
* Appending the same event twice (same ``id``) stores it once, so replays are harmless.

Schema changes are numbered migrations recorded in ``schema_version``; each runs in its
own transaction, so a database is never left half-migrated.  A database written by a
newer ``acd`` (higher version than this code knows) is refused and never touched, and so
is a file that is not an SQLite database or not an ``acd`` event log.

Long on purpose: the schema, its numbered migrations and every query over it are kept in
one file so a schema change is one reviewable diff; the figures built on it live in
:mod:`acd.metrics.cells` and :mod:`acd.metrics.reports`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable, Sequence

import aiosqlite

from acd.base.events import Event
from acd.metrics.batching import BatchingWriter
from acd.private_files import prepare_database

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
DAY_S = 86400.0
PLATFORM_TYPES = ("engine.started", "engine.stopped", "ami.connected", "ami.disconnected")
CONSOLE_TYPES = ("console.started", "console.heartbeat", "console.stopped")  # acd.metrics.report_availability

# Each migration is a list of statements run in one transaction.  Never edit a released
# migration: append a new one.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: the event log
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            call_id TEXT,
            agent_id TEXT,
            queue TEXT,
            data TEXT NOT NULL,
            schema_version INTEGER NOT NULL
        )""",
        "CREATE INDEX events_ts ON events (ts)",
        "CREATE INDEX events_type_ts ON events (type, ts)",
        "CREATE INDEX events_type_agent_ts ON events (type, agent_id, ts)",
    ),
    (  # 2: the incident log ("bitácora")
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            start_ts REAL NOT NULL,
            end_ts REAL NOT NULL,
            text TEXT NOT NULL,
            created_ts REAL NOT NULL,
            CHECK (end_ts > start_ts)
        )""",
        "CREATE INDEX incidents_span ON incidents (start_ts, end_ts)",
    ),
    (  # 3: an incident may be open (no end yet) and closed later
        """CREATE TABLE incidents_v3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            start_ts REAL NOT NULL,
            end_ts REAL,
            text TEXT NOT NULL,
            created_ts REAL NOT NULL,
            CHECK (end_ts IS NULL OR end_ts > start_ts)
        )""",
        "INSERT INTO incidents_v3 (id, start_ts, end_ts, text, created_ts) SELECT id, start_ts, end_ts, text, created_ts FROM incidents",
        "DROP TABLE incidents",
        "ALTER TABLE incidents_v3 RENAME TO incidents",
        "CREATE INDEX incidents_span ON incidents (start_ts, end_ts)",
    ),
    (  # 4: who wrote an incident, how severe it is, and its last change (the web console edits them)
        "ALTER TABLE incidents ADD COLUMN severity TEXT NOT NULL DEFAULT 'medium'",
        "ALTER TABLE incidents ADD COLUMN author TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE incidents ADD COLUMN updated_ts REAL",
        "ALTER TABLE incidents ADD COLUMN updated_by TEXT",
    ),
]


def latest_version() -> int:
    return len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used; the message is one line meant for an operator."""


class MissingDatabaseError(StoreError):
    pass


class CorruptDatabaseError(StoreError):
    pass


class NewerSchemaError(StoreError):
    pass


SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Incident:
    """One entry of the incident log: something that affected service from ``start`` to
    ``end`` (None while it is still going on), who wrote it and how severe it was.
    Every change made in the web console is also in its audit log (who, when, before/after)."""

    id: int
    start: float
    end: float | None
    text: str
    created: float
    severity: str = "medium"
    author: str = ""
    updated: float | None = None
    updated_by: str | None = None

    def overlaps(self, start: float, end: float) -> bool:
        return self.start < end and (self.end is None or start < self.end)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "start": self.start, "end": self.end, "text": self.text, "created": self.created,
            "severity": self.severity, "author": self.author, "updated": self.updated, "updated_by": self.updated_by,
        }


_INCIDENT_COLUMNS = "id, start_ts, end_ts, text, created_ts, severity, author, updated_ts, updated_by"


def _incident(r: Sequence[Any]) -> Incident:
    return Incident(
        int(r[0]), float(r[1]), None if r[2] is None else float(r[2]), str(r[3]), float(r[4]),
        str(r[5]), str(r[6]), None if r[7] is None else float(r[7]), r[8],
    )


def check_incident(start: float, end: float | None, text: str, severity: str) -> str:
    """The incident's text, stripped; ValueError with a one-line reason if anything is wrong."""
    if end is not None and not end > start:
        raise ValueError("an incident must end after it starts")
    if not text.strip():
        raise ValueError("an incident needs a text")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    return text.strip()


_COLUMNS = "id, ts, type, call_id, agent_id, queue, data, schema_version"


def _row(event: Event) -> tuple[Any, ...]:
    return (event.id, event.ts, event.type, event.call_id, event.agent_id, event.queue, data_json(event), event.schema_version)


def data_json(event: Event) -> str:
    """The event's data as stored: pydantic's JSON mode, exactly as ``Event.to_json`` does,
    so the log and the MQTT stream agree on what an event says; floats survive the round
    trip exactly.

    Data of plain JSON values under string keys (every event the engine makes) reads the
    same through ``json.dumps`` alone, so it goes that way: one C call instead of
    pydantic's serializer, ~2 % of the engine's CPU per call on the parity bench.  Anything
    else (a NaN, a key that is not a string, which the two would sort differently, an
    object json cannot write) goes pydantic's way; ``tests/metrics/test_store.py``
    property-tests that both ways agree."""
    data = event.data
    if _string_keys(data):
        try:
            return json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False, default=_not_plain)
        except (TypeError, ValueError):
            pass
    return json.dumps(event.model_dump(mode="json")["data"], separators=(",", ":"), sort_keys=True)


def _string_keys(value: Any) -> bool:
    """No dict in ``value``, however deep, has a key other than a ``str``."""
    if isinstance(value, dict):
        return all(type(key) is str and (not isinstance(item, (dict, list, tuple)) or _string_keys(item)) for key, item in value.items())
    return all(not isinstance(item, (dict, list, tuple)) or _string_keys(item) for item in value)


def _not_plain(value: object) -> object:
    raise TypeError("not a plain JSON value")


def _event(row: Sequence[Any]) -> Event:
    """Rebuild a stored event without re-validating it.

    Rows were validated when appended; skipping validation keeps month-long reports
    fast and lets an older ``acd`` read event types added by a newer one (reports
    ignore types they do not know) instead of failing on them.
    """
    event_id, ts, type_, call_id, agent_id, queue, data, schema_version = row
    return Event.model_construct(
        id=event_id,
        ts=ts,
        type=type_,
        call_id=call_id,
        agent_id=agent_id,
        queue=queue,
        data=json.loads(data),
        schema_version=schema_version,
    )


#: database files this process has open through an EventStore, with how many times
_open_here: dict[str, int] = {}


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def _forget(key: str) -> None:
    _open_here[key] = _open_here.get(key, 1) - 1
    if _open_here[key] <= 0:
        del _open_here[key]


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before sqlite3 gets a chance to touch it."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read database {path}: {exc.strerror or exc}") from None
    if header and header != SQLITE_HEADER:
        raise CorruptDatabaseError(f"{path} is not an SQLite database (corrupt or the wrong file)")


class EventStore(BatchingWriter):
    """Append-only event log plus incident log in one SQLite file.  Use ``await EventStore.open(path)``."""

    _log = log
    _db_errors = (sqlite3.Error,)

    def __init__(self, path: Path, conn: aiosqlite.Connection, batch_interval_s: float) -> None:
        self.path = path
        self._conn = conn
        self._init_batching(batch_interval_s)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls, path: str | Path, *, batch_interval_s: float = 0.2, create: bool = True, private: bool = True
    ) -> "EventStore":
        """Open (and create or migrate) the log; raises ``StoreError`` subclasses with one-line messages.

        ``create=False`` is for readers (reports): a missing file is an error rather than
        a new empty database that would silently report zero calls.  A writer's file
        (and so its ``-wal``/``-shm``) is owner-only unless ``private`` is false: events
        name calls, agents and queues (``acd.private_files``).
        """
        if not 0 < batch_interval_s <= 1.0:
            raise ValueError("batch_interval_s must be in (0, 1] so at most one second of events is at risk")
        path = Path(path)
        if path.exists():
            if path.is_dir():
                raise StoreError(f"{path} is a directory, not a database file")
            if _open_here.get(_key(path), 0) == 0:
                # Never while this process has the file open: closing any descriptor of
                # a file drops every POSIX lock the process holds on it, SQLite's too
                # (https://www.sqlite.org/howtocorrupt.html, 2.2); the console opens the
                # log per request beside its heartbeat's connection.
                _check_header(path)
        elif not create:
            raise MissingDatabaseError(f"database not found: {path}")
        elif not path.parent.exists():
            raise StoreError(f"cannot create database {path}: folder {path.parent} does not exist")
        if create:
            try:
                prepare_database(path, private=private)
            except OSError as exc:
                raise StoreError(f"cannot create database {path}: {exc.strerror or exc}") from None
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        key = _key(path)
        _open_here[key] = _open_here.get(key, 0) + 1  # from here on SQLite may hold locks on it
        try:
            await _prepare(conn, path)
        except BaseException:
            await conn.close()
            _forget(key)
            raise
        store = cls(path, conn, batch_interval_s)
        store._start_flusher(f"event-store-flush:{path.name}")
        return store

    async def __aenter__(self) -> "EventStore":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- writing (the loop is acd.metrics.batching's) ----------------------------------

    def _prepare_row(self, event: Event) -> tuple[Any, ...]:
        return _row(event)

    async def _write_batch(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """The whole transaction in one trip to the connection's thread.

        aiosqlite runs each call on its own thread and wakes the event loop with the
        result: BEGIN, the inserts and COMMIT as three calls woke the engine three times
        per batch, and its thread as often.  ``_execute`` (aiosqlite's one way to run a
        function on that thread, private but unchanged since 0.17) makes it one."""
        connection = self._conn
        await connection._execute(lambda: _insert_rows(connection._conn, rows))

    async def _release(self) -> None:
        try:
            await self._conn.close()
        finally:
            _forget(_key(self.path))

    # -- reading -----------------------------------------------------------------------

    async def schema_version(self) -> int:
        return await _current_version(self._conn)

    async def count(self) -> int:
        await self.flush()
        async with self._conn.execute("SELECT COUNT(*) FROM events") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def events(
        self,
        start: float | None = None,
        end: float | None = None,
        types: Iterable[str] | None = None,
        queue: str | None = None,
    ) -> list[Event]:
        """Events with ``start <= ts < end`` (either bound optional), oldest first, ties in append order."""
        await self.flush()
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append("ts >= ?")
            params.append(start)
        if end is not None:
            clauses.append("ts < ?")
            params.append(end)
        if types is not None:
            wanted = list(types)
            clauses.append(f"type IN ({', '.join('?' for _ in wanted)})" if wanted else "0")
            params.extend(wanted)
        if queue is not None:
            clauses.append("queue = ?")
            params.append(queue)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return await self._select(f"SELECT {_COLUMNS} FROM events {where} ORDER BY ts, seq", params)

    async def latest_before(self, ts: float, types: Iterable[str], per_agent: bool = False) -> list[Event]:
        """The last event of each type before ``ts`` (per agent too if ``per_agent``)."""
        await self.flush()
        wanted = list(types)
        if not wanted:
            return []
        partition = "type, agent_id" if per_agent else "type"
        placeholders = ", ".join("?" for _ in wanted)
        sql = (
            f"SELECT {_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER "
            f"(PARTITION BY {partition} ORDER BY ts DESC, seq DESC) AS rank "
            f"FROM events WHERE type IN ({placeholders}) AND ts < ?) WHERE rank = 1 ORDER BY ts, seq"
        )
        return await self._select(sql, [*wanted, ts])

    async def report_events(self, start: float, end: float, margin_s: float = DAY_S) -> list[Event]:
        """Everything a report over ``[start, end)`` needs, oldest first.

        That is the events from ``start - margin_s`` to ``end + margin_s`` (a call
        offered in the range is answered, completed and wrapped up within a day of it),
        plus, from before that window, each agent's last state and the last platform
        event of each kind, so agent time and service availability start from the right
        state.  Reports computed over this list equal reports over the whole log.
        """
        lo, hi = start - margin_s, end + margin_s
        prefix = await self.latest_before(lo, ["agent.state"], per_agent=True)
        prefix += await self.latest_before(lo, PLATFORM_TYPES)
        prefix += await self.latest_before(lo, CONSOLE_TYPES)  # was the console up when the window opens?
        prefix.sort(key=lambda e: e.ts)
        return prefix + await self.events(lo, hi)

    async def availability_events(self, start: float, end: float) -> list[Event]:
        """What ``acd.metrics.downtime.outages`` needs of ``[start, end)``, without the rest of the log.

        The platform events (and the last one of each kind before ``start``), each with
        the event logged just before it (console events aside: they are no sign of the
        engine's life), since a crash is dated from the last sign of life before the
        restart; and the console's own events, for report availability
        (``acd.metrics.report_availability``).  Nothing else is read, and the outages
        computed over this list equal those over every event.
        """
        prefix = await self.latest_before(start, PLATFORM_TYPES)
        prefix += await self.latest_before(start, CONSOLE_TYPES)
        console = await self.events(start, end, types=CONSOLE_TYPES)
        placeholders = ", ".join("?" for _ in PLATFORM_TYPES)
        async with self._conn.execute(
            f"SELECT seq, ts FROM events WHERE type IN ({placeholders}) AND ts >= ? AND ts < ? ORDER BY ts, seq",
            [*PLATFORM_TYPES, start, end],
        ) as cursor:
            marks = await cursor.fetchall()
        seqs: set[int] = set()
        for seq, ts in marks:
            seqs.add(int(seq))
            async with self._conn.execute(
                "SELECT seq FROM events WHERE ts <= ? AND NOT (ts = ? AND seq >= ?) AND type NOT LIKE 'console.%' "
                "ORDER BY ts DESC, seq DESC LIMIT 1",
                (ts, ts, seq),
            ) as cursor:
                before = await cursor.fetchone()
            if before is not None:
                seqs.add(int(before[0]))
        ordered = sorted(seqs)
        rows: list[Event] = []
        for index in range(0, len(ordered), 500):
            chunk = ordered[index:index + 500]
            rows += await self._select(
                f"SELECT {_COLUMNS} FROM events WHERE seq IN ({', '.join('?' for _ in chunk)}) ORDER BY ts, seq", chunk
            )
        return sorted(prefix, key=lambda e: e.ts) + sorted(rows + console, key=lambda e: e.ts)

    async def recorded_types(self, call_ids: Iterable[str], types: Iterable[str], since: float) -> dict[str, set[str]]:
        """Which of ``types`` the log holds for each of ``call_ids`` since ``since``.

        A restarted engine asks this of the calls it finds on Asterisk (resync), so it
        records what the previous engine did not (an answer it never saw) and nothing twice
        (a second ``call.answered`` would be a second offered call in every figure)."""
        await self.flush()
        ids, wanted = sorted(set(call_ids)), sorted(set(types))
        found: dict[str, set[str]] = {}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            sql = (
                f"SELECT call_id, type FROM events WHERE type IN ({', '.join('?' for _ in wanted)}) AND ts >= ? "
                f"AND call_id IN ({', '.join('?' for _ in chunk)})"
            )
            async with self._conn.execute(sql, [*wanted, since, *chunk]) as cursor:
                for call_id, type_ in await cursor.fetchall():
                    found.setdefault(call_id, set()).add(type_)
        return found

    async def _select(self, sql: str, params: Sequence[Any]) -> list[Event]:
        async with self._conn.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [_event(row) for row in rows]

    # -- incidents ---------------------------------------------------------------------

    async def add_incident(
        self, start: float, end: float | None, text: str, created: float | None = None, *, severity: str = "medium", author: str = ""
    ) -> Incident:
        """Record an incident; ``end`` None: still going on (close it with :meth:`close_incident`)."""
        text = check_incident(start, end, text, severity)
        created = time.time() if created is None else created
        async with self._lock:
            cursor = await self._conn.execute(
                "INSERT INTO incidents (start_ts, end_ts, text, created_ts, severity, author) VALUES (?, ?, ?, ?, ?, ?)",
                (start, end, text, created, severity, author),
            )
            incident_id = cursor.lastrowid
            await cursor.close()
        assert incident_id is not None
        return Incident(int(incident_id), start, end, text, created, severity, author)

    async def incidents(self, start: float | None = None, end: float | None = None) -> list[Incident]:
        """Incidents overlapping ``[start, end)``, in order of start."""
        clauses: list[str] = []
        params: list[Any] = []
        if end is not None:
            clauses.append("start_ts < ?")
            params.append(end)
        if start is not None:
            clauses.append("(end_ts IS NULL OR end_ts > ?)")
            params.append(start)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where} ORDER BY start_ts, id"
        async with self._conn.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [_incident(r) for r in rows]

    async def incident(self, incident_id: int) -> Incident | None:
        async with self._conn.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _incident(row)

    async def update_incident(
        self, incident_id: int, *, start: float, end: float | None, text: str, severity: str, by: str, at: float | None = None
    ) -> tuple[Incident, Incident]:
        """Change an incident (its author and creation stay); returns (before, after)."""
        text = check_incident(start, end, text, severity)
        at = time.time() if at is None else at
        async with self._lock:
            before = await self.incident(incident_id)
            if before is None:
                raise ValueError(f"no incident #{incident_id}")
            await self._conn.execute(
                "UPDATE incidents SET start_ts = ?, end_ts = ?, text = ?, severity = ?, updated_ts = ?, updated_by = ? WHERE id = ?",
                (start, end, text, severity, at, by, incident_id),
            )
        after = Incident(incident_id, start, end, text, before.created, severity, before.author, at, by)
        return before, after

    async def close_incident(self, incident_id: int, end: float, *, by: str | None = None) -> Incident:
        """End an open incident at ``end``; raises ValueError naming what is wrong."""
        async with self._lock:
            incident = await self.incident(incident_id)
            if incident is None:
                raise ValueError(f"no incident #{incident_id}")
            if incident.end is not None:
                raise ValueError(f"incident #{incident_id} is already closed")
            if not end > incident.start:
                raise ValueError(f"incident #{incident_id} started later than that; it must end after it starts")
            if by is None:
                await self._conn.execute("UPDATE incidents SET end_ts = ? WHERE id = ?", (end, incident_id))
            else:
                await self._conn.execute(
                    "UPDATE incidents SET end_ts = ?, updated_ts = ?, updated_by = ? WHERE id = ?", (end, time.time(), by, incident_id)
                )
        return await self.incident(incident_id)  # type: ignore[return-value]

    # -- report cells (a cache of ledger accumulators, see acd.metrics.aggregates) -----
    #
    # Not a numbered migration on purpose: the table holds only figures derived from the
    # events, each row keyed by the rules and code version that made it, so it can be
    # dropped or rebuilt at any time (``acd report --rebuild``) and an older or newer acd
    # simply ignores rows keyed for another version.

    async def cached_cells(self, key: str, start: float, end: float, *, days: bool) -> list[tuple[float, float, bytes]]:
        """Stored cells of ``key`` inside ``[start, end)``: quarter hours, or (``days``) longer ones."""
        size = "end_ts - start_ts > 900" if days else "end_ts - start_ts = 900"
        sql = f"SELECT start_ts, end_ts, data FROM report_cells WHERE rules = ? AND start_ts >= ? AND end_ts <= ? AND {size} ORDER BY start_ts"
        try:
            async with self._conn.execute(sql, (key, start, end)) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        return [(float(a), float(b), bytes(c)) for a, b, c in rows]

    async def save_cells(self, key: str, cells: Sequence[tuple[float, float, bytes]]) -> None:
        """Store final cells (replacing equal ones); one transaction."""
        if not cells:
            return
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                await self._conn.execute(_CELLS_TABLE)
                await self._conn.executemany(
                    "INSERT OR REPLACE INTO report_cells (rules, start_ts, end_ts, data) VALUES (?, ?, ?, ?)",
                    [(key, a, b, c) for a, b, c in cells],
                )
                await self._conn.execute("COMMIT")
            except BaseException:
                await _rollback(self._conn)
                raise

    async def drop_cells(self, start: float | None = None, end: float | None = None) -> int:
        """Forget stored cells (of every key) overlapping ``[start, end)``; returns how many."""
        clauses, params = ["1"], []
        if start is not None:
            clauses.append("end_ts > ?")
            params.append(start)
        if end is not None:
            clauses.append("start_ts < ?")
            params.append(end)
        async with self._lock:
            await self._conn.execute(_CELLS_TABLE)
            cursor = await self._conn.execute(f"DELETE FROM report_cells WHERE {' AND '.join(clauses)}", params)
            count = cursor.rowcount
            await cursor.close()
        return int(count)

    async def first_event_ts(self) -> float | None:
        async with self._conn.execute("SELECT MIN(ts) FROM events") as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])


_CELLS_TABLE = """CREATE TABLE IF NOT EXISTS report_cells (
    rules TEXT NOT NULL,
    start_ts REAL NOT NULL,
    end_ts REAL NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (rules, start_ts, end_ts)
) WITHOUT ROWID"""


# -- schema ---------------------------------------------------------------------------


_INSERT_EVENTS = f"INSERT OR IGNORE INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """One batch in one transaction, on the connection's own thread; nothing of it on failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_INSERT_EVENTS, rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


async def _rollback(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # nothing was open


async def _tables(conn: aiosqlite.Connection) -> set[str]:
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
        return {str(row[0]) for row in await cursor.fetchall()}


async def _current_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT MAX(version) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def _prepare(conn: aiosqlite.Connection, path: Path) -> None:
    """Check what the file is, then switch to WAL and migrate; refuse anything foreign or newer."""
    try:
        tables = await _tables(conn)
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabaseError(f"{path} is not a usable SQLite database ({exc})") from None
    if tables and "schema_version" not in tables:
        raise StoreError(f"{path} is an SQLite database but not an acd event log (no schema_version table)")
    version = await _current_version(conn) if "schema_version" in tables else 0
    if version > latest_version():
        raise NewerSchemaError(
            f"{path} has schema version {version} but this acd knows up to {latest_version()}: "
            "upgrade acd (the database was left untouched)"
        )
    try:
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA synchronous = FULL")
        if version < latest_version():
            # Only a database that needs it is written to: a report run beside a
            # running engine never takes the write lock just by opening the file.
            await conn.execute("PRAGMA journal_mode = WAL")
            await migrate(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot prepare database {path}: {exc}") from None


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply the missing migrations, each in its own transaction; returns the new version."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ts REAL NOT NULL)"
    )
    while True:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = await _current_version(conn)
            if version >= latest_version():
                await conn.execute("COMMIT")
                return version
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)", (version + 1, time.time())
            )
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise
        log.info("event store migrated to schema version %d", version + 1)


__all__ = [
    "CorruptDatabaseError",
    "EventStore",
    "Incident",
    "MIGRATIONS",
    "MissingDatabaseError",
    "SEVERITIES",
    "check_incident",
    "NewerSchemaError",
    "StoreError",
    "latest_version",
]
