"""The PostgreSQL metrics store on a real server: reports equal SQLite's, ``acd store migrate``,
monthly partitions, migrations, a server that goes away, and URLs that never show a password.

The shared checks of both back ends are in ``test_store.py``; these are PostgreSQL's own.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from acd.base.events import Event
from acd.cli import main
from acd.lab.postgres import Postgres
from acd.metrics.store import EventStore, MissingDatabaseError, NewerSchemaError, StoreError
from acd.metrics.store_postgres import PG_MIGRATIONS, PostgresEventStore
from acd.metrics.store_url import StoreUrlError, open_store, parse_store_url, redact, settings_location
from acd.settings import load_settings

from .conftest import postgres_backend

ROUTING = Path(__file__).resolve().parents[2] / "deploy" / "routing.yaml"
RANGE = ("--from", "2026-03-31", "--to", "2026-04-02", "--tz", "America/Santiago", "--routing", str(ROUTING))


def simulate(db: Path, seed: int = 7, hours: int = 30) -> None:
    """A day and a bit of a busy centre (three queues, abandons, overflow) across a month end, into SQLite."""
    code = main([
        "simulate", "--routing", str(ROUTING), "--hours", str(hours), "--start", "2026-03-31T08:00", "--seed", str(seed),
        "--calls-per-hour", "compradores=80", "--calls-per-hour", "proveedores=40", "--calls-per-hour", "general=30",
        "--aht", "180", "--patience", "60", "--db", str(db), "--json",
    ])
    assert code == 0


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def reports(capsys, db: str) -> list[str]:
    """The JSON of several reports over ``db`` (each twice: computed, then from stored cells)."""
    outputs = []
    for extra in (("--interval", "15", "--by", "queue"), ("--interval", "day"), ("--interval", "60", "--by", "skill"), ("--interval", "30", "--queue", "general")):
        for _ in range(2):
            code, out, err = run(capsys, "report", "--db", db, *RANGE, *extra, "--format", "json")
            assert code == 0, err
            outputs.append(out)
    code, out, err = run(capsys, "report", "--db", db, *RANGE, "--interval", "day", "--rebuild", "--format", "json")  # drop_cells
    assert code == 0, err
    outputs.append(out)
    code, out, err = run(capsys, "sla", "--db", db, "--month", "2026-03", "--json")
    assert code == 0, err
    outputs.append(out)
    return outputs


async def add_platform_events(db: Path) -> None:
    """Engine and console lives around the simulated traffic: a clean stop, a crash (heartbeats that
    stop without engine.stopped) and a console that stops, so the SLA's outages are not empty."""
    start = 1774958400.0  # 2026-03-31 09:00 -03
    events = [Event(type="engine.started", ts=start - 3600), Event(type="console.started", ts=start - 3500, data={"period_s": 60.0})]
    events += [Event(type="engine.heartbeat", ts=start + 60.0 * i) for i in range(120)]
    events += [Event(type="console.heartbeat", ts=start + 60.0 * i + 7) for i in range(200)]
    events += [Event(type="engine.started", ts=start + 7200 + 900)]  # crashed after the last heartbeat
    events += [Event(type="engine.stopped", ts=start + 20000), Event(type="engine.started", ts=start + 20600)]
    events += [Event(type="console.stopped", ts=start + 14000)]
    async with await EventStore.open(db) as store:
        for event in events:
            store.append(event)


async def copy_events(source: Path, url: str) -> int:
    """Append every event of ``source`` to the PostgreSQL store through its own write path."""
    async with await EventStore.open(source, create=False) as sqlite:
        events = await sqlite.events()
    async with await PostgresEventStore.open(url) as pg:
        for event in events:
            pg.append(event)
        await pg.flush()
        return await pg.count()


def test_reports_over_postgresql_equal_reports_over_sqlite(capsys, tmp_path: Path, postgres: Postgres) -> None:
    db = tmp_path / "acd.sqlite"
    simulate(db)
    asyncio.run(add_platform_events(db))
    capsys.readouterr()
    backend = postgres_backend(postgres)
    url = backend.location
    assert isinstance(url, str)
    count = asyncio.run(copy_events(db, url))
    assert count > 20000
    over_sqlite, over_pg = reports(capsys, str(db)), reports(capsys, url)
    offered = json.loads(over_sqlite[2])["total"]["offered"]
    assert offered > 3000  # the reports are about something
    sla = json.loads(over_sqlite[-1])
    assert len(sla["outages"]) >= 2 and sla["report_outages"]  # the crash, the stop, the console's stop
    assert over_pg == over_sqlite
    assert backend.rows_on_disk("report_cells") > 100  # the second runs were served from cells stored in PostgreSQL


def test_migrate_copies_a_site_once_and_reports_stay_equal(capsys, tmp_path: Path, postgres: Postgres) -> None:
    db = tmp_path / "acd.sqlite"
    simulate(db, seed=3, hours=6)
    code, _, err = run(capsys, "incident", "add", "--db", str(db), "--from", "2026-03-31 10:00", "--to", "2026-03-31 10:30",
                       "--text", "Corte enlace SIP", "--tz", "America/Santiago")
    assert code == 0, err
    code, _, err = run(capsys, "report", "--db", str(db), *RANGE, "--interval", "day", "--format", "json")  # stores cells
    assert code == 0, err
    url = postgres_backend(postgres).location
    assert isinstance(url, str)
    code, out, err = run(capsys, "store", "migrate", "--from", f"sqlite://{db}", "--to", url, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["copied_events"] == first["source_events"] == first["target_events"] > 1000
    assert first["incidents"] == 1 and first["cells"] > 0 and first["days"] >= 1
    assert ":***@" in first["target"] and postgres.password not in out

    code, out, err = run(capsys, "store", "migrate", "--from", str(db), "--to", url, "--json")  # again: nothing new
    again = json.loads(out)
    assert code == 0 and again["copied_events"] == 0 and again["target_events"] == first["source_events"]

    async def one_more() -> None:
        async with await EventStore.open(db) as store:
            store.append(Event(type="call.queued", ts=1775000000.0, call_id="late", queue="general"))

    asyncio.run(one_more())
    code, out, err = run(capsys, "store", "migrate", "--from", str(db), "--to", url, "--json")
    assert code == 0 and json.loads(out)["copied_events"] == 1
    assert reports(capsys, url) == reports(capsys, str(db))
    code, out, _ = run(capsys, "incident", "list", "--db", url, "--json")
    assert code == 0 and "Corte enlace SIP" in out


def test_migrate_fails_its_count_check_when_events_go_missing(capsys, tmp_path: Path, postgres: Postgres, monkeypatch) -> None:
    db = tmp_path / "acd.sqlite"

    async def fill() -> None:
        async with await EventStore.open(db) as store:
            for i in range(50):
                store.append(Event(type="call.queued", ts=1775000000.0 + i, call_id=f"c{i}", queue="general"))

    asyncio.run(fill())
    real = PostgresEventStore.insert_rows

    async def lossy(self, rows):  # a copy that silently loses one event
        return await real(self, rows[1:])

    monkeypatch.setattr(PostgresEventStore, "insert_rows", lossy)
    url = postgres_backend(postgres).location
    code, _, err = run(capsys, "store", "migrate", "--from", str(db), "--to", str(url))
    assert code == 1 and "count check failed" in err and "49 of 50" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("source", "target", "fragment"),
    [("postgresql://a@h/d", "postgresql://a@h/d", "--from must be an SQLite store"), ("x.sqlite", "sqlite:///y.sqlite", "--to must be a PostgreSQL store")],
)
def test_migrate_only_goes_from_sqlite_to_postgresql(capsys, source: str, target: str, fragment: str) -> None:
    code, _, err = run(capsys, "store", "migrate", "--from", source, "--to", target)
    assert code == 1 and fragment in err


async def test_events_are_partitioned_by_month(postgres: Postgres) -> None:
    backend = postgres_backend(postgres)
    months = [1767225600.0 + 5, 1769904000.0 + 5, 1772323200.0 - 0.5]  # 2026-01-01, 2026-02-01, 2026-02-28 23:59:59.5
    async with await backend.open() as store:
        for i, ts in enumerate(months):
            store.append(Event(type="call.queued", ts=ts, call_id=f"c{i}"))
        await store.flush()
        assert await store.partitions() == ["events_y2026m01", "events_y2026m02"]  # type: ignore[attr-defined]
        store.append(Event(type="call.queued", ts=1772323200.0, call_id="march"))  # the first instant of March
        assert [e.call_id for e in await store.events()] == ["c0", "c1", "c2", "march"]
        assert (await store.partitions())[-1] == "events_y2026m03"  # type: ignore[attr-defined]
    where = postgres.psql("SELECT tableoid::regclass, count(*) FROM events GROUP BY 1 ORDER BY 1", backend._database)
    assert where.splitlines() == ["events_y2026m01|1", "events_y2026m02|2", "events_y2026m03|1"]


async def test_migrations_are_numbered_like_sqlites_and_run_once_under_concurrent_opens(postgres: Postgres) -> None:
    backend = postgres_backend(postgres)
    stores = await asyncio.gather(*(backend.open() for _ in range(4)))
    for store in stores:
        assert await store.schema_version() == len(PG_MIGRATIONS) == 4
        await store.close()
    assert postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version", backend._database) == "1,2,3,4"


async def test_foreign_newer_and_missing_databases_are_refused_untouched(postgres: Postgres) -> None:
    empty = postgres_backend(postgres)
    with pytest.raises(MissingDatabaseError, match="no acd event log"):
        await empty.open(create=False)
    foreign = postgres_backend(postgres)
    postgres.psql("CREATE TABLE invoices (id int)", foreign._database)
    with pytest.raises(StoreError, match="not an acd event log"):
        await foreign.open()
    assert postgres.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", foreign._database) == "1"
    newer = postgres_backend(postgres)
    await (await newer.open()).close()
    postgres.psql("INSERT INTO schema_version VALUES (99, 0)", newer._database)
    with pytest.raises(NewerSchemaError, match="upgrade acd"):
        await newer.open()


async def test_a_server_that_goes_away_keeps_the_events_until_it_is_back() -> None:
    with Postgres() as server:
        url = server.create_database("site")
        store = await PostgresEventStore.open(url, batch_interval_s=1.0)
        try:
            store.append(Event(type="call.queued", ts=1775000000.0, call_id="before"))
            await store.flush()
            server.stop()
            store.append(Event(type="call.queued", ts=1775000001.0, call_id="during"))
            with pytest.raises(Exception):  # noqa: B017 - connection refused or reset, as asyncpg words it
                await store.flush()
            assert store.pending == 1 and store.flush_errors == 1 and server.password not in (store.last_error or "")
            server.start()
            deadline = asyncio.get_running_loop().time() + 20
            while store.pending:  # the pool replaces its broken connections; a retry or two
                assert asyncio.get_running_loop().time() < deadline, store.last_error
                try:
                    await store.flush()
                except Exception:
                    await asyncio.sleep(0.2)
            assert [e.call_id for e in await store.events()] == ["before", "during"]
        finally:
            await store.close()


# --- URLs and secrets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://acd:s3cr%40t@db:5432/acd", "postgresql://acd:***@db:5432/acd"),
        ("postgresql://acd@db/acd?sslmode=require&password=zz", "postgresql://acd@db/acd?sslmode=require&password=***"),
        ("postgresql://acd@db/acd", "postgresql://acd@db/acd"),
        ("sqlite:///var/lib/acd/acd.sqlite", "sqlite:///var/lib/acd/acd.sqlite"),
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_urls_pick_the_back_end_and_resolve_relative_files(tmp_path: Path) -> None:
    assert parse_store_url("sqlite:///abs/acd.sqlite").path == Path("/abs/acd.sqlite")
    assert parse_store_url("sqlite:var/acd.sqlite", base=lambda p: tmp_path / p).path == tmp_path / "var/acd.sqlite"
    assert parse_store_url(str(tmp_path / "plain.sqlite")).kind == "sqlite"
    location = parse_store_url("postgresql://acd@db/acd", password="p@ss:word")
    assert location.kind == "postgresql" and location.dsn == "postgresql://acd:p%40ss%3Aword@db/acd"
    assert "p%40ss" not in repr(location) and str(location) == "postgresql://acd:***@db/acd"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u:pw@h/d", "unknown store URL scheme"),
        ("postgresql://u:pw@h", "name one database"),
        ("postgresql://u:pw@h:70000/d", "bad store URL"),
        ("postgresql:///d", "no host"),
        ("sqlite://host/x.sqlite", "names a file on this machine"),
        ("  ", "empty store URL"),
    ],
)
def test_bad_urls_are_one_clear_line_without_the_password(url: str, fragment: str) -> None:
    with pytest.raises(StoreUrlError) as caught:
        parse_store_url(url)
    assert fragment in str(caught.value) and "pw@" not in str(caught.value) and "\n" not in str(caught.value)


def test_the_settings_take_the_url_and_password_from_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "acd.yaml"
    file.write_text("metrics:\n  database: var/acd.sqlite\n", encoding="utf-8")
    settings = load_settings(file, environ={"ACD_STORE_URL": "postgresql://acd@db/acd", "ACD_STORE_PASSWORD": "hunter2"})
    location = settings_location(settings)
    assert location.dsn == "postgresql://acd:hunter2@db/acd"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(location)
    default = settings_location(load_settings(file, environ={}))
    assert default.kind == "sqlite" and default.path == tmp_path / "var/acd.sqlite"


def test_a_wrong_password_is_one_line_that_does_not_show_it(capsys, postgres: Postgres) -> None:
    wrong = postgres.url().replace(postgres.password, "Wr0ngSecret")
    code, _, err = run(capsys, "report", "--db", wrong, *RANGE)
    assert code == 1 and "password authentication failed" in err and "Wr0ngSecret" not in err and len(err.strip().splitlines()) == 1


async def test_open_store_gives_each_back_end_behind_one_interface(tmp_path: Path, postgres: Postgres) -> None:
    from acd.metrics.store_interface import MetricsStore

    for location in (tmp_path / "a.sqlite", postgres_backend(postgres).location):
        store = await open_store(location)
        try:
            assert isinstance(store, MetricsStore)
        finally:
            await store.close()


async def test_a_url_listing_several_hosts_reaches_the_one_that_answers(postgres: Postgres) -> None:
    """Patroni without a proxy: ``host1,host2`` with ``target_session_attrs=read-write``; both drivers
    (the event log's asyncpg, the accounts' psycopg) try the hosts in order and use the primary."""
    from acd.accounts.store import AccountStore
    from acd.lab.mosquitto import free_port

    url = str(postgres_backend(postgres).location)
    down = f"127.0.0.1:{free_port()}"
    several = url.replace("@127.0.0.1:", f"@{down},127.0.0.1:") + "?target_session_attrs=read-write"
    assert parse_store_url(several).kind == "postgresql"
    async with await open_store(several) as store:
        store.append(Event(type="call.queued", ts=1775000000.0, call_id="c1", queue="general"))
        assert await store.count() == 1
    accounts = AccountStore(several)
    accounts.add("ana", "Ana Pérez", "admin", "correct-horse-1")
    assert AccountStore(url, create=False).get("ana").role == "admin"
    with pytest.raises(StoreUrlError, match="not a port number"):
        parse_store_url(url.replace("@127.0.0.1:", "@db1:99999,127.0.0.1:"))
