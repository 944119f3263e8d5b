"""Short synchronous transactions on either back end, for the small stores beside the events.

The account store (users, sessions, tokens, audit), the quality grades and the console's
other tables are written by threads (the web server's, the command line) one short
transaction at a time.  :class:`SyncDatabase` gives them one way to do that whether the
site keeps an SQLite file per store (the embedded default) or one shared PostgreSQL
(``store.url``; ``acd.metrics.store_url``):

* ``transaction()`` yields a :class:`Transaction` whose ``execute`` takes SQLite-style
  ``?`` placeholders on both back ends (translated for psycopg), so each store's queries
  are written once; ``insert_id`` returns the new row's id (``lastrowid`` /
  ``RETURNING id``);
* on SQLite every transaction is ``BEGIN IMMEDIATE`` on a fresh connection (WAL, a busy
  timeout), as the stores always did; on PostgreSQL a fresh connection per transaction
  too (a pooler such as PgBouncer in front keeps that cheap), so a thread never shares one;
* each store names a ``component`` and gives its own numbered migrations per back end
  (``Migrations``): versions are kept per component in ``acd_schema`` and applied in
  order under ``BEGIN IMMEDIATE`` (SQLite) or a transaction-scoped advisory lock keyed by
  the component (PostgreSQL), so two processes starting at once apply each step once and
  stores added by others (a lease table, say) number their steps independently.

Errors of either driver reach callers as :class:`DatabaseError` (``errors``), so the
command line and the console catch one type and print one line.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from acd.metrics.store_url import POSTGRESQL, SQLITE, StoreLocation, parse_store_url
from acd.private_files import prepare_database

try:  # psycopg is needed only when a store is on PostgreSQL
    import psycopg
except ImportError:  # pragma: no cover - installed with acd
    psycopg = None  # type: ignore[assignment]


class DatabaseError(Exception):
    """A database refused or failed an operation; one line (never a password)."""


def errors() -> tuple[type[BaseException], ...]:
    """The driver exceptions a caller may meet (for ``except``)."""
    found: list[type[BaseException]] = [sqlite3.Error, DatabaseError]
    if psycopg is not None:
        found.append(psycopg.Error)
    return tuple(found)


@dataclass(frozen=True)
class Table:
    """A table ``acd store migrate`` copies (``acd.metrics.store_copy``): its key, and how rows behave.

    ``append_only``: rows never change once written (a row already copied is left alone,
    which the triggers demand); ``identity``: ``id`` is numbered by the database, so after
    a copy PostgreSQL's sequence must move past the copied ids."""

    name: str
    key: tuple[str, ...]
    append_only: bool = False
    identity: bool = False


@dataclass(frozen=True)
class Migrations:
    """One store's schema steps per back end: step ``i`` makes version ``i + 1``.

    Both lists must have the same length (the same versions exist on both back ends).
    ``tables``: what moving the store to PostgreSQL copies, parents before children."""

    component: str
    sqlite: Sequence[str]
    postgresql: Sequence[str]
    tables: Sequence[Table] = ()

    def __post_init__(self) -> None:
        if len(self.sqlite) != len(self.postgresql):
            raise ValueError(f"{self.component}: {len(self.sqlite)} SQLite steps but {len(self.postgresql)} PostgreSQL steps")

    def steps(self, kind: str) -> Sequence[str]:
        return self.sqlite if kind == SQLITE else self.postgresql


class Transaction:
    """One open transaction; ``execute`` takes ``?`` placeholders on both back ends."""

    def __init__(self, kind: str, connection: Any) -> None:
        self.kind = kind
        self._conn = connection

    def execute(self, sql: str, args: Sequence[object] = ()) -> Any:
        """Run one statement; the cursor has ``fetchone``, ``fetchall`` and ``rowcount``."""
        if self.kind == SQLITE:
            return self._conn.execute(sql, tuple(args))
        return self._conn.execute(_pg_sql(sql), tuple(args), prepare=False)

    def script(self, sql: str) -> None:
        """Several statements without parameters (a migration step)."""
        if self.kind == SQLITE:
            # executescript would COMMIT the open transaction: run the statements one by one.
            for statement in _statements(sql):
                self._conn.execute(statement)
        else:
            self._conn.execute(sql, prepare=False)

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """One statement over many rows (a copy's batch)."""
        if self.kind == SQLITE:
            self._conn.executemany(sql, [tuple(row) for row in rows])
        else:
            with self._conn.cursor() as cursor:
                cursor.executemany(_pg_sql(sql), [tuple(row) for row in rows])

    def insert_id(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run an INSERT into a table with an ``id`` key; the new row's id."""
        if self.kind == SQLITE:
            return int(self._conn.execute(sql, tuple(args)).lastrowid or 0)
        row = self._conn.execute(_pg_sql(sql) + " RETURNING id", tuple(args), prepare=False).fetchone()
        return int(row[0])


def append_only(table: str, message: str) -> str:
    """PostgreSQL statements that make ``table`` refuse UPDATE, DELETE and TRUNCATE with ``message``.

    The SQLite stores do the same with ``RAISE(ABORT, …)`` triggers; here one function
    (``acd_refuse_change``) serves every such table, the message passed as its argument."""
    quoted = message.replace("'", "''")
    return f"""
CREATE OR REPLACE FUNCTION acd_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$body$;
CREATE TRIGGER {table}_no_update_or_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION acd_refuse_change('{quoted}');
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION acd_refuse_change('{quoted}');
"""


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQLite script (trigger bodies kept whole)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


@dataclass
class SyncDatabase:
    """A store's database: the SQLite ``location.path`` or the PostgreSQL ``location.dsn``."""

    location: StoreLocation
    migrations: Migrations
    private: bool = True
    busy_timeout_s: float = 5.0
    _ready: bool = field(default=False, repr=False)

    @property
    def kind(self) -> str:
        return self.location.kind

    def __str__(self) -> str:
        return str(self.location)

    def exists(self) -> bool:
        """Whether there is something to open without creating (a PostgreSQL server: always)."""
        return self.kind == POSTGRESQL or (self.location.path is not None and self.location.path.exists())

    def create(self) -> int:
        """Make the file if needed (owner-only) and apply missing migrations; the version reached."""
        if self.kind == SQLITE:
            assert self.location.path is not None
            prepare_database(self.location.path, private=self.private)
            with closing(sqlite3.connect(self.location.path, timeout=self.busy_timeout_s, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode=WAL")
        return self.migrate()

    def migrate(self) -> int:
        steps = self.migrations.steps(self.kind)
        component = self.migrations.component
        with self.transaction(migrating=True) as tx:
            if self.kind == POSTGRESQL:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(component),))
                tx.script("CREATE TABLE IF NOT EXISTS acd_schema (component text NOT NULL, version integer NOT NULL,"
                          " applied double precision NOT NULL, PRIMARY KEY (component, version))")
            else:
                tx.script("CREATE TABLE IF NOT EXISTS acd_schema (component TEXT NOT NULL, version INTEGER NOT NULL,"
                          " applied REAL NOT NULL, PRIMARY KEY (component, version))")
            row = tx.execute("SELECT MAX(version) FROM acd_schema WHERE component = ?", (component,)).fetchone()
            version = int(row[0] or 0)
            if version > len(steps):
                raise DatabaseError(f"{self}: the {component} schema is version {version}, newer than this acd knows ({len(steps)}): upgrade acd")
            for number, step in enumerate(steps[version:], start=version + 1):
                tx.script(step)
                tx.execute("INSERT INTO acd_schema (component, version, applied) VALUES (?, ?, ?)", (component, number, time.time()))
        self._ready = True
        return len(steps)

    def version(self) -> int:
        """The component's schema version (0: none yet)."""
        with self.transaction(migrating=True) as tx:
            try:
                row = tx.execute("SELECT MAX(version) FROM acd_schema WHERE component = ?", (self.migrations.component,)).fetchone()
            except errors():
                return 0
        return int(row[0] or 0)

    @contextmanager
    def transaction(self, *, migrating: bool = False) -> Iterator[Transaction]:
        """One transaction, committed when the block ends, rolled back if it raises."""
        if self.kind == SQLITE:
            assert self.location.path is not None
            with closing(sqlite3.connect(self.location.path, timeout=self.busy_timeout_s, isolation_level=None)) as db:
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield Transaction(SQLITE, db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            return
        if psycopg is None:
            raise DatabaseError("a PostgreSQL store needs the psycopg package (pip install 'psycopg[binary]')")
        try:
            conn = psycopg.connect(self.location.dsn or "", connect_timeout=max(1, int(self.busy_timeout_s)))
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {self}: {_one_line(exc)}") from None
        with conn:  # commits on a clean exit, rolls back on an exception, then closes
            yield Transaction(POSTGRESQL, conn)


def component_versions(location: StoreLocation) -> dict[str, int]:
    """Schema version of each part kept in this database (``acd store info``); empty if none."""
    if location.kind == SQLITE and (location.path is None or not location.path.exists()):
        return {}
    database = SyncDatabase(location, Migrations("info", [], []))
    with database.transaction() as tx:
        try:
            rows = tx.execute("SELECT component, MAX(version) FROM acd_schema GROUP BY component ORDER BY component").fetchall()
        except errors():
            return {}
    return {str(component): int(version) for component, version in rows}


def _lock_key(component: str) -> int:
    """A stable 63-bit advisory lock key for a component's migrations."""
    return 0x61636400_00000000 | zlib.crc32(component.encode())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def location_of(value: str | Path | StoreLocation) -> StoreLocation:
    return value if isinstance(value, StoreLocation) else parse_store_url(value)


def shared_location(settings: object, sqlite_file: Path) -> StoreLocation:
    """Where a small store lives: the shared PostgreSQL when ``store.url`` names one, else its own SQLite file."""
    from acd.metrics.store_url import settings_location

    shared = settings_location(settings)
    if shared.kind == POSTGRESQL:
        return shared
    return StoreLocation(SQLITE, path=settings.resolve(sqlite_file))  # type: ignore[attr-defined]


__all__ = ["DatabaseError", "Migrations", "append_only", "component_versions", "SyncDatabase", "Table", "Transaction", "errors", "location_of", "shared_location"]
