"""The metrics store's interface: what the engine, the reports and the console use of it.

Two back ends implement it: the embedded SQLite file (``acd.metrics.store.EventStore``,
one machine) and PostgreSQL (``acd.metrics.store_postgres.PostgresEventStore``, shared
by several engines or consoles).  Callers that only need these methods take a
``MetricsStore`` and never learn which one they got (``acd.metrics.store_url.open_store``
picks it from the URL); a test-suite runs the same checks against both
(``tests/metrics/test_store.py``), and reports over both are equal
(``tests/metrics/test_store_postgres.py``).

Contract both keep (``acd.metrics.store``'s docstring says it at length): ``append``
never blocks and never touches the database; a background task commits batches every
``batch_interval_s``; ``close`` commits what is pending; the same event appended twice
is stored once; reads see everything appended before them (they flush first); events
come back exactly as appended (floats bit for bit), oldest first, ties in append order.
"""

from __future__ import annotations

from types import TracebackType
from typing import Iterable, Protocol, Sequence, runtime_checkable

from acd.base.events import Event
from acd.metrics.store import Incident


@runtime_checkable
class MetricsStore(Protocol):
    batch_interval_s: float
    flushed: int
    rejected: int
    flush_errors: int
    last_error: str | None

    # writing
    def append(self, event: Event) -> None: ...
    @property
    def pending(self) -> int: ...
    async def flush(self) -> int: ...
    async def close(self) -> None: ...
    async def __aenter__(self) -> "MetricsStore": ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    # reading
    async def schema_version(self) -> int: ...
    async def count(self) -> int: ...
    async def events(
        self, start: float | None = None, end: float | None = None, types: Iterable[str] | None = None, queue: str | None = None
    ) -> list[Event]: ...
    async def latest_before(self, ts: float, types: Iterable[str], per_agent: bool = False) -> list[Event]: ...
    async def report_events(self, start: float, end: float, margin_s: float = ...) -> list[Event]: ...
    async def availability_events(self, start: float, end: float) -> list[Event]: ...
    async def recorded_types(self, call_ids: Iterable[str], types: Iterable[str], since: float) -> dict[str, set[str]]: ...
    async def first_event_ts(self) -> float | None: ...

    # incidents
    async def add_incident(
        self, start: float, end: float | None, text: str, created: float | None = None, *, severity: str = "medium", author: str = ""
    ) -> Incident: ...
    async def incidents(self, start: float | None = None, end: float | None = None) -> list[Incident]: ...
    async def incident(self, incident_id: int) -> Incident | None: ...
    async def update_incident(
        self, incident_id: int, *, start: float, end: float | None, text: str, severity: str, by: str, at: float | None = None
    ) -> tuple[Incident, Incident]: ...
    async def close_incident(self, incident_id: int, end: float, *, by: str | None = None) -> Incident: ...

    # report cells (a rebuildable cache, acd.metrics.aggregates)
    async def cached_cells(self, key: str, start: float, end: float, *, days: bool) -> list[tuple[float, float, bytes]]: ...
    async def save_cells(self, key: str, cells: Sequence[tuple[float, float, bytes]]) -> None: ...
    async def drop_cells(self, start: float | None = None, end: float | None = None) -> int: ...


__all__ = ["MetricsStore"]
