"""``acd store migrate`` moves the whole site: beside the events, the accounts and their
audit log, the callback requests and the quality grades go from their SQLite files into
the same (real) PostgreSQL, idempotently, with a count check, and work there afterwards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from acd.accounts.store import AccountStore, LoginRefused
from acd.base.events import Event
from acd.cli import main
from acd.features.callbacks import Callback, CallbackStore
from acd.features.quality.forms import load_form
from acd.features.quality.grades import GradeStore
from acd.lab.postgres import Postgres
from acd.metrics.store import EventStore
from tests.store_backends import postgres_backend
from tests.test_quality import FORM

PASSWORD = "correct-horse-1"


def site(tmp_path: Path) -> tuple[Path, Path]:
    """An SQLite site: a metrics store, accounts (token, agent link, audit), callbacks, grades; the settings naming them."""
    async def events() -> None:
        async with await EventStore.open(tmp_path / "acd.sqlite") as store:
            store.append(Event(type="call.queued", ts=1775000000.0, call_id="c9", queue="general"))

    asyncio.run(events())
    accounts = AccountStore(tmp_path / "accounts.sqlite")
    accounts.add("ana", "Ana Pérez", "admin", PASSWORD)
    accounts.add("bea", "Bea Soto", "agent", PASSWORD, by="ana")
    accounts.link_agent("bea", "elena", by="ana")
    accounts.issue_token("ana", "wallboard", ["view_live"])
    accounts.authenticate("ana", PASSWORD, "10.0.0.1")

    async def callbacks() -> None:
        store = await CallbackStore.open(tmp_path / "callbacks.sqlite")
        await store.save(Callback("c1", "general", "56911112222", wait_origin=1774999000.5, requested_at=1774999100.25))
        await store.close()

    asyncio.run(callbacks())
    (tmp_path / "demo.yaml").write_text(FORM)
    form = load_form(tmp_path / "demo.yaml")
    GradeStore(tmp_path / "quality.sqlite").submit(
        form, call_id="c9", call_ts=1775000000.0, agent="elena", queue="general", grader="qa1",
        answers={item.id: "yes" for item in form.items},
    )
    settings = tmp_path / "acd.yaml"
    settings.write_text(
        "web: {accounts_database: accounts.sqlite}\ncallbacks: {database: callbacks.sqlite}\nquality: {database: quality.sqlite}\n"
    )
    return tmp_path / "acd.sqlite", settings


def migrate(capsys: pytest.CaptureFixture[str], db: Path, url: str, settings: Path) -> dict:  # type: ignore[type-arg]
    code = main(["store", "migrate", "--from", str(db), "--to", url, "--settings", str(settings), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def by_table(result: dict) -> dict[str, tuple[int, int, int]]:  # type: ignore[type-arg]
    return {f"{t['component']}.{t['table']}": (t["source_rows"], t["copied_rows"], t["target_rows"]) for t in result["tables"]}


def test_migrate_copies_accounts_audit_callbacks_and_grades_once_and_they_work_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres: Postgres
) -> None:
    db, settings = site(tmp_path)
    backend = postgres_backend(postgres)
    url = str(backend.location)
    first = migrate(capsys, db, url, settings)
    assert first["copied_events"] == 1 and first["skipped"] == []
    assert by_table(first) == {
        "accounts.accounts": (2, 2, 2), "accounts.agent_links": (1, 1, 1), "accounts.tokens": (1, 1, 1),
        "accounts.sessions": (0, 0, 0), "accounts.audit": (5, 5, 5), "callbacks.callbacks": (1, 1, 1), "quality.grades": (1, 1, 1),
    }
    again = migrate(capsys, db, url, settings)  # a second run adds nothing
    assert {name: copied for name, (_, copied, _) in by_table(again).items()} == dict.fromkeys(by_table(first), 0)

    AccountStore(tmp_path / "accounts.sqlite").set_disabled("bea", True, by="ana")  # the site goes on meanwhile
    third = by_table(migrate(capsys, db, url, settings))
    assert third["accounts.audit"] == (6, 1, 6) and third["accounts.accounts"] == (2, 0, 2)

    on_pg = AccountStore(url, create=False)
    assert on_pg.get("bea").disabled  # the change came across
    assert on_pg.authenticate("ana", PASSWORD, "10.0.0.2").name == "ana"  # the password hash works there
    with pytest.raises(LoginRefused):
        on_pg.authenticate("bea", PASSWORD, "10.0.0.2")
    assert on_pg.agent_of("bea") == "elena"
    entries = on_pg.audit_entries()
    assert [e.action for e in entries][:3] == ["login.failed", "login", "user.disable"]
    assert entries[0].id > entries[2].id == 6  # new rows numbered after the copied ones
    assert "append-only" in backend.refusal("DELETE FROM audit")
    assert [g.call_id for g in GradeStore(url, create=False).of_call("c9")] == ["c9"]
    assert "immutable" in backend.refusal("UPDATE grades SET score = '0'")

    async def callbacks() -> list[Callback]:
        store = await CallbackStore.open(url)
        try:
            return await store.open_requests()
        finally:
            await store.close()

    code = main(["store", "info", "--db", url, "--json"])
    info = json.loads(capsys.readouterr().out)
    assert code == 0 and info["other_parts"] == ["accounts v1", "callbacks v1", "quality v1"] and info["events"] == 1

    [callback] = asyncio.run(callbacks())
    assert (callback.call_id, callback.number, callback.wait_origin, callback.requested_at) == ("c1", "56911112222", 1774999000.5, 1774999100.25)


def test_migrate_skips_absent_files_but_refuses_a_named_one_that_is_missing(capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres: Postgres) -> None:
    db, settings = site(tmp_path)
    (tmp_path / "quality.sqlite").unlink()
    url = str(postgres_backend(postgres).location)
    result = migrate(capsys, db, url, settings)
    assert any("quality" in line for line in result["skipped"]) and "quality.grades" not in by_table(result)
    code = main(["store", "migrate", "--from", str(db), "--to", url, "--settings", str(settings), "--quality", str(tmp_path / "nope.sqlite")])
    _, err = capsys.readouterr()
    assert code != 0 and "--quality: no such file" in err and "Traceback" not in err and postgres.password not in err


async def test_the_event_log_opens_in_a_database_where_the_accounts_came_first(postgres: Postgres) -> None:
    """`acd user add` before the engine's first start: the shared database is still acd's, not foreign."""
    from acd.metrics.store_url import open_store

    url = str(postgres_backend(postgres).location)
    AccountStore(url).add("ana", "Ana Pérez", "admin", PASSWORD)
    store = await open_store(url)
    try:
        store.append(Event(type="call.queued", ts=1775000000.0, call_id="c1", queue="general"))
        assert await store.count() == 1
    finally:
        await store.close()
    assert AccountStore(url, create=False).get("ana").role == "admin"
