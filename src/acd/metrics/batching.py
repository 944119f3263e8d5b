"""The batching writer both metrics stores share: ``append`` queues, a task commits batches.

Why one class: the durability contract (``acd.metrics.store``'s docstring) lives in this
loop — what ``pending`` counts, that a failed batch is put back in order for the next
attempt, that one unserialisable event is dropped rather than blocking every later one,
that ``close`` cancels the loop but never a transaction half-way and then commits the
rest.  Written once, it cannot drift between SQLite and PostgreSQL; each back end only
says how to turn an event into a row (``_prepare_row``) and how to commit a batch of rows
in one transaction (``_write_batch``), which errors are the database's
(``_db_errors``), how to show one (``_error_text``: PostgreSQL masks the password) and
how to let go of its connections (``_release``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Sequence

from acd.base.events import Event


class BatchingWriter:
    """The writing half of a metrics store; subclasses call ``_init_batching`` and ``_start_flusher``."""

    _log: logging.Logger
    _db_errors: tuple[type[BaseException], ...]
    #: errors that refuse a batch for good (a fenced stale leader's): dropped, never retried
    _refusals: tuple[type[BaseException], ...] = ()

    def _init_batching(self, batch_interval_s: float) -> None:
        self.batch_interval_s = batch_interval_s
        self._batch: list[Event] = []
        self._in_flight = 0  # events taken by a flush whose transaction has not committed yet
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        #: set by the first event of a batch: an idle store wakes nobody (no timer while empty)
        self._work = asyncio.Event()
        self._closed = False
        self.flushed = 0
        self.rejected = 0
        self.flush_errors = 0
        self.last_error: str | None = None
        self.refused = 0  # events of batches refused for good (``_refusals``)

    def _start_flusher(self, name: str) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name=name)

    # -- what each back end gives ------------------------------------------------------

    def _prepare_row(self, event: Event) -> Any:
        """The event as the back end stores it; TypeError/ValueError if it cannot be."""
        raise NotImplementedError

    async def _write_batch(self, rows: Sequence[Any]) -> None:
        """Commit ``rows`` in one transaction (all or none; duplicates stored once)."""
        raise NotImplementedError

    def _error_text(self, exc: BaseException) -> str:
        return str(exc)

    async def _release(self) -> None:
        """Close the connection(s), after the last flush."""
        raise NotImplementedError

    # -- the contract ------------------------------------------------------------------

    def append(self, event: Event) -> None:
        """Queue ``event`` for the next batch; never blocks, never touches the database."""
        if self._closed:
            from acd.metrics.store import StoreError

            raise StoreError("event store is closed")
        self._batch.append(event)
        if len(self._batch) == 1:
            self._work.set()

    @property
    def pending(self) -> int:
        """Events appended but not yet committed (a batch being written counts until COMMIT)."""
        return len(self._batch) + self._in_flight

    async def flush(self) -> int:
        """Commit everything appended so far in one transaction; returns how many events."""
        async with self._lock:
            if not self._batch:
                return 0
            batch, self._batch = self._batch, []
            self._in_flight = len(batch)
            kept: list[Event] = []
            rows: list[Any] = []
            for event in batch:
                try:
                    rows.append(self._prepare_row(event))
                    kept.append(event)
                except (TypeError, ValueError) as exc:
                    # One unserialisable event must not block every later one.
                    self.rejected += 1
                    self._log.error("event %s (%s) cannot be stored and was dropped: %s", event.id, event.type, exc)
            try:
                if rows:
                    await self._write_batch(rows)
            except self._refusals as exc:
                self._in_flight = 0
                self.refused += len(kept)
                self.last_error = str(exc)
                self._log.error("event store: %d event(s) refused: %s", len(kept), exc)
                raise
            except BaseException as exc:
                self._batch[:0] = kept  # keep them, in order, for the next attempt
                self._in_flight = 0
                if isinstance(exc, self._db_errors):
                    self.flush_errors += 1
                    self.last_error = self._error_text(exc)
                raise
            self._in_flight = 0
            self.flushed += len(kept)
            return len(kept)

    async def _flush_loop(self) -> None:
        # A batch is committed ``batch_interval_s`` after its first event (as soon as the
        # last commit ends under steady traffic).  With nothing pending the loop waits for
        # the next event instead of waking every interval: an idle engine stays asleep.
        # A batch kept after a failed commit is pending, so it is retried each interval.
        while True:
            if not self._batch:
                self._work.clear()
                await self._work.wait()
            await asyncio.sleep(self.batch_interval_s)
            try:
                # Shielded: close() cancels this loop, never a transaction half-way.
                await asyncio.shield(self.flush())
            except self._refusals:
                pass  # logged by flush; the batch is dropped
            except self._db_errors as exc:
                # Disk full, file locked by a backup, server gone...: keep the events and retry.
                self._log.error("event store flush failed (%d events kept for retry): %s", self.pending, self._error_text(exc))

    async def close(self) -> None:
        """Stop the background writer, commit everything pending, close the connection(s)."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            try:
                await self._flusher
            except asyncio.CancelledError:
                pass
        try:
            await self.flush()
        finally:
            await self._release()


__all__ = ["BatchingWriter"]
