"""Fixtures for the metrics tests: a real mosquitto broker, a fresh database path, each store back end."""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from acd.lab.mosquitto import Mosquitto
from acd.lab.postgres import Postgres
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import open_store


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A mosquitto on a free loopback port (temp config, anonymous, no persistence)."""
    with Mosquitto() as running:
        yield running


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "acd.sqlite"


class Backend:
    """One metrics-store back end for a test: where it is, how to open it, what is in it.

    ``kind`` is ``sqlite`` or ``postgresql``; ``location`` is the file or the URL (with
    its password, as the engine would get it from the environment)."""

    def __init__(self, kind: str, location: Path | str, postgres: Postgres | None = None, database: str = "") -> None:
        self.kind = kind
        self.location = location
        self._postgres = postgres
        self._database = database

    async def open(self, **options: Any) -> MetricsStore:
        return await open_store(self.location, **options)

    def rows_on_disk(self, table: str = "events") -> int:
        """Rows committed, counted through a separate connection: what another process would see."""
        if self._postgres is None:
            with sqlite3.connect(self.location) as conn:
                return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return int(self._postgres.psql(f"SELECT count(*) FROM {table}", self._database))


_databases = itertools.count()


def postgres_backend(postgres: Postgres) -> Backend:
    name = f"t{os.getpid()}_{next(_databases)}"
    return Backend("postgresql", postgres.create_database(name), postgres, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The metrics store on each back end in turn, empty (a fresh file or database)."""
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / "acd.sqlite")
    return postgres_backend(request.getfixturevalue("postgres"))
