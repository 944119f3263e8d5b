"""Shared test plumbing: when a test fails, say where its logs are kept; a PostgreSQL server."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from acd.lab.postgres import Postgres, PostgresError
from tests.store_backends import StoreBackend, postgres_backend, sqlite_backend


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL for the session (initdb in a temporary folder; tests make
    their own databases with ``create_database``).  Missing in CI is a failure, not a skip."""
    server: Postgres | None = None
    try:
        server = Postgres()
        server.start()
    except PostgresError as exc:
        if server is not None:
            server.close()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed in CI: {exc}")
        pytest.skip(f"no PostgreSQL here: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        places = []
        arguments = getattr(item, "funcargs", {})
        for name in ("lab", "sipp"):
            fixture = arguments.get(name)
            where = getattr(fixture, "log_locations", None)
            if where:
                places.extend(where())
        keep = getattr(arguments.get("lab"), "keep_log", None)
        folder = arguments.get("tmp_path") or getattr(getattr(arguments.get("sipp"), "log_dir", None), "parent", None)
        if keep is not None and isinstance(folder, Path):
            kept = keep(folder)
            if kept is not None:
                places.append(f"Asterisk, as it was at the failure: {kept}")
        if places:
            report.sections.append(("logs kept", "\n".join(places)))


_progress = {"module": "", "started": 0.0}


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """In CI logs, a line per test module with the time since the session began: a run cut
    short (CI's time limit) then shows which module it was in and how long each took."""
    module = nodeid.split("::", 1)[0]
    if module == _progress["module"]:
        return
    now = time.monotonic()
    if not _progress["started"]:
        _progress["started"] = now
    _progress["module"] = module
    print(f"\n[{now - _progress['started']:6.0f} s] {module} ", end="", flush=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-fingerprint", action="store_true", help="re-pin tests/sim/outcome_fingerprint.txt (an intended routing change)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    """An empty database on each back end in turn, for the small stores (accounts, grades)."""

    if request.param == "sqlite":
        return sqlite_backend(tmp_path / "var" / "store.sqlite")
    return postgres_backend(request.getfixturevalue("postgres"))
