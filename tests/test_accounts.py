"""The account store and ``acd user``: hashing, lock-out, tokens, sessions, the append-only audit log."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from acd.accounts.store import AccountError, AccountStore, LoginRefused, Policy, lookup_token

PASSWORD = "correct-horse-1"


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "var" / "accounts.sqlite", policy=Policy(lockout_failures=3, lockout_s=60, address_failures=5, session_idle_s=10))
    store.add("ana", "Ana Pérez", "supervisor", PASSWORD)
    return store


def test_store_file_is_owner_only_and_passwords_are_argon2id(store: AccountStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    with sqlite3.connect(store.path) as db:
        (password_hash,) = db.execute("SELECT password_hash FROM accounts WHERE name = 'ana'").fetchone()
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


def test_audit_log_refuses_update_and_delete(store: AccountStore) -> None:
    with sqlite3.connect(store.path) as db:
        for sql in ("UPDATE audit SET who = 'someone else'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)
    assert [e.action for e in store.audit_entries()] == ["user.add"]


def test_account_locks_after_failures_then_unlocks(store: AccountStore) -> None:
    for _ in range(3):
        with pytest.raises(LoginRefused) as refused:
            store.authenticate("ana", "wrong-password", "10.0.0.1")
        assert refused.value.reason == "bad"
    with pytest.raises(LoginRefused) as refused:
        store.authenticate("ana", PASSWORD, "10.0.0.2")
    assert refused.value.reason == "locked"
    assert store.authenticate("ana", PASSWORD, "10.0.0.2", now=store.get("ana").locked_until + 1).name == "ana"
    actions = [e.action for e in store.audit_entries()]
    assert actions.count("login.failed") == 3 and "login.refused" in actions and actions[0] == "login"


def test_address_is_blocked_after_many_failures_on_any_names(store: AccountStore) -> None:
    for n in range(5):
        with pytest.raises(LoginRefused):
            store.authenticate(f"nobody{n}", "x" * 12, "10.9.9.9")
    with pytest.raises(LoginRefused) as refused:
        store.authenticate("ana", PASSWORD, "10.9.9.9")
    assert refused.value.reason == "blocked"
    assert store.authenticate("ana", PASSWORD, "10.0.0.1").name == "ana"


def test_disabled_account_cannot_log_in_and_loses_its_sessions_and_tokens(store: AccountStore) -> None:
    session_id, _ = store.open_session("ana", "10.0.0.1")
    _token, secret = store.issue_token("ana", "wallboard", ["view_live"])
    assert store.session(session_id) is not None and lookup_token(store.path, secret) is not None
    store.set_disabled("ana", True)
    assert store.session(session_id) is None
    assert lookup_token(store.path, secret) is None
    with pytest.raises(LoginRefused):
        store.authenticate("ana", PASSWORD, "10.0.0.1")


def test_session_expires_when_idle_and_is_kept_alive_by_use(store: AccountStore) -> None:
    session_id, csrf = store.open_session("ana", "10.0.0.1")
    now = store.session(session_id).seen  # type: ignore[union-attr]
    assert store.session(session_id, now=now + 8) is not None  # used: the idle clock restarts
    assert store.session(session_id, now=now + 16) is not None
    assert store.session(session_id, now=now + 27) is None
    assert store.session(session_id, now=now + 28) is None  # gone, not merely refused once


def test_tokens_are_stored_hashed_scoped_within_the_role_and_revocable(store: AccountStore) -> None:
    token, secret = store.issue_token("ana", "wallboard", ["view_live", "view_calls"])
    with sqlite3.connect(store.path) as db:
        assert secret not in str(db.execute("SELECT * FROM tokens").fetchall())
    account, scopes = lookup_token(store.path, secret)  # type: ignore[misc]
    assert account.name == "ana" and scopes == {"view_live", "view_calls"}
    with pytest.raises(AccountError, match="beyond role"):
        store.issue_token("ana", "too much", ["manage_users"])
    store.revoke_token(token.id)
    assert lookup_token(store.path, secret) is None
    assert lookup_token(store.path, "acd_" + "x" * 43) is None


def test_bad_names_roles_and_passwords_are_refused(store: AccountStore) -> None:
    with pytest.raises(AccountError, match="invalid account name"):
        store.add("Ana Maria", "A", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="unknown role"):
        store.add("bob", "Bob", "root", PASSWORD)
    with pytest.raises(AccountError, match="too short"):
        store.add("bob", "Bob", "viewer", "short")
    with pytest.raises(AccountError, match="already exists"):
        store.add("ana", "Ana", "viewer", PASSWORD)


def _acd(tmp_path: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    if password is not None:
        env["ACD_USER_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "acd", "user", "--database", str(tmp_path / "a.sqlite"), *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, cwd=tmp_path, timeout=60)


def test_cli_user_add_list_disable_token(tmp_path: Path) -> None:
    added = _acd(tmp_path, "add", "ana", "--full-name", "Ana Pérez", "--role", "admin", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    no_password = _acd(tmp_path, "add", "bob", "--full-name", "Bob", "--role", "viewer")
    assert no_password.returncode == 2 and "ACD_USER_PASSWORD" in no_password.stderr and "Traceback" not in no_password.stderr
    token = _acd(tmp_path, "token", "ana", "--scope", "view_live")
    assert token.returncode == 0 and token.stdout.strip().startswith("acd_")
    assert _acd(tmp_path, "disable", "ana").returncode == 0
    listed = _acd(tmp_path, "list")
    assert "ana" in listed.stdout and "disabled" in listed.stdout
    unknown = _acd(tmp_path, "enable", "nobody")
    assert unknown.returncode == 1 and "no account 'nobody'" in unknown.stderr
    store = AccountStore(tmp_path / "a.sqlite", create=False)
    assert [e.action for e in reversed(store.audit_entries())] == ["user.add", "token.issue", "user.disable"]


def test_an_account_is_linked_to_one_agent_and_an_agent_to_one_account(store: AccountStore) -> None:
    store.add("bea", "Bea Soto", "agent", PASSWORD)
    assert store.agent_of("bea") is None
    store.link_agent("bea", "elena", by="admin")
    assert store.agent_of("bea") == "elena"
    with pytest.raises(AccountError, match="already linked to account 'bea'"):
        store.link_agent("ana", "elena")
    with pytest.raises(AccountError, match="no account 'nadie'"):
        store.link_agent("nadie", "felipe")
    with pytest.raises(AccountError, match="as in the routing file"):
        store.link_agent("bea", "elena; drop")
    store.link_agent("bea", "felipe")
    assert store.agent_of("bea") == "felipe"
    store.link_agent("bea", None)
    assert store.agent_of("bea") is None
    assert [e.detail for e in store.audit_entries(action="user.agent")] == ["agent=-", "agent=felipe", "agent=elena"]


def test_cli_links_an_agent_at_creation_or_later(tmp_path: Path) -> None:
    added = _acd(tmp_path, "add", "bea", "--full-name", "Bea Soto", "--role", "agent", "--agent", "elena", password=PASSWORD)
    assert added.returncode == 0 and "agent elena" in added.stdout, added.stderr
    assert _acd(tmp_path, "agent", "bea", "felipe").returncode == 0
    assert AccountStore(tmp_path / "a.sqlite", create=False).agent_of("bea") == "felipe"
    assert "(agent felipe)" in _acd(tmp_path, "list").stdout
    neither = _acd(tmp_path, "agent", "bea")
    assert neither.returncode == 2 and "give the agent id, or --none" in neither.stderr and "Traceback" not in neither.stderr
    assert _acd(tmp_path, "agent", "bea", "--none").returncode == 0
    assert AccountStore(tmp_path / "a.sqlite", create=False).agent_of("bea") is None
