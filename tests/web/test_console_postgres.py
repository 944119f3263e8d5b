"""The console with its accounts, sessions and audit log in PostgreSQL (``store.url``).

The same browser tests as ``test_console_browser`` (imported, so they run here a second
time) against an ``acd web`` whose ``ACD_STORE_URL`` names a real PostgreSQL database:
logging in, lock-out, CSRF and the audit page all go through the shared store, and no
account file is written.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from acd.lab.postgres import Postgres
from tests.web.conftest import Console
from tests.web.test_console_browser import (  # noqa: F401 - collected here too, on PostgreSQL
    test_audit_shows_logins_and_failed_logins,
    test_lock_out_after_repeated_failures_even_with_the_right_password,
    test_post_without_csrf_token_is_refused,
    test_viewer_cannot_act_on_admin_pages_even_with_a_valid_form_token,
)


@pytest.fixture(scope="module")
def console(start_console: Callable[..., Console], postgres: Postgres) -> Console:
    return start_console(store_url=postgres.create_database(f"web{os.getpid()}"))


def test_the_console_keeps_no_account_file_and_audits_into_postgresql(page: Any, console: Console, login_as: Any, postgres: Postgres) -> None:
    login_as(page, console, "admin")
    assert isinstance(console.database, str) and console.database.startswith("postgresql://")
    folder = console.log.parent
    assert not (folder / "accounts.sqlite").exists()
    database = console.database.rsplit("/", 1)[1]
    logins = postgres.psql("SELECT count(*) FROM audit WHERE action = 'login' AND who = 'admin1'", database)
    assert int(logins) >= 1
    assert postgres.password not in console.log.read_text()
