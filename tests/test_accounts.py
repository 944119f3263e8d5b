"""The account store and ``acd user``: hashing, lock-out, tokens, sessions, the append-only audit log.

The store's tests run on both back ends (``store_backend``: an SQLite file, then a real
PostgreSQL database), as ``store.url`` would choose them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from acd.accounts.store import AccountError, AccountStore, LoginRefused, Policy, lookup_token
from acd.lab.postgres import Postgres
from tests.store_backends import StoreBackend

PASSWORD = "correct-horse-1"


@pytest.fixture
def store(store_backend: StoreBackend) -> AccountStore:
    store = AccountStore(store_backend.location, policy=Policy(lockout_failures=3, lockout_s=60, address_failures=5, session_idle_s=10))
    store.add("ana", "Ana Pérez", "supervisor", PASSWORD)
    return store


def test_store_file_is_owner_only_and_passwords_are_argon2id(store: AccountStore, store_backend: StoreBackend) -> None:
    if store.path is not None:
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    [(password_hash,)] = store_backend.query("SELECT password_hash FROM accounts WHERE name = 'ana'")
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


def test_audit_log_refuses_update_and_delete(store: AccountStore, store_backend: StoreBackend) -> None:
    refused = ["UPDATE audit SET who = 'someone else'", "DELETE FROM audit"]
    if store_backend.kind == "postgresql":
        refused.append("TRUNCATE audit")
    for sql in refused:
        assert "append-only" in store_backend.refusal(sql)
    assert [e.action for e in store.audit_entries()] == ["user.add"]
    assert store_backend.query("SELECT who, action, target FROM audit") == [("cli", "user.add", "ana")]


def test_the_schema_is_migrated_once_and_recorded(store: AccountStore, store_backend: StoreBackend) -> None:
    assert store.db.version() == 1
    AccountStore(store_backend.location)  # a second opening (another process) applies nothing again
    assert store_backend.query("SELECT component, version FROM acd_schema") == [("accounts", "1")]


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
    assert store.session(session_id) is not None and lookup_token(store.db.location, secret) is not None
    store.set_disabled("ana", True)
    assert store.session(session_id) is None
    assert lookup_token(store.db.location, secret) is None
    with pytest.raises(LoginRefused):
        store.authenticate("ana", PASSWORD, "10.0.0.1")


def test_session_expires_when_idle_and_is_kept_alive_by_use(store: AccountStore) -> None:
    session_id, csrf = store.open_session("ana", "10.0.0.1")
    now = store.session(session_id).seen  # type: ignore[union-attr]
    assert store.session(session_id, now=now + 8) is not None  # used: the idle clock restarts
    assert store.session(session_id, now=now + 16) is not None
    assert store.session(session_id, now=now + 27) is None
    assert store.session(session_id, now=now + 28) is None  # gone, not merely refused once


def test_tokens_are_stored_hashed_scoped_within_the_role_and_revocable(store: AccountStore, store_backend: StoreBackend) -> None:
    token, secret = store.issue_token("ana", "wallboard", ["view_live", "view_calls"])
    rows = store_backend.query("SELECT * FROM tokens")
    assert len(rows) == 1 and secret not in str(rows)
    second, _ = store.issue_token("ana", "second", ["view_live"])
    assert second.id > token.id
    account, scopes = lookup_token(store_backend.location, secret)  # type: ignore[misc]
    assert account.name == "ana" and scopes == {"view_live", "view_calls"}
    with pytest.raises(AccountError, match="beyond role"):
        store.issue_token("ana", "too much", ["manage_users"])
    store.revoke_token(token.id)
    assert lookup_token(store.db.location, secret) is None
    assert lookup_token(store.db.location, "acd_" + "x" * 43) is None


def test_bad_names_roles_and_passwords_are_refused(store: AccountStore) -> None:
    with pytest.raises(AccountError, match="invalid account name"):
        store.add("Ana Maria", "A", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="unknown role"):
        store.add("bob", "Bob", "root", PASSWORD)
    with pytest.raises(AccountError, match="too short"):
        store.add("bob", "Bob", "viewer", "short")
    with pytest.raises(AccountError, match="already exists"):
        store.add("ana", "Ana", "viewer", PASSWORD)


def _acd(tmp_path: Path, *args: str, password: str | None = None, store_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``acd user`` on ``tmp_path/a.sqlite``, or on the PostgreSQL of ``store_url`` (given as a site
    would: in ACD_STORE_URL, never on the command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    if password is not None:
        env["ACD_USER_PASSWORD"] = password
    where = ["--database", str(tmp_path / "a.sqlite")]
    if store_url is not None:
        env["ACD_STORE_URL"] = store_url
        where = []
    return subprocess.run([sys.executable, "-m", "acd", "user", *where, *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, cwd=tmp_path, timeout=60)


def test_cli_user_on_the_shared_postgresql_of_store_url(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database(f"cli{os.getpid()}")
    added = _acd(tmp_path, "add", "ana", "--full-name", "Ana Pérez", "--role", "admin", password=PASSWORD, store_url=url)
    assert added.returncode == 0, added.stderr
    assert _acd(tmp_path, "disable", "ana", store_url=url).returncode == 0
    listed = _acd(tmp_path, "list", store_url=url)
    assert "ana" in listed.stdout and "disabled" in listed.stdout and postgres.password not in listed.stdout + listed.stderr
    assert not (tmp_path / "var").exists()  # nothing went to a local file
    store = AccountStore(url, create=False)
    assert [e.action for e in reversed(store.audit_entries())] == ["user.add", "user.disable"]
    wrong = _acd(tmp_path, "list", store_url=url.replace(postgres.password, "wrong-password"))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr and "wrong-password" not in wrong.stderr, wrong.stderr


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


def test_parallel_wrong_passwords_each_count_toward_the_lock_out(store: AccountStore) -> None:
    """Guesses sent at once (several console workers, several consoles on one PostgreSQL) are all counted."""
    from concurrent.futures import ThreadPoolExecutor

    def guess(n: int) -> str:
        try:
            store.authenticate("ana", f"wrong-password-{n}", f"10.0.1.{n}")
        except LoginRefused as refused:
            return refused.reason
        return "in"

    with ThreadPoolExecutor(max_workers=3) as pool:
        reasons = list(pool.map(guess, range(3)))
    assert reasons == ["bad"] * 3
    assert store.get("ana").locked_until > 0  # three failures (the policy's limit) lock the account
