"""The metrics store on PostgreSQL: the same interface and contract as the SQLite log.

Why: one SQLite file beside one engine is one machine; a shared PostgreSQL lets a second
engine (hot standby), several consoles and the reports read and write one store (issue
21).  Behaviour is the SQLite ``EventStore``'s (see ``acd.metrics.store`` and
``acd.metrics.store_interface``): ``append`` only queues, a background task commits a
batch every ``batch_interval_s`` in one transaction (the loop is the SQLite store's too,
``acd.metrics.batching``; here a batch is one statement: it travels as arrays and is
unnested by the server), ``close`` commits the rest, duplicates are stored
once, events come back bit for bit in (ts, seq) order.

Schema differences, and why:

* **events are partitioned by month** (declarative range partitioning on ``ts``, UTC
  months; ``events_y2026m03``…): a month's report touches one or two partitions, and old
  months can be detached/archived without rewriting the table.  A partition is created
  the first time a batch holds an event of its month (under an advisory lock, so two
  writers never race).
* a unique key on a partitioned table must hold the partition key, so duplicates are
  ``(id, ts)`` rather than ``id`` alone: the same event appended twice has both equal.
* ``ts`` is ``double precision`` (IEEE 754 like SQLite's REAL, so floats round-trip
  exactly and reports equal SQLite's); ``data`` stays the JSON text SQLite stores.

Migrations are numbered like SQLite's (``PG_MIGRATIONS[i]`` brings a database to the same
version as ``MIGRATIONS[i]``), each in its own transaction under an advisory lock, in
``schema_version``; a database from a newer acd, or one holding other tables and no
``schema_version``, is refused and left untouched.

Long on purpose: like :mod:`acd.metrics.store`, the schema, its numbered migrations, the
partitions and every query are one file so a schema change is one reviewable diff, and it
mirrors the SQLite store method for method (:class:`acd.metrics.store_interface.MetricsStore`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Awaitable, Callable, Iterable, Sequence

import asyncpg

from acd.base.events import Event
from acd.metrics.batching import BatchingWriter
from acd.metrics.store import (
    CONSOLE_TYPES,
    DAY_S,
    MIGRATIONS,
    PLATFORM_TYPES,
    Incident,
    MissingDatabaseError,
    NewerSchemaError,
    StoreError,
    _event,
    _incident,
    _row,
    check_incident,
)
from acd.metrics.store_url import redact

log = logging.getLogger(__name__)

_MIGRATE_LOCK = 0x61636401  # advisory lock keys ("acd" 1, 2): migrations, partition creation
_PARTITION_LOCK = 0x61636402
_COLUMNS = "id, ts, type, call_id, agent_id, queue, data, schema_version"
_INCIDENT_COLUMNS = "id, start_ts, end_ts, text, created_ts, severity, author, updated_ts, updated_by"
DB_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)

#: Run inside every event batch's write transaction, before the insert: raises ``StoreFenced``
#: when this writer may no longer write (a hot standby took the lease over: ``acd.ha``).
Fence = Callable[[asyncpg.Connection], Awaitable[None]]


class StoreFenced(StoreError):
    """This engine's writes are refused: its lease (fencing token) is no longer the current one."""


PG_MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: the event log, partitioned by month (partitions are made as needed), and the report cells
        """CREATE TABLE events (
            seq bigserial NOT NULL,
            id text NOT NULL,
            ts double precision NOT NULL,
            type text NOT NULL,
            call_id text,
            agent_id text,
            queue text,
            data text NOT NULL,
            schema_version integer NOT NULL,
            PRIMARY KEY (id, ts)
        ) PARTITION BY RANGE (ts)""",
        "CREATE INDEX events_ts ON events (ts, seq)",
        "CREATE INDEX events_type_ts ON events (type, ts)",
        "CREATE INDEX events_type_agent_ts ON events (type, agent_id, ts)",
        "CREATE INDEX events_call ON events (call_id) WHERE call_id IS NOT NULL",
        """CREATE TABLE IF NOT EXISTS report_cells (
            rules text NOT NULL,
            start_ts double precision NOT NULL,
            end_ts double precision NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (rules, start_ts, end_ts)
        )""",
    ),
    (  # 2: the incident log
        """CREATE TABLE incidents (
            id bigserial PRIMARY KEY,
            start_ts double precision NOT NULL,
            end_ts double precision NOT NULL,
            text text NOT NULL,
            created_ts double precision NOT NULL,
            CONSTRAINT incidents_span_check CHECK (end_ts > start_ts)
        )""",
        "CREATE INDEX incidents_span ON incidents (start_ts, end_ts)",
    ),
    (  # 3: an incident may be open (no end yet) and closed later
        "ALTER TABLE incidents ALTER COLUMN end_ts DROP NOT NULL",
        "ALTER TABLE incidents DROP CONSTRAINT incidents_span_check",
        "ALTER TABLE incidents ADD CONSTRAINT incidents_span_check CHECK (end_ts IS NULL OR end_ts > start_ts)",
    ),
    (  # 4: who wrote an incident, how severe it is, and its last change
        "ALTER TABLE incidents ADD COLUMN severity text NOT NULL DEFAULT 'medium'",
        "ALTER TABLE incidents ADD COLUMN author text NOT NULL DEFAULT ''",
        "ALTER TABLE incidents ADD COLUMN updated_ts double precision",
        "ALTER TABLE incidents ADD COLUMN updated_by text",
    ),
]
assert len(PG_MIGRATIONS) == len(MIGRATIONS), "every SQLite migration needs its PostgreSQL twin"

_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) "
    "SELECT i, t, ty, c, a, q, d, v FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::int[]) WITH ORDINALITY AS r(i, t, ty, c, a, q, d, v, n) ORDER BY n "
    "ON CONFLICT (id, ts) DO NOTHING"
)


def month_of(ts: float) -> tuple[int, int]:
    """The UTC (year, month) of ``ts``; ValueError if it has none (out of range)."""
    try:
        when = datetime.fromtimestamp(ts, timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"timestamp {ts!r} out of range") from exc
    return when.year, when.month


def _partition(year: int, month: int) -> tuple[str, int, int]:
    lo = datetime(year, month, 1, tzinfo=timezone.utc)
    hi = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
    sign = "m" if year < 0 else ""
    return f"events_y{sign}{abs(year):04d}m{month:02d}", int(lo.timestamp()), int(hi.timestamp())


def _masked(exc: BaseException, dsn: str) -> str:
    """An exception's text without the password the DSN may hold."""
    text = str(exc) or type(exc).__name__
    try:
        from urllib.parse import urlsplit

        secret = urlsplit(dsn).password
    except ValueError:
        secret = None
    return text.replace(secret, "***") if secret else text


class PostgresEventStore(BatchingWriter):
    """Append-only event log, incident log and report cells in PostgreSQL.  ``await PostgresEventStore.open(dsn)``."""

    _log = log
    _db_errors = DB_ERRORS
    _refusals = (StoreFenced,)

    def __init__(self, dsn: str, pool: asyncpg.Pool, batch_interval_s: float) -> None:
        self.url = redact(dsn)
        self._dsn = dsn
        self._pool = pool
        self._months: set[tuple[int, int]] = set()
        self._init_batching(batch_interval_s)
        #: checked in each batch's transaction (``Fence``); a fenced batch is dropped, never retried
        self.fence: Fence | None = None

    def __repr__(self) -> str:
        return f"PostgresEventStore({self.url})"

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls, dsn: str, *, batch_interval_s: float = 0.2, create: bool = True, connect_timeout_s: float = 10.0
    ) -> "PostgresEventStore":
        """Connect, check and migrate; ``StoreError`` subclasses with one-line messages (password masked).

        ``create=False`` is for readers: a database without an acd store is an error
        rather than a new empty store that would silently report zero calls.
        """
        if not 0 < batch_interval_s <= 1.0:
            raise ValueError("batch_interval_s must be in (0, 1] so at most one second of events is at risk")
        where = redact(dsn)
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, timeout=connect_timeout_s, command_timeout=600)
        except DB_ERRORS as exc:
            raise StoreError(f"cannot connect to {where}: {_masked(exc, dsn)}") from None
        except ValueError as exc:  # asyncpg's DSN parser
            raise StoreError(f"bad store URL {where}: {_masked(exc, dsn)}") from None
        try:
            async with pool.acquire() as conn:
                await _prepare(conn, where, create=create)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, DB_ERRORS):
                raise StoreError(f"cannot prepare {where}: {_masked(exc, dsn)}") from None
            raise
        store = cls(dsn, pool, batch_interval_s)
        store._start_flusher("event-store-flush:postgresql")
        return store

    async def __aenter__(self) -> "PostgresEventStore":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- writing (the loop is acd.metrics.batching's) ----------------------------------

    def _prepare_row(self, event: Event) -> tuple[tuple[Any, ...], tuple[int, int]]:
        return _row(event), month_of(event.ts)

    async def _write_batch(self, rows: Sequence[tuple[tuple[Any, ...], tuple[int, int]]]) -> None:
        """One statement: the batch travels as arrays (one per column), in append order."""
        columns = [list(column) for column in zip(*(row for row, _ in rows))]
        async with self._pool.acquire() as conn:
            await self._ensure_partitions(conn, {month for _, month in rows})
            async with conn.transaction():
                if self.fence is not None:
                    await self.fence(conn)
                await conn.execute(_INSERT, *columns)

    @property
    def fenced(self) -> int:
        """Events of batches a fence refused (a stale leader's: dropped, never retried)."""
        return self.refused

    def _error_text(self, exc: BaseException) -> str:
        return _masked(exc, self._dsn)

    async def insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Store rows shaped like ``_row`` (id, ts, type, call_id, agent_id, queue, data, schema_version)
        in their order, in one transaction, ignoring those already there (``acd store migrate``);
        returns how many were new."""
        if not rows:
            return 0
        columns = [list(column) for column in zip(*rows)]
        months = {month_of(float(ts)) for ts in columns[1]}
        async with self._lock, self._pool.acquire() as conn:
            await self._ensure_partitions(conn, months)
            async with conn.transaction():
                status = await conn.execute(_INSERT, *columns)
        return int(status.split()[-1])

    async def day_counts(self) -> dict[int, int]:
        """Events per UTC day number (``floor(ts / 86400)``): ``acd store migrate``'s count check."""
        await self.flush()
        rows = await self._fetch("SELECT floor(ts / 86400)::bigint AS day, count(*) FROM events GROUP BY day")
        return {int(day): int(n) for day, n in rows}

    async def _ensure_partitions(self, conn: asyncpg.Connection, months: Iterable[tuple[int, int]]) -> None:
        for year, month in sorted(set(months) - self._months):
            name, lo, hi = _partition(year, month)
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _PARTITION_LOCK)
                await conn.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({lo}) TO ({hi})")
            self._months.add((year, month))

    async def _release(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), 10)
        except (asyncio.TimeoutError, *DB_ERRORS):
            self._pool.terminate()

    # -- reading -----------------------------------------------------------------------

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        async with self._pool.acquire() as conn:
            return list(await conn.fetch(sql, *params))

    async def _select(self, sql: str, *params: Any) -> list[Event]:
        return [_event(row) for row in await self._fetch(sql, *params)]  # a Record unpacks like a tuple

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await _current_version(conn)

    async def count(self) -> int:
        await self.flush()
        rows = await self._fetch("SELECT count(*) FROM events")
        return int(rows[0][0])

    async def events(
        self, start: float | None = None, end: float | None = None, types: Iterable[str] | None = None, queue: str | None = None
    ) -> list[Event]:
        """Events with ``start <= ts < end`` (either bound optional), oldest first, ties in append order."""
        await self.flush()
        clauses: list[str] = []
        params: list[Any] = []

        def arg(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if start is not None:
            clauses.append(f"ts >= {arg(float(start))}")
        if end is not None:
            clauses.append(f"ts < {arg(float(end))}")
        if types is not None:
            wanted = list(types)
            clauses.append(f"type = ANY({arg(wanted)}::text[])" if wanted else "FALSE")
        if queue is not None:
            clauses.append(f"queue = {arg(queue)}")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return await self._select(f"SELECT {_COLUMNS} FROM events {where} ORDER BY ts, seq", *params)

    async def latest_before(self, ts: float, types: Iterable[str], per_agent: bool = False) -> list[Event]:
        """The last event of each type before ``ts`` (per agent too if ``per_agent``)."""
        await self.flush()
        wanted = list(types)
        if not wanted:
            return []
        keys = "type, agent_id" if per_agent else "type"
        sql = (
            f"SELECT {_COLUMNS} FROM (SELECT DISTINCT ON ({keys}) seq, {_COLUMNS} FROM events "
            f"WHERE type = ANY($1::text[]) AND ts < $2 ORDER BY {keys}, ts DESC, seq DESC) last ORDER BY ts, seq"
        )
        return await self._select(sql, wanted, float(ts))

    async def report_events(self, start: float, end: float, margin_s: float = DAY_S) -> list[Event]:
        """Everything a report over ``[start, end)`` needs (see ``EventStore.report_events``)."""
        lo, hi = start - margin_s, end + margin_s
        prefix = await self.latest_before(lo, ["agent.state"], per_agent=True)
        prefix += await self.latest_before(lo, PLATFORM_TYPES)
        prefix += await self.latest_before(lo, CONSOLE_TYPES)
        prefix.sort(key=lambda e: e.ts)
        return prefix + await self.events(lo, hi)

    async def availability_events(self, start: float, end: float) -> list[Event]:
        """What ``acd.metrics.downtime.outages`` needs of ``[start, end)`` (see ``EventStore.availability_events``)."""
        prefix = await self.latest_before(start, PLATFORM_TYPES)
        prefix += await self.latest_before(start, CONSOLE_TYPES)
        console = await self.events(start, end, types=CONSOLE_TYPES)
        sql = (
            f"SELECT {_COLUMNS} FROM events WHERE seq IN ("
            "SELECT m.seq FROM events m WHERE m.type = ANY($1::text[]) AND m.ts >= $2 AND m.ts < $3 "
            "UNION SELECT (SELECT b.seq FROM events b WHERE b.ts <= m.ts AND NOT (b.ts = m.ts AND b.seq >= m.seq) "
            "AND b.type NOT LIKE 'console.%' ORDER BY b.ts DESC, b.seq DESC LIMIT 1) "
            "FROM events m WHERE m.type = ANY($1::text[]) AND m.ts >= $2 AND m.ts < $3"
            ") ORDER BY ts, seq"
        )
        rows = await self._select(sql, list(PLATFORM_TYPES), float(start), float(end))
        return sorted(prefix, key=lambda e: e.ts) + sorted(rows + console, key=lambda e: e.ts)

    async def recorded_types(self, call_ids: Iterable[str], types: Iterable[str], since: float) -> dict[str, set[str]]:
        """Which of ``types`` the log holds for each of ``call_ids`` since ``since`` (see ``EventStore``)."""
        await self.flush()
        ids, wanted = sorted(set(call_ids)), sorted(set(types))
        found: dict[str, set[str]] = {}
        if not ids or not wanted:
            return found
        rows = await self._fetch(
            "SELECT DISTINCT call_id, type FROM events WHERE type = ANY($1::text[]) AND ts >= $2 AND call_id = ANY($3::text[])",
            wanted, float(since), ids,
        )
        for call_id, type_ in rows:
            found.setdefault(call_id, set()).add(type_)
        return found

    async def first_event_ts(self) -> float | None:
        rows = await self._fetch("SELECT min(ts) FROM events")
        return None if rows[0][0] is None else float(rows[0][0])

    # -- incidents ---------------------------------------------------------------------

    async def add_incident(
        self, start: float, end: float | None, text: str, created: float | None = None, *, severity: str = "medium", author: str = ""
    ) -> Incident:
        text = check_incident(start, end, text, severity)
        created = time.time() if created is None else created
        rows = await self._fetch(
            "INSERT INTO incidents (start_ts, end_ts, text, created_ts, severity, author) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            float(start), None if end is None else float(end), text, float(created), severity, author,
        )
        return Incident(int(rows[0][0]), start, end, text, created, severity, author)

    async def incidents(self, start: float | None = None, end: float | None = None) -> list[Incident]:
        clauses: list[str] = []
        params: list[Any] = []
        if end is not None:
            params.append(float(end))
            clauses.append(f"start_ts < ${len(params)}")
        if start is not None:
            params.append(float(start))
            clauses.append(f"(end_ts IS NULL OR end_ts > ${len(params)})")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetch(f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where} ORDER BY start_ts, id", *params)
        return [_incident(tuple(r)) for r in rows]

    async def incident(self, incident_id: int) -> Incident | None:
        rows = await self._fetch(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = $1", int(incident_id))
        return _incident(tuple(rows[0])) if rows else None

    async def update_incident(
        self, incident_id: int, *, start: float, end: float | None, text: str, severity: str, by: str, at: float | None = None
    ) -> tuple[Incident, Incident]:
        text = check_incident(start, end, text, severity)
        at = time.time() if at is None else at
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE", int(incident_id))
            if row is None:
                raise ValueError(f"no incident #{incident_id}")
            before = _incident(tuple(row))
            await conn.execute(
                "UPDATE incidents SET start_ts = $1, end_ts = $2, text = $3, severity = $4, updated_ts = $5, updated_by = $6 WHERE id = $7",
                float(start), None if end is None else float(end), text, severity, float(at), by, int(incident_id),
            )
        return before, Incident(incident_id, start, end, text, before.created, severity, before.author, at, by)

    async def close_incident(self, incident_id: int, end: float, *, by: str | None = None) -> Incident:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE", int(incident_id))
            if row is None:
                raise ValueError(f"no incident #{incident_id}")
            incident = _incident(tuple(row))
            if incident.end is not None:
                raise ValueError(f"incident #{incident_id} is already closed")
            if not end > incident.start:
                raise ValueError(f"incident #{incident_id} started later than that; it must end after it starts")
            if by is None:
                await conn.execute("UPDATE incidents SET end_ts = $1 WHERE id = $2", float(end), int(incident_id))
            else:
                await conn.execute(
                    "UPDATE incidents SET end_ts = $1, updated_ts = $2, updated_by = $3 WHERE id = $4", float(end), time.time(), by, int(incident_id)
                )
        return await self.incident(incident_id)  # type: ignore[return-value]

    async def import_incidents(self, incidents: Sequence[Incident]) -> int:
        """Store ``incidents`` with their ids, as they are now (an id already there is overwritten).

        For ``acd store migrate``: ids are kept (the console's audit log names them), a
        second run brings later edits over, and the id sequence is moved past the highest
        so new incidents never collide."""
        if not incidents:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET "
                "start_ts = EXCLUDED.start_ts, end_ts = EXCLUDED.end_ts, text = EXCLUDED.text, created_ts = EXCLUDED.created_ts, "
                "severity = EXCLUDED.severity, author = EXCLUDED.author, updated_ts = EXCLUDED.updated_ts, updated_by = EXCLUDED.updated_by",
                [(i.id, i.start, i.end, i.text, i.created, i.severity, i.author, i.updated, i.updated_by) for i in incidents],
            )
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('incidents', 'id'), GREATEST((SELECT max(id) FROM incidents), 1))"
            )
        return len(incidents)

    # -- report cells --------------------------------------------------------------------

    async def cached_cells(self, key: str, start: float, end: float, *, days: bool) -> list[tuple[float, float, bytes]]:
        size = "end_ts - start_ts > 900" if days else "end_ts - start_ts = 900"
        rows = await self._fetch(
            f"SELECT start_ts, end_ts, data FROM report_cells WHERE rules = $1 AND start_ts >= $2 AND end_ts <= $3 AND {size} ORDER BY start_ts",
            key, float(start), float(end),
        )
        return [(float(a), float(b), bytes(c)) for a, b, c in rows]

    async def save_cells(self, key: str, cells: Sequence[tuple[float, float, bytes]]) -> None:
        if not cells:
            return
        unique = {(float(a), float(b)): bytes(c) for a, b, c in cells}  # one row per key: ON CONFLICT may touch a row once
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO report_cells (rules, start_ts, end_ts, data) "
                    "SELECT $1, a, b, c FROM unnest($2::float8[], $3::float8[], $4::bytea[]) AS r(a, b, c) "
                    "ON CONFLICT (rules, start_ts, end_ts) DO UPDATE SET data = EXCLUDED.data",
                    key, [a for a, _ in unique], [b for _, b in unique], list(unique.values()),
                )
        except DB_ERRORS as exc:
            raise StoreError(f"report cells not stored in {self.url}: {_masked(exc, self._dsn)}") from None

    async def drop_cells(self, start: float | None = None, end: float | None = None) -> int:
        clauses, params = ["TRUE"], []
        if start is not None:
            params.append(float(start))
            clauses.append(f"end_ts > ${len(params)}")
        if end is not None:
            params.append(float(end))
            clauses.append(f"start_ts < ${len(params)}")
        async with self._pool.acquire() as conn:
            status = await conn.execute(f"DELETE FROM report_cells WHERE {' AND '.join(clauses)}", *params)
        return int(status.split()[-1])

    async def import_cells(self, rows: Sequence[tuple[str, float, float, bytes]]) -> None:
        """Store (key, start, end, blob) rows as they are (``acd store migrate``)."""
        by_key: dict[str, list[tuple[float, float, bytes]]] = {}
        for key, a, b, c in rows:
            by_key.setdefault(key, []).append((a, b, c))
        for key, cells in by_key.items():
            await self.save_cells(key, cells)

    async def partitions(self) -> list[str]:
        """The monthly partitions of ``events``, oldest first."""
        rows = await self._fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        )
        return [str(r[0]) for r in rows]


# -- schema ---------------------------------------------------------------------------


def latest_version() -> int:
    return len(PG_MIGRATIONS)


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {str(r[0]) for r in rows}


async def _current_version(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval("SELECT max(version) FROM schema_version")
    return int(value) if value is not None else 0


async def _prepare(conn: asyncpg.Connection, where: str, *, create: bool) -> None:
    tables = await _tables(conn)
    if "schema_version" not in tables:
        if not create:
            raise MissingDatabaseError(f"no acd event log in {where} (the engine creates it; or `acd store migrate`)")
        ours = {"events", "incidents", "report_cells", "acd_lease"}  # acd_lease: a hot-standby pair's (acd.ha), may come first
        # acd_schema: acd's other parts (accounts, callbacks, grades: acd.metrics.store_sync) are
        # here already (`acd user add` before the engine's first start): an acd database all the same.
        if tables and "acd_schema" not in tables and not tables <= ours and not any(t.startswith("events_y") for t in tables):
            raise StoreError(f"{where} holds other tables and no schema_version: not an acd event log (left untouched)")
    version = await _current_version(conn) if "schema_version" in tables else 0
    if version > latest_version():
        raise NewerSchemaError(
            f"{where} has schema version {version} but this acd knows up to {latest_version()}: upgrade acd (the database was left untouched)"
        )
    if version < latest_version():
        await migrate(conn)


async def migrate(conn: asyncpg.Connection) -> int:
    """Apply the missing migrations, each in its own transaction; returns the new version."""
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATE_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_ts double precision NOT NULL)")
            version = await _current_version(conn)  # under the lock: another engine may have migrated meanwhile
            if version >= latest_version():
                return version
            for statement in PG_MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version, applied_ts) VALUES ($1, $2)", version + 1, time.time())
        log.info("event store (PostgreSQL) migrated to schema version %d", version + 1)


__all__ = ["PG_MIGRATIONS", "PostgresEventStore", "latest_version", "month_of"]
