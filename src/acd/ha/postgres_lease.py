"""The lease in PostgreSQL: a session advisory lock plus a lease row with a fencing epoch.

Why both:

* the **advisory lock** is held by the leader's own connection, so when the leader dies
  (kill -9, crash, machine off with a clean TCP reset) the server frees it at once and the
  standby, which tries it every ``renew_s``, takes over within about a second;
* the **lease row** (``acd_lease``: holder, ``epoch``, ``expires_at`` on the server's clock)
  covers what the lock cannot see: a leader that is alive but stuck (paused, frozen VM,
  network cut without a reset) keeps its connection and so its lock.  Once the row has
  not been renewed for ``lease_s`` the standby ends that session (``pg_terminate_backend``,
  allowed between sessions of the same role) and takes the lock;
* the **epoch** goes up by one at each takeover and is the fencing token: every event
  batch checks, inside its own transaction and holding a share lock on the row, that the
  epoch is still its leader's (``fence``); a stale leader's batch is refused, and a
  takeover (which updates the row) waits for a batch in flight to commit, so no write of
  the old epoch lands after the new one began.

The table lives beside the event log (same database); it is created here, not by the
store's migrations, because only hot-standby pairs need it.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass

import asyncpg

from acd.ha.lease import LeaseRow, LeaseTerms, Move, standby_move
from acd.metrics.store_postgres import DB_ERRORS, Fence, StoreFenced, _masked
from acd.metrics.store_url import redact

log = logging.getLogger("acd.ha")

LOCK_CLASS = 0x61636403  # advisory lock key space ("acd" 3): leases; 1 and 2 are the store's
_NOW = "extract(epoch from clock_timestamp())"
_DDL = """CREATE TABLE IF NOT EXISTS acd_lease (
    name text PRIMARY KEY,
    holder text NOT NULL,
    epoch bigint NOT NULL,
    expires_at double precision NOT NULL,
    acquired_at double precision NOT NULL
)"""


class LeaseStoreError(Exception):
    """The lease's database cannot be reached or prepared (message without the password)."""


@dataclass(frozen=True, slots=True)
class Acquired:
    """A lease this node just took: its epoch, who held it before and whether that lease had expired."""

    epoch: int
    previous_holder: str
    previous_expired: bool
    evicted: bool


def lock_key(name: str) -> int:
    """The advisory lock's second key for a lease name: a stable non-negative int4."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


class PostgresLease:
    """One node's handle on a named lease.  ``await PostgresLease.open(dsn, name, holder, terms)``."""

    def __init__(self, conn: asyncpg.Connection, dsn: str, name: str, holder: str, terms: LeaseTerms) -> None:
        self._conn = conn
        self._dsn = dsn
        self.name = name
        self.holder = holder
        self.terms = terms
        self.where = redact(dsn)
        self.connection_lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: self.connection_lost.set())

    @classmethod
    async def open(cls, dsn: str, name: str, holder: str, terms: LeaseTerms, *, connect_timeout_s: float = 10.0) -> "PostgresLease":
        """A dedicated connection (it holds the lock), the table and the lease's row made if missing."""
        try:
            conn = await asyncpg.connect(dsn, timeout=connect_timeout_s)
        except DB_ERRORS as exc:
            raise LeaseStoreError(f"lease: cannot connect to {redact(dsn)}: {_masked(exc, dsn)}") from None
        except ValueError as exc:
            raise LeaseStoreError(f"lease: bad store URL {redact(dsn)}: {_masked(exc, dsn)}") from None
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", LOCK_CLASS)  # two nodes starting at once
                await conn.execute(_DDL)
                await conn.execute("INSERT INTO acd_lease VALUES ($1, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING", name)
        except DB_ERRORS as exc:
            await conn.close()
            raise LeaseStoreError(f"lease: cannot prepare {redact(dsn)}: {_masked(exc, dsn)}") from None
        return cls(conn, dsn, name, holder, terms)

    def masked(self, exc: BaseException) -> str:
        """An error's text without the password the URL may hold."""
        return _masked(exc, self._dsn)

    async def read(self) -> LeaseRow:
        row = await self._conn.fetchrow(f"SELECT holder, epoch, expires_at, {_NOW} AS now FROM acd_lease WHERE name = $1", self.name)
        if row is None:
            raise LeaseStoreError(f"lease {self.name!r}: its row in acd_lease was deleted")
        return LeaseRow(row["holder"], int(row["epoch"]), float(row["expires_at"]), float(row["now"]))

    async def _try_lock(self) -> bool:
        return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, lock_key(self.name)))

    async def try_acquire(self) -> Acquired | None:
        """One standby look: take the lease if its lock is free, evict a stuck holder; else None."""
        got = await self._try_lock()
        row = await self.read()
        move = standby_move(got, row)
        evicted = False
        if move is Move.WAIT:
            return None
        if move is Move.EVICT:
            pids = await self._conn.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid "
                "AND objsubid = 2 AND granted AND pid <> pg_backend_pid()",
                LOCK_CLASS, lock_key(self.name),
            )
            log.warning(
                "lease %r: %s (epoch %d) has not renewed for %.1f s past its expiry: ending its database session",
                self.name, row.holder, row.epoch, row.db_now - row.expires_at,
            )
            for pid in pids:
                await self._conn.execute("SELECT pg_terminate_backend($1)", pid["pid"])
            for _ in range(20):
                if await self._try_lock():
                    break
                await asyncio.sleep(0.1)
            else:
                return None
            evicted = True
        taken = await self._conn.fetchrow(
            f"UPDATE acd_lease SET epoch = epoch + 1, holder = $2, expires_at = {_NOW} + $3, acquired_at = {_NOW} "
            "WHERE name = $1 RETURNING epoch",
            self.name, self.holder, float(self.terms.lease_s),
        )
        return Acquired(int(taken["epoch"]), row.holder, row.expired, evicted)

    async def renew(self, epoch: int) -> bool:
        """Push the expiry on; False when the row carries another epoch (the lease was taken over)."""
        status = await asyncio.wait_for(
            self._conn.execute(
                f"UPDATE acd_lease SET expires_at = {_NOW} + $3 WHERE name = $1 AND epoch = $2", self.name, epoch, float(self.terms.lease_s)
            ),
            self.terms.lease_s / 2,  # a renewal later than this is useless: the lease is nearly gone
        )
        return status == "UPDATE 1"

    def fence(self, epoch: int) -> Fence:
        """The store's per-batch check: this epoch is still the lease's (row share-locked until commit)."""
        name = self.name

        async def check(conn: asyncpg.Connection) -> None:
            current = await conn.fetchval("SELECT epoch FROM acd_lease WHERE name = $1 FOR SHARE", name)
            if current != epoch:
                raise StoreFenced(f"lease {name!r} is at epoch {current}, this engine led epoch {epoch}: another node took over")

        return check

    async def release(self, epoch: int) -> None:
        """A clean stop: mark the row expired and free the lock, so the standby takes over at once."""
        try:
            await asyncio.wait_for(self._conn.execute(f"UPDATE acd_lease SET expires_at = {_NOW} WHERE name = $1 AND epoch = $2", self.name, epoch), 5)
        except Exception as exc:  # noqa: BLE001 - the standby then waits out the lease instead
            log.warning("lease %r: not marked released: %s", self.name, _masked(exc, self._dsn))
        await self.close()

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._conn.close(), 5)
        except (asyncio.TimeoutError, *DB_ERRORS):
            self._conn.terminate()
