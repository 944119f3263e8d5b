"""``acd store migrate``: copy a site's SQLite store (events, incidents, report cells) to PostgreSQL.

Why this shape: a live site moves without stopping.  Run it once while the engine
still writes SQLite (the file is read through a read-only connection, as reports do),
then stop the engine, run it again (only what is new is copied: events are keyed by
(id, ts), incidents by id, cells by their key) and start the engine on ``store.url``.

Events are copied in the SQLite log's order (``seq``), so events with the same time keep
their order and reports over the copy equal reports over the file.  The copy ends with a
count check per UTC day: the target must hold at least the source's events of each day
(more is allowed: events the engine wrote to PostgreSQL already); a day short raises.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from acd.metrics.store import EventStore, StoreError, _incident
from acd.metrics.store_postgres import PostgresEventStore
from acd.metrics.store_url import POSTGRESQL, SQLITE, StoreLocation, StoreUrlError

CHUNK = 5000


@dataclass
class MigrationResult:
    source: str
    target: str
    source_events: int = 0
    copied_events: int = 0  # new in the target on this run (0 on a repeated run)
    target_events: int = 0
    incidents: int = 0
    cells: int = 0
    days: int = 0  # UTC days compared by the count check
    extra_days: list[int] = field(default_factory=list)  # days where the target has more than the source
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_kinds(source: StoreLocation, target: StoreLocation) -> None:
    if source.kind != SQLITE:
        raise StoreUrlError(f"--from must be an SQLite store (sqlite:… or a file), not {source}")
    if target.kind != POSTGRESQL:
        raise StoreUrlError(f"--to must be a PostgreSQL store (postgresql://…), not {target}")


async def migrate_store(
    source: StoreLocation, target: StoreLocation, *, chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None
) -> MigrationResult:
    """Copy ``source`` (SQLite) into ``target`` (PostgreSQL); ``StoreError`` with one line if anything is wrong."""
    _check_kinds(source, target)
    started = time.perf_counter()
    assert source.path is not None and target.dsn is not None
    # Opening checks the file (an SQLite acd log, not newer than this acd) as a report would.
    await (await EventStore.open(source.path, create=False)).close()
    result = MigrationResult(str(source), str(target))
    pg = await PostgresEventStore.open(target.dsn, create=True)
    try:
        with closing(sqlite3.connect(f"file:{source.path}?mode=ro", uri=True, timeout=5.0)) as db:
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("BEGIN")  # one snapshot: the engine may go on writing meanwhile
            last = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
            result.source_events = int(db.execute("SELECT COUNT(*) FROM events WHERE seq <= ?", (last,)).fetchone()[0])
            seq = 0
            while True:
                rows = db.execute(
                    "SELECT seq, id, ts, type, call_id, agent_id, queue, data, schema_version FROM events "
                    "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                    (seq, last, chunk),
                ).fetchall()
                if not rows:
                    break
                seq = int(rows[-1][0])
                result.copied_events += await pg.insert_rows([tuple(r[1:]) for r in rows])
                if progress is not None:
                    progress(seq, last)
            source_days = {
                int(day): int(n)
                for day, n in db.execute(
                    "SELECT CAST(floor(ts / 86400) AS INTEGER) AS day, COUNT(*) FROM events WHERE seq <= ? GROUP BY day", (last,)
                )
            } if _has_floor(db) else _day_counts_by_hand(db, last)
            incidents = [_incident(r) for r in db.execute(
                "SELECT id, start_ts, end_ts, text, created_ts, severity, author, updated_ts, updated_by FROM incidents"
            )]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            cells = list(db.execute("SELECT rules, start_ts, end_ts, data FROM report_cells")) if "report_cells" in tables else []
            db.execute("COMMIT")
        result.incidents = await pg.import_incidents(incidents)
        await pg.import_cells([(str(k), float(a), float(b), bytes(c)) for k, a, b, c in cells])
        result.cells = len(cells)
        target_days = await pg.day_counts()
        result.target_events = sum(target_days.values())
        short = {day: (n, target_days.get(day, 0)) for day, n in source_days.items() if target_days.get(day, 0) < n}
        result.days = len(source_days)
        result.extra_days = sorted(day for day, n in source_days.items() if target_days.get(day, 0) > n)
        if short:
            day, (want, got) = min(short.items())
            raise StoreError(f"count check failed: {len(short)} day(s) short in {target}, first UTC day {day}: {got} of {want} events")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {source}: {exc}") from None
    finally:
        await pg.close()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _has_floor(db: sqlite3.Connection) -> bool:
    """SQLite has ``floor`` only when built with its math functions (3.35+, usually on)."""
    try:
        db.execute("SELECT floor(1.5)").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def _day_counts_by_hand(db: sqlite3.Connection, last: int) -> dict[int, int]:
    import math

    counts: dict[int, int] = {}
    for (ts,) in db.execute("SELECT ts FROM events WHERE seq <= ?", (last,)):
        day = math.floor(ts / 86400)
        counts[day] = counts.get(day, 0) + 1
    return counts


__all__ = ["MigrationResult", "migrate_store"]
