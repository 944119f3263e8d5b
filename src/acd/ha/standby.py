"""``acd run`` as one of a hot-standby pair (``ha.enabled``): wait, take over, lead, step down.

The standby builds its engine (so bad flows or routing fail at once, on both nodes) but
starts nothing of it: no FastAGI listener (Asterisk's dialplan falls through to the other
address, see README "Hot standby"), no AMI connection, no store writes; on the API's
address only ``/api/health`` saying standby (:mod:`acd.ha.standby_health`).  It looks at the
lease every ``renew_s``.  On taking it, it arms the fences (AMI actions refused once the
lease may have passed on; event batches checked against the epoch in their transaction)
and runs the engine's normal start, which resynchronises from Asterisk exactly as after a
restart: parked callers re-queued with their original wait, agents' sign-ins from the
shared event log, calls the dead leader left open closed from Asterisk's record.  It then
logs ``engine.takeover`` with the epoch and how long the start took.

A leader that loses its lease (taken over after a pause, its database session ended)
stops at once with exit code 3 and no grace: whatever it would still do is refused
anyway, and its supervisor (systemd ``Restart=always``) brings it back as the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

from acd.engine import Engine, handle_signals
from acd.ha.lease import LeaderLease, LeaseTerms
from acd.ha.postgres_lease import Acquired, LeaseStoreError, PostgresLease
from acd.ha.standby_health import StandbyHealth
from acd.metrics.store_url import POSTGRESQL, StoreUrlError, settings_location
from acd.settings import Settings

log = logging.getLogger("acd.ha")

#: ``acd run``'s exit code when this engine lost its lease to the other node.
EXIT_FENCED = 3


class HaSetupError(Exception):
    """Hot standby cannot run with these settings or this database (one line, no password)."""


def lease_dsn(settings: Settings) -> str:
    """The store's PostgreSQL URL: the lease lives beside the event log it fences."""
    try:
        location = settings_location(settings)
    except StoreUrlError as exc:
        raise HaSetupError(str(exc)) from None
    if location.kind != POSTGRESQL or location.dsn is None:
        raise HaSetupError(
            f"ha.enabled needs the store on PostgreSQL (store.url / ACD_STORE_URL postgresql://…), "
            f"shared by both engines; the store is the SQLite file {location}"
        )
    return location.dsn


async def run_as_pair(engine: Engine, settings: Settings, grace_s: float = 10.0) -> int:
    """Standby until the lease is ours, then the engine until a signal or the lease's loss."""
    dsn = lease_dsn(settings)
    terms = LeaseTerms(settings.ha.lease_s, settings.ha.renew_s)
    node = settings.ha.node or socket.gethostname()
    try:
        lease = await PostgresLease.open(dsn, settings.ha.lease, node, terms)
    except LeaseStoreError as exc:
        raise HaSetupError(str(exc)) from None
    handle_signals(engine)

    health = None
    if settings.api.enabled and settings.api.token is not None:
        health = StandbyHealth(settings.api.host, settings.api.port, settings.api.token.get_secret_value(), node)
        await health.start()
    waiting_since = time.monotonic()
    try:
        acquired, sent_at = await _wait_for_lease(engine, lease, node, health)
    finally:
        if health is not None:
            await health.close()  # the engine's API takes the address
    if acquired is None:
        await lease.close()
        log.info("standby %s stopped without taking the lease", node)
        return 0
    leader = LeaderLease(terms, acquired.epoch, sent_at)
    engine.ami.permits.append(lambda: leader.refusal(time.monotonic()))
    engine.store_fence = lease.fence(acquired.epoch)
    start_began = time.monotonic()
    # Renewals begin now, not after the start: a start longer than the lease (a big event
    # log to prime, a slow database) must not lose it.
    keeper = asyncio.create_task(_keep_lease(engine, lease, leader), name="ha-lease")
    try:
        await engine.start()
    except BaseException:
        await _cancelled(keeper)
        await lease.release(acquired.epoch)
        raise
    start_s = time.monotonic() - start_began
    engine.emit("engine.takeover", data={
        "node": node, "epoch": acquired.epoch, "previous": acquired.previous_holder, "previous_expired": acquired.previous_expired,
        "evicted": acquired.evicted, "standby_s": round(start_began - waiting_since, 3), "start_s": round(start_s, 3),
    })
    log.warning("%s leads (lease %r, epoch %d, after %s); engine started in %.2f s",
                node, lease.name, acquired.epoch, acquired.previous_holder or "nobody", start_s)
    await engine.wait_stopped()
    await _cancelled(keeper)
    if leader.lost_reason is not None:
        log.critical("%s no longer leads (%s): stopping now, refusing every AMI action and event write", node, leader.lost_reason)
        await engine.stop(grace_s=0)
        await lease.close()
        return EXIT_FENCED
    await engine.stop(grace_s=grace_s)
    await lease.release(acquired.epoch)
    return 0


async def _wait_for_lease(engine: Engine, lease: PostgresLease, node: str, health: StandbyHealth | None) -> tuple[Acquired | None, float]:
    """Look every ``renew_s`` until the lease is ours (returned with when the winning look began) or a stop."""
    stop = asyncio.ensure_future(engine.wait_stopped())
    told = ""
    try:
        while not stop.done():
            began = time.monotonic()
            try:
                acquired = await asyncio.wait_for(lease.try_acquire(), lease.terms.lease_s)
                if acquired is not None:
                    return acquired, began
                row = await lease.read()
                text = f"standby {node}: {row.holder} leads (epoch {row.epoch}); watching"
                if health is not None:
                    health.leader, health.epoch = row.holder, row.epoch
            except Exception as exc:  # noqa: BLE001 - a look that failed; the next one may not
                text = f"standby {node}: cannot read the lease: {lease.masked(exc) if not isinstance(exc, asyncio.TimeoutError) else 'timed out'}"
                if lease.connection_lost.is_set():
                    raise HaSetupError(f"lease: lost the database connection to {lease.where}") from None
            if text != told:
                log.warning("%s", text)
                told = text
            await asyncio.wait({stop}, timeout=lease.terms.renew_s)
        return None, 0.0
    finally:
        stop.cancel()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _keep_lease(engine: Engine, lease: PostgresLease, leader: LeaderLease) -> None:
    """Renew every ``renew_s``; on the lease's loss (or no renewal for its length) stop the engine.

    A lease that ran out on this node's own clock (it was paused, or the database did not
    answer) is lost for good, even if the row still names it: the standby may already be
    acting, so this node stops and comes back as the standby."""
    lost = asyncio.ensure_future(lease.connection_lost.wait())
    try:
        while leader.lost_reason is None:
            await asyncio.wait({lost}, timeout=max(0.0, leader.renew_sent_at + leader.terms.renew_s - time.monotonic()))
            if lost.done():
                leader.lost(f"the lease's database connection to {lease.where} was closed")
                break
            expired = leader.refusal(time.monotonic())
            if expired is not None:
                leader.lost(expired)
                break
            sent = time.monotonic()
            try:
                if await lease.renew(leader.epoch):
                    leader.renewed(sent)
                else:
                    leader.lost(f"lease {lease.name!r} taken over: its epoch is no longer {leader.epoch}")
            except Exception as exc:  # noqa: BLE001 - any failure is a missed renewal; the lease's clock decides
                log.warning("lease %r not renewed: %s", lease.name, "timed out" if isinstance(exc, asyncio.TimeoutError) else lease.masked(exc))
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # never leave a leader without its renewals
        leader.lost(f"lease renewal stopped: {exc!r}")
        raise
    finally:
        lost.cancel()
        if leader.lost_reason is not None:
            engine.request_stop()
