"""The metrics store: batching, flushing, closing, queries and the incident log.

Tests taking ``backend`` run against both back ends (SQLite and PostgreSQL, see
``tests/metrics/conftest.py``); the others check what only SQLite has (file handling)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.base.events import Event
import acd.metrics.store as store_module
from acd.metrics.store import EventStore, StoreError
from .conftest import Backend


def rows_on_disk(path: Path) -> int:
    """Count rows through a separate connection: what another process would see."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def eventually(condition, timeout_s: float = 10.0) -> None:
    """Poll until ``condition()`` holds (a deadline, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.01)


def ev(ts: float, type_: str = "call.queued", **fields) -> Event:
    return Event(type=type_, ts=ts, **fields)


async def test_append_only_queues_in_memory_until_a_flush(backend: Backend) -> None:
    store = await backend.open(batch_interval_s=1.0)
    try:
        result = store.append(ev(1.0, call_id="a"))
        assert result is None and store.pending == 1
        assert backend.rows_on_disk() == 0
        assert await store.flush() == 1
        assert store.pending == 0 and backend.rows_on_disk() == 1
    finally:
        await store.close()


async def test_an_idle_store_does_not_wake_and_the_next_event_is_still_committed(backend: Backend) -> None:
    store = await backend.open(batch_interval_s=0.01)
    try:
        store.append(ev(1.0, call_id="a"))
        await eventually(lambda: store.pending == 0)
        flushes = 0
        real_flush = store.flush

        async def counting_flush() -> int:
            nonlocal flushes
            flushes += 1
            return await real_flush()

        store.flush = counting_flush  # type: ignore[method-assign]
        await asyncio.sleep(0.3)  # 30 intervals with nothing to write
        assert flushes == 0
        store.append(ev(2.0, call_id="b"))
        await eventually(lambda: store.pending == 0)
        assert flushes == 1 and backend.rows_on_disk() == 2
    finally:
        await store.close()


async def test_background_task_flushes_without_being_asked(backend: Backend) -> None:
    store = await backend.open(batch_interval_s=0.05)
    try:
        for i in range(50):
            store.append(ev(float(i), call_id=f"c{i}"))
        await eventually(lambda: store.pending == 0)
        assert backend.rows_on_disk() == 50
    finally:
        await store.close()


async def test_close_writes_everything_still_pending(backend: Backend) -> None:
    store = await backend.open(batch_interval_s=1.0)
    for i in range(2000):
        store.append(ev(float(i), call_id=f"c{i}"))
    await store.close()
    assert backend.rows_on_disk() == 2000
    with pytest.raises(StoreError):
        store.append(ev(1.0))


async def test_a_failed_flush_keeps_the_events_for_the_next_one(db_path: Path, monkeypatch) -> None:
    store = await EventStore.open(db_path, batch_interval_s=1.0)
    try:
        store.append(ev(1.0, call_id="a"))
        store.append(ev(2.0, call_id="b"))
        # SQLite itself fails the inserts, after BEGIN: the transaction must be rolled back
        monkeypatch.setattr(store_module, "_INSERT_EVENTS", "INSERT INTO no_such_table VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        with pytest.raises(sqlite3.OperationalError):
            await store.flush()
        assert store.pending == 2 and store.flush_errors == 1 and rows_on_disk(db_path) == 0
        monkeypatch.undo()
        store.append(ev(3.0, call_id="c"))
        assert await store.flush() == 3
        assert [e.call_id for e in await store.events()] == ["a", "b", "c"]
    finally:
        await store.close()


async def test_an_unstorable_event_is_dropped_alone(backend: Backend) -> None:
    store = await backend.open()
    try:
        store.append(ev(1.0, call_id="ok-1"))
        store.append(ev(2.0, call_id="bad", data={"thing": object()}))
        store.append(ev(3.0, call_id="ok-2"))
        await store.flush()
        assert store.rejected == 1
        assert [e.call_id for e in await store.events()] == ["ok-1", "ok-2"]
    finally:
        await store.close()


async def test_the_same_event_appended_twice_is_stored_once(backend: Backend) -> None:
    store = await backend.open()
    try:
        event = ev(1.0, call_id="a")
        store.append(event)
        await store.flush()
        store.append(event)
        await store.flush()
        assert await store.count() == 1
    finally:
        await store.close()


async def test_events_round_trip_exactly(backend: Backend) -> None:
    original = [
        Event(type="call.answered", ts=1772456400.123456789, call_id="x", queue="q", agent_id="a", data={"waited_s": 0.1 + 0.2}),
        Event(type="call.queued", ts=1772456400.5, call_id="y", queue="q", data={"skills": ["es", "pagos"], "priority": 3}),
        Event(type="survey.answer", ts=1772456500.0, call_id="x", data={"score": 5, "question": "¿Resolvimos su consulta?"}),
    ]
    async with await backend.open() as store:
        for event in original:
            store.append(event)
    async with await backend.open(create=False) as store:
        assert await store.events() == original


async def test_queries_by_time_range_type_and_queue_keep_log_order(backend: Backend) -> None:
    async with await backend.open() as store:
        store.append(ev(10.0, call_id="late"))
        store.append(ev(5.0, call_id="first-at-5", queue="a"))
        store.append(ev(5.0, "call.abandoned", call_id="second-at-5", queue="b"))
        store.append(ev(20.0, call_id="outside"))
        assert [e.call_id for e in await store.events(5.0, 20.0)] == ["first-at-5", "second-at-5", "late"]
        assert [e.call_id for e in await store.events(types=["call.abandoned"])] == ["second-at-5"]
        assert [e.call_id for e in await store.events(queue="a")] == ["first-at-5"]
        assert await store.events(types=[]) == []


async def test_report_events_bring_the_state_from_before_the_window(backend: Backend) -> None:
    day = 86400.0
    async with await backend.open() as store:
        store.append(ev(0.0, "engine.started"))
        store.append(ev(1.0, "agent.state", agent_id="ana", data={"state": "available"}))
        store.append(ev(2.0, "agent.state", agent_id="ana", data={"state": "paused"}))
        store.append(ev(3.0, "agent.state", agent_id="beto", data={"state": "available"}))
        store.append(ev(4.0, "call.queued", call_id="old"))
        store.append(ev(10 * day, "call.queued", call_id="in-range"))
        got = await store.report_events(10 * day, 11 * day)
    assert [(e.type, e.agent_id, e.call_id, e.data.get("state")) for e in got] == [
        ("engine.started", None, None, None),
        ("agent.state", "ana", None, "paused"),
        ("agent.state", "beto", None, "available"),
        ("call.queued", None, "in-range", None),
    ]


async def test_incidents_are_listed_when_they_overlap_the_range(backend: Backend) -> None:
    async with await backend.open() as store:
        first = await store.add_incident(100.0, 200.0, "  Corte enlace SIP  ", created=50.0)
        second = await store.add_incident(300.0, 400.0, "Caída AMI")
        assert first.text == "Corte enlace SIP" and first.created == 50.0
        assert [i.id for i in await store.incidents()] == [first.id, second.id]
        assert [i.id for i in await store.incidents(150.0, 250.0)] == [first.id]
        assert [i.id for i in await store.incidents(200.0, 300.0)] == []  # touching is not overlapping
        assert [i.id for i in await store.incidents(end=350.0)] == [first.id, second.id]
        with pytest.raises(ValueError):
            await store.add_incident(5.0, 5.0, "empty")
        with pytest.raises(ValueError):
            await store.add_incident(5.0, 6.0, "   ")


async def test_batch_interval_above_one_second_is_refused(backend: Backend) -> None:
    with pytest.raises(ValueError):
        await backend.open(batch_interval_s=2.0)


async def test_a_second_store_on_an_open_file_never_closes_a_descriptor_of_it(tmp_path, monkeypatch) -> None:
    """Closing any descriptor of a file drops the process's POSIX locks on it, SQLite's
    included (the console opens the log per request beside its heartbeat's connection):
    the header is checked only while no store of this process has the file open."""
    from acd.metrics import store as store_module

    path = tmp_path / "events.sqlite"
    checked: list[Path] = []
    real = store_module._check_header
    monkeypatch.setattr(store_module, "_check_header", lambda p: (checked.append(p), real(p)))
    first = await EventStore.open(path)
    await first.close()
    first = await EventStore.open(path)
    assert len(checked) == 1  # the file existed: checked once, with nothing open
    second = await EventStore.open(path)
    await second.close()
    third = await EventStore.open(path)
    assert len(checked) == 1  # the first is still open both times
    await third.close()
    await first.close()
    await (await EventStore.open(path)).close()
    assert len(checked) == 2 and not store_module._open_here


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6),
    st.sampled_from([float("nan"), float("inf"), -0.0, b"x", {1, 2}, ("t", 1)]),
)
_KEYS = st.one_of(st.text(max_size=4), st.integers(-20, 20), st.sampled_from([True, None, 1.5]))
_DATA_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)), max_leaves=8)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(_KEYS, _DATA_VALUES, max_size=5))
def test_stored_data_reads_exactly_as_pydantic_writes_it_whatever_the_values(data: dict) -> None:
    import json
    import warnings

    from acd.metrics.store import data_json

    event = Event.trusted("call.started", 1.0, "c1", None, None, data, "id1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns of the values its schema did not expect
        try:
            expected = json.dumps(event.model_dump(mode="json")["data"], separators=(",", ":"), sort_keys=True)
        except Exception as exc:  # what pydantic cannot write, the store cannot either
            with pytest.raises(type(exc)):
                data_json(event)
            return
        assert data_json(event) == expected
