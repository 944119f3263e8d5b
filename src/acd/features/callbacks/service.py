"""Callbacks that keep the caller's place.

A waiting caller offered a callback presses 1, confirms a number and hangs up; the call
stays in the router with its original wait (``wait_origin``), so it reaches an agent when
its turn comes, exactly as if the caller had stayed on the line.  Then, per queue
(``waiting.callback_mode`` in ``routing.yaml``):

* ``agent-first`` (default): the engine rings the agent (AMI ``Originate`` into
  ``acd-callback``) and, once the agent answers, dials the customer;
* ``customer-first``: the router reserves the agent while the engine dials the customer
  (``Originate`` into ``acd-callback-customer``); only a customer who answers hears a
  short greeting and has the agent rung.  A customer who does not answer fails the
  attempt and frees the agent at once, unpaused (it was not the agent's fault).  Once the
  customer answered the callback is complete: if the agent then does not answer, the
  customer is a caller like any other, back at the head of the queue with music, and the
  agent is paused for ring-no-answer, as for any call.

A ring the router cancels while the Originate is still out (the reserved agent paused
or logged out, the call moved, a time-out) is hung up over AMI before any new attempt
(``acd.dispatch``), so the customer never has two calls from us at once; that attempt is
recorded with the outcome ``cancelled`` and does not count toward
``callback_max_attempts`` (the customer was not given the chance to answer it).

A failed customer leg is retried after ``callback_retry_s`` up to
``callback_max_attempts``; callbacks are only placed inside the queue's callback hours;
every request and attempt is an event (``callback.requested``, ``callback.attempt`` with
its ``outcome``, ``callback.completed``, ``callback.failed``), and requests live in
SQLite (``callbacks.database``) or the shared PostgreSQL of ``store.url``, so they
survive an engine restart (or a standby's takeover).  A second request from the same number
replaces the first: a customer is never called twice for one wish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Literal, Protocol

import aiosqlite

from acd.base.schedule import Schedule
from acd.base.events import Event
from acd.metrics.store_sync import Migrations, SyncDatabase, Table, location_of
from acd.metrics.store_url import POSTGRESQL, StoreLocation
from acd.privacy import Pseudonyms

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("acd.callbacks")

OPEN_STATES = ("pending", "active")
CallbackMode = Literal["agent-first", "customer-first"]
#: Dial's DIALSTATUS (or the engine's reading of a failed Originate) -> the attempt's outcome.
OUTCOMES = {"ANSWER": "answered", "BUSY": "busy", "NOANSWER": "no-answer"}


@dataclass(frozen=True)
class Callback:
    call_id: str
    queue: str
    number: str
    wait_origin: float
    requested_at: float
    state: str = "pending"  # pending | active | completed | failed | replaced
    attempts: int = 0
    next_attempt_at: float = 0.0


_COLUMNS = "call_id, queue, number, wait_origin, requested_at, state, attempts, next_attempt_at"

MIGRATIONS = Migrations(
    "callbacks",
    sqlite=["""
    CREATE TABLE IF NOT EXISTS callbacks (
        call_id TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        number TEXT NOT NULL,
        wait_origin REAL NOT NULL,
        requested_at REAL NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS callbacks_open ON callbacks (state, number);
    """],
    postgresql=["""
    CREATE TABLE callbacks (
        call_id text PRIMARY KEY,
        queue text NOT NULL,
        number text NOT NULL,
        wait_origin double precision NOT NULL,
        requested_at double precision NOT NULL,
        state text NOT NULL,
        attempts integer NOT NULL,
        next_attempt_at double precision NOT NULL
    );
    CREATE INDEX callbacks_open ON callbacks (state, number);
    """],
    tables=[Table("callbacks", ("call_id",))],
)


class CallbackStore:
    """Durable callback requests (one row per request, keyed by call id), in SQLite.

    :meth:`open` picks the back end from where it is told: a file (this class) or the
    shared PostgreSQL (:class:`PostgresCallbackStore`, same methods)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, where: Path | str | StoreLocation, *, private: bool = True) -> "CallbackStore | PostgresCallbackStore":
        """Open (creating, migrating) the store; it holds customers' numbers in clear (they must be
        dialled), so an SQLite file is owner-only unless ``private`` is false."""
        location = location_of(where)
        await asyncio.to_thread(SyncDatabase(location, MIGRATIONS, private=private).create)
        if location.kind == POSTGRESQL:
            return await PostgresCallbackStore.connect(location.dsn or "")
        connection = await aiosqlite.connect(location.path)
        await connection.execute("PRAGMA journal_mode=WAL")
        return cls(connection)

    async def save(self, callback: Callback) -> None:
        await self._db.execute(f"INSERT OR REPLACE INTO callbacks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _row(callback))
        await self._db.commit()

    async def open_requests(self) -> list[Callback]:
        cursor = await self._db.execute(f"SELECT {_COLUMNS} FROM callbacks WHERE state IN ('pending', 'active') ORDER BY wait_origin")
        return [Callback(*row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        await self._db.close()


class PostgresCallbackStore:
    """The same requests in the shared PostgreSQL: a standby engine taking over finds them."""

    def __init__(self, pool: "asyncpg.Pool") -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> "PostgresCallbackStore":
        import asyncpg

        return cls(await asyncpg.create_pool(dsn, min_size=1, max_size=2))

    async def save(self, callback: Callback) -> None:
        await self._pool.execute(
            f"INSERT INTO callbacks ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (call_id) DO UPDATE SET"
            " queue = excluded.queue, number = excluded.number, wait_origin = excluded.wait_origin,"
            " requested_at = excluded.requested_at, state = excluded.state, attempts = excluded.attempts,"
            " next_attempt_at = excluded.next_attempt_at",
            *_row(callback),
        )

    async def open_requests(self) -> list[Callback]:
        rows = await self._pool.fetch(f"SELECT {_COLUMNS} FROM callbacks WHERE state IN ('pending', 'active') ORDER BY wait_origin")
        return [Callback(*row) for row in rows]

    async def close(self) -> None:
        await self._pool.close()


def _row(callback: Callback) -> tuple[object, ...]:
    return (callback.call_id, callback.queue, callback.number, callback.wait_origin, callback.requested_at,
            callback.state, callback.attempts, callback.next_attempt_at)


class CallbackQueue(Protocol):
    """What the service needs from the ACD: put a callback in its queue, or take it out.

    ``queue_callback`` is also called for a call the router already holds (a request made
    while waiting): the ACD decides whether it must re-enter (customer-first callbacks
    need a longer ring time than the queue's, see ``acd.dispatch``).
    """

    def queue_callback(self, callback: Callback) -> None: ...

    def withdraw(self, call_id: str) -> None: ...


def next_open(schedule: Schedule | None, after: float, step_s: float = 60.0, horizon_days: int = 14) -> float | None:
    """First moment at or after ``after`` when ``schedule`` is open (None: never, in 14 days)."""
    if schedule is None:
        return after
    moment = after
    limit = after + horizon_days * 86400
    while moment <= limit:
        if schedule.state_at(moment) == "open":
            return moment
        moment = (int(moment // step_s) + 1) * step_s
    return None


@dataclass
class CallbackPolicy:
    max_attempts: int
    retry_s: float
    hours: Schedule | None
    mode: CallbackMode = "agent-first"


class CallbackService:
    """Keeps callback requests, decides when each one is due, and records every outcome."""

    def __init__(
        self,
        store: "CallbackStore | PostgresCallbackStore",
        acd: CallbackQueue,
        emit: Callable[[Event], None],
        policies: dict[str, CallbackPolicy],
        clock: Callable[[], float] = time.time,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        self.store = store
        #: events carry the number masked plus its pseudonym; only the store keeps it to dial
        self.pseudonyms = pseudonyms or Pseudonyms.ephemeral()
        self.acd = acd
        self.emit = emit
        self.policies = policies
        self.clock = clock
        self._open: dict[str, Callback] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: restored requests whose last attempt was under way when the previous engine
        #: stopped: held back until the ACD has looked at Asterisk for that attempt's legs
        self.in_doubt: set[str] = set()

    def is_callback(self, call_id: str) -> bool:
        return call_id in self._open

    def get(self, call_id: str) -> Callback | None:
        return self._open.get(call_id)

    def mode_of(self, call_id: str) -> CallbackMode | None:
        """How an open callback is placed (its queue's policy); None when it is not open."""
        callback = self._open.get(call_id)
        if callback is None:
            return None
        policy = self.policies.get(callback.queue)
        return policy.mode if policy is not None else "agent-first"

    async def request(self, call_id: str, queue: str, number: str, wait_origin: float) -> Callback:
        """Register a request (replacing an open one from the same number) and schedule it."""
        now = self.clock()
        for other in list(self._open.values()):
            if other.number == number and other.call_id != call_id:
                await self._close(other, "replaced")
                self.acd.withdraw(other.call_id)
                log.info("callback %s replaced by a new request from the same number", other.call_id)
        callback = Callback(call_id=call_id, queue=queue, number=number, wait_origin=wait_origin, requested_at=now)
        self._open[call_id] = callback
        await self.store.save(callback)
        self._emit("callback.requested", callback, {"number": number, "position_origin": wait_origin})
        # The caller's place is already in the router; outside hours it must leave the queue.
        self._keep_or_defer(callback, already_queued=True)
        return callback

    async def restore(self) -> int:
        """After a restart: every open request goes back to its queue (or waits for hours).

        A request stored as ``active`` had an attempt under way when the previous engine
        stopped; its leg may still ring the customer (or they may be talking).  Placing it
        again at once could call the customer twice, so it is held ``in_doubt`` until the
        ACD has looked for that leg in Asterisk (:meth:`release` or a late result decides it).
        """
        restored = 0
        for callback in await self.store.open_requests():
            was_active = callback.state == "active"
            callback = replace(callback, state="pending")
            self._open[callback.call_id] = callback
            if was_active:
                self.in_doubt.add(callback.call_id)
            else:
                self._keep_or_defer(callback, already_queued=False)
            restored += 1
        if restored:
            log.info("restored %d callback request(s), %d with an attempt in doubt", restored, len(self.in_doubt))
        return restored

    def release(self, call_id: str, why: str) -> None:
        """An in-doubt request's earlier attempt is over with no result: queue it again."""
        if call_id not in self.in_doubt:
            return
        self.in_doubt.remove(call_id)
        callback = self._open.get(call_id)
        if callback is None:
            return
        log.info("callback %s: attempt %d %s; placing it again", call_id, callback.attempts, why)
        self._keep_or_defer(callback, already_queued=False)

    async def placing(self, call_id: str) -> Callback | None:
        """The ACD is about to ring an agent for this callback (saved before it happens,
        so a later outcome can never be overwritten by this older state)."""
        callback = self._open.get(call_id)
        if callback is None:
            return None
        callback = replace(callback, state="active", attempts=callback.attempts + 1)
        self._open[call_id] = callback
        await self.store.save(callback)
        return callback

    def unplaced(self, call_id: str, reason: str, agent_id: str | None = None) -> Awaitable[None] | None:
        """The ACD cancelled the attempt being placed (its leg is being hung up): record it
        as ``cancelled`` and give the attempt back, since the customer had no fair chance to
        answer it.  The request stays in its queue (the router re-queued the call); returns
        the write that makes this durable, or None when no attempt was under way."""
        callback = self._open.get(call_id)
        if callback is None or callback.state != "active":
            return None
        data = {"number": callback.number, "attempt": callback.attempts, "outcome": "cancelled", "reason": reason, "mode": self.mode_of(call_id)}
        self._emit("callback.attempt", callback, data, agent_id)
        callback = replace(callback, state="pending", attempts=max(0, callback.attempts - 1))
        self._open[call_id] = callback
        return self.store.save(callback)

    async def result(self, call_id: str, status: str, agent_id: str | None = None) -> None:
        """The customer leg ended or answered: ANSWER completes the callback; anything else is retried."""
        write = self.settle(call_id, status, agent_id)
        if write is not None:
            await write

    def settle(self, call_id: str, status: str, agent_id: str | None = None) -> Awaitable[None] | None:
        """Decide an attempt now and return the write that makes it durable (None: not open).

        The decision is taken synchronously so that, from the next AMI event on, the ACD
        already sees the callback as completed (a customer who answered is an ordinary
        caller from then on).  A retry re-enters its queue only once its state is stored,
        so a later ``placing`` can never be overwritten by this older state.
        """
        callback = self._open.get(call_id)
        if callback is None:
            return None
        self.in_doubt.discard(call_id)  # an earlier engine's attempt reported back: decided
        outcome = OUTCOMES.get(status, "failed")
        mode = self.mode_of(call_id)
        self._emit("callback.attempt", callback, {"number": callback.number, "attempt": callback.attempts, "outcome": outcome, "mode": mode}, agent_id)
        if outcome == "answered":
            write = self._close_now(callback, "completed")
            self._emit("callback.completed", callback, {"number": callback.number, "mode": mode}, agent_id)
            return write
        policy = self.policies[callback.queue]
        if callback.attempts >= policy.max_attempts:
            write = self._close_now(callback, "failed")
            self._emit("callback.failed", callback, {"number": callback.number, "attempts": callback.attempts})
            return write
        callback = replace(callback, state="pending", next_attempt_at=self.clock() + policy.retry_s)
        self._open[call_id] = callback
        return self._retry_later(callback)

    async def _retry_later(self, callback: Callback) -> None:
        await self.store.save(callback)
        if self._open.get(callback.call_id) is callback:  # not replaced meanwhile
            self._keep_or_defer(callback, already_queued=False)

    def _keep_or_defer(self, callback: Callback, *, already_queued: bool) -> None:
        policy = self.policies.get(callback.queue)
        now = self.clock()
        due = next_open(policy.hours if policy else None, max(now, callback.next_attempt_at))
        if due is None:
            log.warning("callback %s: the queue's callback hours never open; not placed", callback.call_id)
            if already_queued:
                self.acd.withdraw(callback.call_id)
            return
        if due <= now:
            self.acd.queue_callback(callback)
            return
        if already_queued:
            self.acd.withdraw(callback.call_id)
        log.info("callback %s deferred by %.0f s (outside callback hours or retry delay)", callback.call_id, due - now)
        self._emit("callback.attempt", callback, {"number": callback.number, "attempt": callback.attempts, "outcome": "deferred", "due": due})
        loop = asyncio.get_running_loop()
        old = self._timers.pop(callback.call_id, None)
        if old is not None:
            old.cancel()
        self._timers[callback.call_id] = loop.call_later(due - now, self._due, callback.call_id)

    def _due(self, call_id: str) -> None:
        self._timers.pop(call_id, None)
        callback = self._open.get(call_id)
        if callback is not None:
            self._keep_or_defer(callback, already_queued=False)

    async def _close(self, callback: Callback, state: str) -> None:
        await self._close_now(callback, state)

    def _close_now(self, callback: Callback, state: str) -> Awaitable[None]:
        """Forget the request now; the returned write stores its final state."""
        self._open.pop(callback.call_id, None)
        self.in_doubt.discard(callback.call_id)
        timer = self._timers.pop(callback.call_id, None)
        if timer is not None:
            timer.cancel()
        return self.store.save(replace(callback, state=state))

    def _emit(self, type_: str, callback: Callback, data: dict[str, object], agent_id: str | None = None) -> None:
        if "number" in data:
            data = {**data, **self.pseudonyms.number(str(data["number"]))}
        self.emit(Event(type=type_, ts=self.clock(), call_id=callback.call_id, queue=callback.queue, agent_id=agent_id, data=data))  # type: ignore[arg-type]

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self.store.close()
