"""Schema migrations: fresh, current, older, newer, foreign, corrupt, failing half-way."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from acd.metrics import store as store_module
from acd.base.events import Event
from acd.metrics.store import (
    CorruptDatabaseError,
    EventStore,
    Incident,
    MissingDatabaseError,
    NewerSchemaError,
    StoreError,
    latest_version,
)


def fingerprint(path: Path) -> str:
    """The database file plus its WAL, if any: what "untouched" must preserve."""
    wal = path.with_name(path.name + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]


async def test_a_fresh_database_gets_every_migration_and_wal(db_path: Path) -> None:
    async with await EventStore.open(db_path) as store:
        assert await store.schema_version() == latest_version()
    assert versions(db_path) == list(range(1, latest_version() + 1))
    assert {"events", "incidents", "schema_version"} <= tables(db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_opening_a_current_database_changes_nothing(db_path: Path) -> None:
    async with await EventStore.open(db_path) as store:
        store.append(Event(type="engine.started", ts=1.0))
    async with await EventStore.open(db_path) as store:
        assert await store.count() == 1
    assert versions(db_path) == list(range(1, latest_version() + 1))


async def test_an_older_database_is_migrated_and_keeps_its_events(db_path: Path, monkeypatch) -> None:
    all_migrations = list(store_module.MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", all_migrations[:1])
    async with await EventStore.open(db_path) as store:
        store.append(Event(type="engine.started", ts=1.0))
    assert versions(db_path) == [1] and "incidents" not in tables(db_path)
    monkeypatch.setattr(store_module, "MIGRATIONS", all_migrations)
    async with await EventStore.open(db_path) as store:
        assert await store.count() == 1
        await store.add_incident(1.0, 2.0, "works after the upgrade")
    assert versions(db_path) == list(range(1, latest_version() + 1))


async def test_incidents_of_a_version_2_log_survive_the_change_that_lets_them_stay_open(db_path: Path, monkeypatch) -> None:
    all_migrations = list(store_module.MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", all_migrations[:2])
    async with await EventStore.open(db_path):
        pass
    with sqlite3.connect(db_path) as conn:  # written as a version-2 acd wrote it
        conn.execute("INSERT INTO incidents (start_ts, end_ts, text, created_ts) VALUES (10.0, 20.0, 'Corte enlace SIP', 30.0)")
    monkeypatch.setattr(store_module, "MIGRATIONS", all_migrations)
    async with await EventStore.open(db_path) as store:
        closed = Incident(1, 10.0, 20.0, "Corte enlace SIP", 30.0)  # severity medium, no author: the defaults
        assert await store.incidents() == [closed]
        still_open = await store.add_incident(100.0, None, "Caída AMI", created=101.0)
        assert [i.id for i in await store.incidents(1000.0, 2000.0)] == [still_open.id]  # open: overlaps any later range
        ended = await store.close_incident(still_open.id, 150.0)
        assert (ended.start, ended.end) == (100.0, 150.0)
        assert [i.id for i in await store.incidents(1000.0, 2000.0)] == []
        for wrong, message in ((still_open.id, "already closed"), (999, "no incident #999")):
            with pytest.raises(ValueError, match=message):
                await store.close_incident(wrong, 200.0)


async def test_a_migration_that_fails_half_way_leaves_the_previous_version(db_path: Path, monkeypatch) -> None:
    async with await EventStore.open(db_path):
        pass
    broken = ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    with pytest.raises(StoreError, match="cannot prepare database"):
        await EventStore.open(db_path)
    assert versions(db_path) == list(range(1, latest_version()))  # latest_version() now counts the broken one
    assert "half_done" not in tables(db_path)


async def test_a_database_from_a_newer_acd_is_refused_and_left_untouched(db_path: Path) -> None:
    async with await EventStore.open(db_path) as store:
        store.append(Event(type="engine.started", ts=1.0))
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version (version, applied_ts) VALUES (99, 0)")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = fingerprint(db_path)
    with pytest.raises(NewerSchemaError, match=r"schema version 99 .* upgrade acd"):
        await EventStore.open(db_path)
    assert fingerprint(db_path) == before


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"this is a CSV export, not a database\n" * 100)
    before = fingerprint(db_path)
    with pytest.raises(CorruptDatabaseError, match="not an SQLite database"):
        await EventStore.open(db_path)
    assert fingerprint(db_path) == before


async def test_a_damaged_sqlite_file_is_reported_as_corrupt(db_path: Path) -> None:
    async with await EventStore.open(db_path) as store:
        for i in range(500):
            store.append(Event(type="call.queued", ts=float(i), call_id=f"c{i}"))
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db_path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the header
    db_path.write_bytes(bytes(raw))
    with pytest.raises(CorruptDatabaseError):
        await EventStore.open(db_path)


async def test_an_sqlite_database_of_something_else_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not an acd event log"):
        await EventStore.open(db_path)
    assert tables(db_path) == {"invoices"}


async def test_readers_do_not_create_a_missing_database(db_path: Path) -> None:
    with pytest.raises(MissingDatabaseError, match="database not found"):
        await EventStore.open(db_path, create=False)
    assert not db_path.exists()


async def test_incidents_get_severity_author_and_their_last_change(db_path: Path) -> None:
    async with await EventStore.open(db_path) as store:
        added = await store.add_incident(100.0, None, "Caída AMI", created=101.0, severity="high", author="sup1")
        before, after = await store.update_incident(added.id, start=90.0, end=None, text="Caída AMI (nodo 2)", severity="critical", by="adm1", at=120.0)
        assert before == added
        assert (after.start, after.text, after.severity, after.author, after.updated, after.updated_by) == (90.0, "Caída AMI (nodo 2)", "critical", "sup1", 120.0, "adm1")
        assert await store.incidents() == [after]
        closed = await store.close_incident(added.id, 150.0, by="sup2")
        assert (closed.end, closed.updated_by, closed.author) == (150.0, "sup2", "sup1")
        for wrong in ({"severity": "apocalyptic"}, {"text": "  "}, {"end": 80.0}):
            with pytest.raises(ValueError):
                await store.update_incident(added.id, **{"start": 90.0, "end": None, "text": "x", "severity": "low", "by": "a", **wrong})
        with pytest.raises(ValueError, match="no incident #9"):
            await store.update_incident(9, start=1.0, end=None, text="x", severity="low", by="a")
