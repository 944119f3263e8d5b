"""Copy a small store (accounts and audit, callbacks, grades) from its SQLite file to PostgreSQL.

The events have their own copier (``acd.metrics.store_migrate``: partitions, per-day
count check); the small stores are copied table by table with what each declares
(``Migrations.tables``):

* the file is read through a read-only connection inside one transaction (a snapshot:
  the console or the engine may go on writing meanwhile), so a live site can be copied,
  then copied again after it stopped;
* rows go in with ``ON CONFLICT`` on the table's key: a second run adds what is new and
  brings rows that changed up to date (an account disabled since), except in append-only
  tables (audit, grades), whose copied rows are left alone as their triggers demand;
* ids PostgreSQL numbers (audit, tokens, grades) keep their values, and the sequence is
  moved past them so the next row does not collide;
* the count check: every key of the source must be in the target afterwards (the target
  may hold more: rows written to PostgreSQL already); a missing one raises.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

from acd.metrics.store import StoreError
from acd.metrics.store_sync import SyncDatabase, Table
from acd.metrics.store_url import POSTGRESQL, SQLITE

BATCH = 1000


@dataclass
class TableCopy:
    component: str
    table: str
    source_rows: int = 0
    copied_rows: int = 0  # new in the target on this run
    target_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_store(source: SyncDatabase, target: SyncDatabase, *, batch: int = BATCH) -> list[TableCopy]:
    """Copy ``source`` (an SQLite file) into ``target`` (PostgreSQL, migrated first); one line per table."""
    if source.kind != SQLITE or target.kind != POSTGRESQL:
        raise StoreError(f"copy {source} -> {target}: from an SQLite file to PostgreSQL only")
    assert source.location.path is not None
    if not source.location.path.exists():
        raise StoreError(f"no {source.migrations.component} store at {source}")
    target.create()
    copies = []
    try:
        with closing(sqlite3.connect(f"file:{source.location.path}?mode=ro", uri=True, timeout=5.0)) as db:
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("BEGIN")  # one snapshot of every table
            present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in source.migrations.tables:
                if table.name in present:
                    copies.append(_copy_table(db, table, target, source.migrations.component, batch))
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {source}: {exc}") from None
    return copies


def _copy_table(db: sqlite3.Connection, table: Table, target: SyncDatabase, component: str, batch: int) -> TableCopy:
    result = TableCopy(component, table.name)
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table.name})")]
    names = ", ".join(columns)
    keys = ", ".join(table.key)
    changing = [c for c in columns if c not in table.key]
    if table.append_only or not changing:
        conflict = "DO NOTHING"
    else:
        conflict = "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in changing)
    insert = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))}) ON CONFLICT ({keys}) {conflict}"
    with target.transaction() as tx:
        before = int(tx.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()[0])
    cursor = db.execute(f"SELECT {names} FROM {table.name} ORDER BY {keys}")
    source_keys: set[tuple[object, ...]] = set()
    key_index = [columns.index(k) for k in table.key]
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            break
        result.source_rows += len(rows)
        source_keys.update(tuple(row[i] for i in key_index) for row in rows)
        with target.transaction() as tx:
            tx.execute_many(insert, rows)
    with target.transaction() as tx:
        if table.identity:
            tx.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), GREATEST((SELECT MAX(id) FROM {table.name}), 1))")
        target_keys = {tuple(row) for row in tx.execute(f"SELECT {keys} FROM {table.name}").fetchall()}
    result.target_rows = len(target_keys)
    result.copied_rows = result.target_rows - before
    missing = source_keys - target_keys
    if missing:
        raise StoreError(f"count check failed: {len(missing)} row(s) of {table.name} missing in {target}, e.g. key {sorted(missing, key=str)[0]}")
    return result


__all__ = ["TableCopy", "copy_store"]
