"""The small synchronous stores (accounts, grades) on each back end, for tests.

``StoreBackend.location`` is what a store is opened with (an SQLite file, or a
``postgresql://`` URL with its password, as the settings would give it); ``query`` and
``refuses`` reach the database behind the store's back, as an operator's ``sqlite3`` or
``psql`` shell would.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

from acd.lab.postgres import Postgres, PostgresError

_databases = itertools.count()


class StoreBackend:
    def __init__(self, kind: str, location: Path | str, postgres: Postgres | None = None, database: str = "") -> None:
        self.kind = kind
        self.location = location
        self._postgres = postgres
        self._database = database

    def query(self, sql: str) -> list[tuple[str, ...]]:
        """Rows of ``sql`` as text, read through a connection of its own."""
        if self._postgres is None:
            with sqlite3.connect(self.location) as db:
                return [tuple(str(value) for value in row) for row in db.execute(sql).fetchall()]
        out = self._postgres.psql(sql, self._database)
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def refusal(self, sql: str) -> str:
        """The database's refusal of ``sql`` (a statement that must fail); AssertionError if it ran."""
        if self._postgres is None:
            try:
                with sqlite3.connect(self.location) as db:
                    db.execute(sql)
            except sqlite3.Error as exc:
                return str(exc)
        else:
            try:
                self._postgres.psql(sql, self._database)
            except PostgresError as exc:
                return str(exc)
        raise AssertionError(f"{self.kind} ran {sql!r}")


def sqlite_backend(path: Path) -> StoreBackend:
    return StoreBackend("sqlite", path)


def postgres_backend(postgres: Postgres) -> StoreBackend:
    name = f"s{os.getpid()}_{next(_databases)}"
    return StoreBackend("postgresql", postgres.create_database(name), postgres, name)
