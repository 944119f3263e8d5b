"""The lease on a real PostgreSQL (acd.ha.postgres_lease): one holder at a time, a fast
takeover when the holder's session dies, eviction of a holder that stopped renewing, and
the fence that refuses a stale leader's event batches."""

from __future__ import annotations

import asyncio
import time

import pytest

from acd.base.events import Event
from acd.ha.lease import LeaseTerms
from acd.ha.postgres_lease import PostgresLease
from acd.lab.postgres import Postgres
from acd.metrics.store_postgres import PostgresEventStore, StoreFenced

TERMS = LeaseTerms(lease_s=2.0, renew_s=0.5)


@pytest.fixture
def dsn(postgres: Postgres, request: pytest.FixtureRequest) -> str:
    return postgres.create_database(f"lease_{request.node.name[:40].lower()}")


async def take(lease: PostgresLease, within_s: float) -> tuple[int, float]:
    """Look as a standby every renew_s until the lease is ours; (epoch, seconds it took)."""
    began = time.monotonic()
    while time.monotonic() - began < within_s:
        acquired = await lease.try_acquire()
        if acquired is not None:
            return acquired.epoch, time.monotonic() - began
        await asyncio.sleep(TERMS.renew_s)
    raise AssertionError(f"{lease.holder} did not get the lease within {within_s} s")


def test_a_second_node_cannot_take_the_lease_while_the_first_holds_and_renews_it(dsn: str) -> None:
    async def scenario() -> None:
        a = await PostgresLease.open(dsn, "acd", "node-a", TERMS)
        b = await PostgresLease.open(dsn, "acd", "node-b", TERMS)
        try:
            first = await a.try_acquire()
            assert first is not None and first.epoch == 1 and first.previous_holder == ""
            for _ in range(8):  # 4 s: twice the lease, renewed all along
                assert await b.try_acquire() is None
                assert await a.renew(first.epoch)
                await asyncio.sleep(TERMS.renew_s)
            row = await b.read()
            assert (row.holder, row.epoch, row.expired) == ("node-a", 1, False)
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_the_standby_takes_over_at_once_when_the_leaders_session_dies(dsn: str) -> None:
    async def scenario() -> None:
        a = await PostgresLease.open(dsn, "acd", "node-a", TERMS)
        b = await PostgresLease.open(dsn, "acd", "node-b", TERMS)
        try:
            assert (await a.try_acquire()).epoch == 1  # type: ignore[union-attr]
            a._conn.terminate()  # what the server sees of a leader killed with -9: its connection closes
            epoch, took_s = await take(b, within_s=TERMS.lease_s)
            assert epoch == 2
            assert took_s < TERMS.lease_s  # the lock, not the row's expiry, decided
            assert not await a_renews_after_losing(dsn, epoch_held=1)
        finally:
            await b.close()

    asyncio.run(scenario())


async def a_renews_after_losing(dsn: str, epoch_held: int) -> bool:
    again = await PostgresLease.open(dsn, "acd", "node-a", TERMS)
    try:
        return await again.renew(epoch_held)
    finally:
        await again.close()


def test_a_leader_that_stopped_renewing_is_evicted_and_its_event_batches_refused(dsn: str) -> None:
    """A paused leader keeps its session (and lock): the standby waits out the lease, ends
    that session, takes epoch 2; the old leader's store, resuming, has its batch refused."""

    async def scenario() -> None:
        a = await PostgresLease.open(dsn, "acd", "node-a", TERMS)
        b = await PostgresLease.open(dsn, "acd", "node-b", TERMS)
        store_a = await PostgresEventStore.open(dsn, batch_interval_s=1.0)
        store_b = await PostgresEventStore.open(dsn, batch_interval_s=1.0)
        try:
            assert (await a.try_acquire()).epoch == 1  # type: ignore[union-attr]
            store_a.fence = a.fence(1)
            store_a.append(Event(type="engine.heartbeat", ts=time.time(), data={"from": "a, leading"}))
            assert await store_a.flush() == 1
            # a is paused from here: it neither renews nor writes
            began = time.monotonic()
            acquired = None
            while acquired is None:
                assert time.monotonic() - began < TERMS.lease_s * 3, "b never evicted the stuck leader"
                acquired = await b.try_acquire()
                await asyncio.sleep(0.1)
            waited = time.monotonic() - began
            assert acquired.epoch == 2 and acquired.evicted and acquired.previous_holder == "node-a"
            assert waited >= TERMS.lease_s - 0.6  # not before the lease ran out (less one look)
            assert a.connection_lost.is_set() or await _closed_soon(a)
            store_b.fence = b.fence(2)
            store_b.append(Event(type="engine.takeover", ts=time.time(), data={"epoch": 2}))
            assert await store_b.flush() == 1
            # a wakes up: its batch carries epoch 1 and is refused, never retried
            store_a.append(Event(type="call.answered", ts=time.time(), call_id="stale", data={"from": "a, paused"}))
            with pytest.raises(StoreFenced, match="epoch 2.*epoch 1"):
                await store_a.flush()
            assert store_a.fenced == 1 and store_a.pending == 0
            assert not await a.renew(1) if not a.connection_lost.is_set() else True
            stored = [e.type for e in await store_b.events()]
            assert stored == ["engine.heartbeat", "engine.takeover"]
        finally:
            await store_b.close()
            store_a._closed = True
            await store_a._pool.close()
            await a.close()
            await b.close()

    asyncio.run(scenario())


async def _closed_soon(lease: PostgresLease) -> bool:
    try:
        await lease.read()
    except Exception:  # noqa: BLE001 - the terminated session fails its next query
        return True
    return False


def test_a_clean_release_lets_the_standby_take_over_at_once(dsn: str) -> None:
    async def scenario() -> None:
        a = await PostgresLease.open(dsn, "acd", "node-a", TERMS)
        b = await PostgresLease.open(dsn, "acd", "node-b", TERMS)
        try:
            assert (await a.try_acquire()).epoch == 1  # type: ignore[union-attr]
            await a.release(1)
            acquired = await b.try_acquire()
            assert acquired is not None and acquired.epoch == 2 and acquired.previous_expired and not acquired.evicted
        finally:
            await b.close()

    asyncio.run(scenario())
