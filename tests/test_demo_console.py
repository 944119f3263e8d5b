"""``make demo``'s console helpers without the lab (the lab test runs the whole demo)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from acd.accounts.store import AccountStore, LoginRefused
from acd.lab.demo import keep_seconds
from acd.lab.demo_console import DemoConsoleError, demo_logins, demo_password, port_or_free


def test_logins_are_a_supervisor_and_a_client_viewer_with_their_own_random_passwords(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite"
    logins = demo_logins(path, None)
    assert [(login.name, login.role) for login in logins] == [("supervisor", "supervisor"), ("cliente", "viewer")]
    assert logins[0].password != logins[1].password and min(len(login.password) for login in logins) >= 10
    store = AccountStore(path, create=False)
    for login in logins:
        assert store.authenticate(login.name, login.password, "127.0.0.1").role == login.role
    with pytest.raises(LoginRefused):
        store.authenticate("cliente", logins[0].password, "127.0.0.1")
    assert demo_logins(tmp_path / "other.sqlite", None)[0].password != logins[0].password  # fresh every run


def test_a_given_password_is_used_for_both_and_checked() -> None:
    assert demo_password({}) is None
    assert demo_password({"ACD_DEMO_PASSWORD": "presentacion-2026"}) == "presentacion-2026"
    with pytest.raises(DemoConsoleError, match="at least 10"):
        demo_password({"ACD_DEMO_PASSWORD": "corta"})


def test_a_busy_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = port_or_free("127.0.0.1", taken)
        assert other != taken and other > 0
    assert port_or_free("127.0.0.1", other) == other  # free again: kept


def test_keep_seconds_reads_the_variable_or_says_what_is_wrong() -> None:
    assert keep_seconds({}) is None
    assert keep_seconds({"ACD_DEMO_KEEP_S": "90"}) == 90.0
    for bad in ("pronto", "-1"):
        with pytest.raises(SystemExit, match="ACD_DEMO_KEEP_S"):
            keep_seconds({"ACD_DEMO_KEEP_S": bad})
