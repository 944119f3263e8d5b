"""The account store: accounts, passwords, lock-out, API tokens, sessions, audit log.

One SQLite file (``web.accounts_database``), or the shared PostgreSQL when ``store.url``
names one (``acd.metrics.store_sync``: the same queries, migrations per back end),
written by ``acd web`` and ``acd user``, read by the engine (tokens).  Why each choice:

* passwords are hashed with argon2id (memory-hard: a stolen file costs an attacker
  memory per guess, not just CPU); an unknown name is checked against a dummy hash so the
  answer takes as long as for a real account;
* lock-out counts failures per account (``lockout_failures`` in a row lock it for
  ``lockout_s``) and per address (``address_failures`` within ``lockout_s`` block the
  address), so guessing one password slowly or many accounts quickly both stop;
* API tokens and session ids are random 256-bit values kept only as SHA-256 digests: the
  file alone never lets anyone in (a fast hash is enough for a value nobody can guess);
* the audit table refuses UPDATE and DELETE in triggers (SQLite's ``RAISE(ABORT)``,
  PostgreSQL's ``acd_refuse_change``, which refuses TRUNCATE too), so no code path (nor a
  careless ``sqlite3``/``psql`` shell) can rewrite who did what.

Every connection is short-lived (one per operation): the web server's threads, the CLI
and the engine may use the store at once; on SQLite, WAL and a busy timeout keep them out
of each other's way.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from acd.accounts.schema import MIGRATIONS
from acd.metrics.store_sync import SyncDatabase, Transaction, errors, location_of, shared_location
from acd.metrics.store_url import POSTGRESQL, StoreLocation
from acd.accounts.agent_links import AgentLinks
from acd.accounts.roles import PERMISSIONS, ROLES, permissions_of

if TYPE_CHECKING:
    from acd.settings import Settings

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{1,63}"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "acd_"
ALL_SCOPES = "*"

class AccountError(Exception):
    """A request the store refuses (bad name, unknown account, weak password...): one line for the user.

    The message is English (the command line's language); ``code`` and ``values`` say the
    same for a reader with its own words: the console shows it in the page's language
    (``acd.web.account_errors``), so a Spanish page never shows an English refusal.
    """

    def __init__(self, message: str, code: str = "", **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


class LoginRefused(Exception):
    """A login that failed; ``reason`` is ``bad`` (wrong name or password, or disabled), ``locked`` or ``blocked`` (address)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Account:
    name: str
    full_name: str
    role: str
    disabled: bool
    locked_until: float
    created: float


@dataclass(frozen=True)
class Token:
    id: int
    account: str
    label: str
    scopes: frozenset[str] | None  # None: the account's role, whole
    created: float
    revoked: float | None


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str
    created: float
    seen: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    who: str
    action: str
    target: str
    address: str
    detail: str


@dataclass(frozen=True)
class Policy:
    """Lock-out and session limits (from ``web:`` settings)."""

    lockout_failures: int = 5
    lockout_s: float = 900.0
    address_failures: int = 20
    session_idle_s: float = 900.0
    session_max_s: float = 12 * 3600.0


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name or ""):
        raise AccountError(
            f"invalid account name {name!r}: 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
            "name_invalid", name=name,
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters", "password_short", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters", "password_long", max=MAX_PASSWORD)
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", "role_unknown", role=role, roles=", ".join(ROLES))
    return role


def check_scopes(role: str, scopes: Iterable[str] | None) -> frozenset[str] | None:
    """Scopes narrow a role; a scope the role lacks is refused rather than silently dropped."""
    if scopes is None:
        return None
    wanted = frozenset(scopes)
    unknown = sorted(wanted - set(PERMISSIONS))
    if unknown:
        raise AccountError(f"unknown scope {unknown[0]!r}; scopes: {', '.join(PERMISSIONS)}", "scope_unknown", scope=unknown[0])
    beyond = sorted(wanted - permissions_of(role))
    if beyond:
        raise AccountError(f"scope {beyond[0]!r} is beyond role {role!r}", "scope_beyond", scope=beyond[0], role=role)
    if not wanted:
        raise AccountError("at least one scope (or none given: the role's whole reach)", "scope_none")
    return wanted


def _clean(text: str, limit: int = 200) -> str:
    """One line of bounded text for the audit log (a typed name may be anything)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


class AccountStore(AgentLinks):
    """The store at ``path``; created (owner-only) on first use unless ``create`` is false."""

    def __init__(
        self, path: Path | str | StoreLocation, *, policy: Policy | None = None, private: bool = True, create: bool = True
    ) -> None:
        self.db = SyncDatabase(location_of(path), MIGRATIONS, private=private)
        self.path = self.db.location.path  # the SQLite file; None on PostgreSQL
        self.policy = policy or Policy()
        self.private = private
        self._hasher = PasswordHasher()
        self._dummy_hash: str | None = None
        if create:
            self.db.create()
        elif not self.db.exists() or (self.db.kind == POSTGRESQL and self.db.version() == 0):
            raise AccountError(f"no account store at {self.db} (create one with `acd user add`)", "store_missing", path=str(self.db))

    @classmethod
    def from_settings(cls, settings: "Settings", *, create: bool = True) -> "AccountStore":
        """The store of the settings: the shared PostgreSQL of ``store.url`` if it names one, else the
        SQLite file ``web.accounts_database``; with the ``web:`` lock-out and session limits."""
        web = settings.web
        policy = Policy(web.lockout_failures, web.lockout_s, web.address_failures, web.session_idle_s, web.session_max_s)
        return cls(shared_location(settings, web.accounts_database), policy=policy, private=settings.files.private, create=create)

    def _connect(self) -> AbstractContextManager[Transaction]:
        return self.db.transaction()

    # ------------------------------------------------------------------ audit
    def audit(self, who: str, action: str, target: str = "", address: str = "", detail: str = "", *, db: Transaction | None = None) -> None:
        row = (time.time(), _clean(who, 64), _clean(action, 64), _clean(target), _clean(address, 64), _clean(detail, 1000))
        sql = "INSERT INTO audit (at, who, action, target, address, detail) VALUES (?, ?, ?, ?, ?, ?)"
        if db is not None:
            db.execute(sql, row)
            return
        with self._connect() as own:
            own.execute(sql, row)

    def audit_entries(self, *, limit: int = 100, before: int | None = None, who: str | None = None, action: str | None = None) -> list[AuditEntry]:
        where, args = [], []
        if before is not None:
            where.append("id < ?")
            args.append(before)
        if who:
            where.append("who = ?")
            args.append(who)
        if action:
            where.append("action = ?")
            args.append(action)
        sql = "SELECT id, at, who, action, target, address, detail FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        with self._connect() as db:
            return [AuditEntry(*row) for row in db.execute(sql, (*args, max(1, min(limit, 1000))))]

    # ------------------------------------------------------------------ accounts
    def add(self, name: str, full_name: str, role: str, password: str, *, by: str = "cli", address: str = "") -> Account:
        check_name(name)
        check_role(role)
        check_password(password)
        full_name = full_name.strip()
        if not full_name or len(full_name) > 200 or not full_name.isprintable():
            raise AccountError("full name required: one line of at most 200 characters (accounts are nominative)", "full_name_required")
        now = time.time()
        password_hash = self._hasher.hash(password)
        with self._connect() as db:
            if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"account {name!r} already exists", "account_exists", name=name)
            db.execute(
                "INSERT INTO accounts (name, full_name, role, password_hash, created, changed) VALUES (?, ?, ?, ?, ?, ?)",
                (name, full_name, role, password_hash, now, now),
            )
            self.audit(by, "user.add", name, address, f"role={role}", db=db)
        return self.get(name)

    def get(self, name: str) -> Account:
        with self._connect() as db:
            row = db.execute("SELECT name, full_name, role, disabled, locked_until, created FROM accounts WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise AccountError(f"no account {name!r}", "account_unknown", name=name)
        return Account(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def accounts(self) -> list[Account]:
        with self._connect() as db:
            rows = db.execute("SELECT name, full_name, role, disabled, locked_until, created FROM accounts ORDER BY name").fetchall()
        return [Account(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows]

    def set_password(self, name: str, password: str, *, by: str = "cli", address: str = "") -> None:
        check_password(password)
        password_hash = self._hasher.hash(password)
        with self._connect() as db:
            changed = db.execute(
                "UPDATE accounts SET password_hash = ?, failures = 0, locked_until = 0, changed = ? WHERE name = ?",
                (password_hash, time.time(), name),
            ).rowcount
            if not changed:
                raise AccountError(f"no account {name!r}", "account_unknown", name=name)
            db.execute("DELETE FROM sessions WHERE account = ?", (name,))  # a reset password ends every session
            self.audit(by, "user.password", name, address, db=db)

    def set_disabled(self, name: str, disabled: bool, *, by: str = "cli", address: str = "") -> None:
        """Disabling ends the account's sessions at once; its tokens stop working (checked on use)."""
        with self._connect() as db:
            changed = db.execute(
                "UPDATE accounts SET disabled = ?, failures = 0, locked_until = 0, changed = ? WHERE name = ?",
                (int(disabled), time.time(), name),
            ).rowcount
            if not changed:
                raise AccountError(f"no account {name!r}", "account_unknown", name=name)
            if disabled:
                db.execute("DELETE FROM sessions WHERE account = ?", (name,))
            self.audit(by, "user.disable" if disabled else "user.enable", name, address, db=db)

    # ------------------------------------------------------------------ login
    def authenticate(self, name: str, password: str, address: str, *, now: float | None = None) -> Account:
        """The account if ``password`` is right and nothing locks it; else :class:`LoginRefused` (audited)."""
        now = time.time() if now is None else now
        policy = self.policy
        typed = _clean(name, 64)
        refused = None  # raised after the audit line is committed (inside, it would be rolled back)
        with self._connect() as db:
            db.execute("DELETE FROM login_failures WHERE at < ?", (now - policy.lockout_s,))
            recent = db.execute("SELECT COUNT(*) FROM login_failures WHERE address = ?", (address,)).fetchone()[0]
            row = db.execute("SELECT password_hash, disabled, failures, locked_until FROM accounts WHERE name = ?", (name,)).fetchone()
            if recent >= policy.address_failures:
                self.audit(typed, "login.refused", typed, address, "address blocked: too many failed logins", db=db)
                refused = "blocked"
            elif row is not None and row[3] > now:
                self.audit(typed, "login.refused", typed, address, "account locked", db=db)
                refused = "locked"
        if refused is not None:
            raise LoginRefused(refused)
        # The KDF runs outside the write transaction: it takes tens of milliseconds.
        ok = self._verify(row[0] if row is not None else None, password)
        with self._connect() as db:
            if ok and row is not None and not row[1]:
                db.execute("UPDATE accounts SET failures = 0, locked_until = 0 WHERE name = ?", (name,))
                if self._hasher.check_needs_rehash(row[0]):
                    db.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
                self.audit(name, "login", name, address, db=db)
            else:
                db.execute("INSERT INTO login_failures (address, at) VALUES (?, ?)", (address, now))
                why = "unknown account" if row is None else ("account disabled" if row[1] else "wrong password")
                detail = why
                if row is not None and not ok:
                    # Counted in the database, not from the value read before the KDF: parallel
                    # guesses (several web workers, or several consoles on one PostgreSQL) each count.
                    db.execute("UPDATE accounts SET failures = failures + 1 WHERE name = ?", (name,))
                    failures = int(db.execute("SELECT failures FROM accounts WHERE name = ?", (name,)).fetchone()[0])
                    if failures >= policy.lockout_failures:
                        db.execute("UPDATE accounts SET failures = 0, locked_until = ? WHERE name = ?", (now + policy.lockout_s, name))
                        detail = f"{why}; account locked for {policy.lockout_s:.0f} s after {failures} failures"
                self.audit(typed, "login.failed", typed, address, detail, db=db)
        if not ok or row is None or row[1]:
            raise LoginRefused("bad")
        return self.get(name)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            password_hash = self._dummy_hash
            password = password + "\0"  # never equal to the dummy's secret
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # ------------------------------------------------------------------ sessions
    def open_session(self, name: str, address: str) -> tuple[str, str]:
        """A new session for ``name``: (session id for the cookie, CSRF token for its forms)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?", (now - self.policy.session_idle_s, now - self.policy.session_max_s))
            db.execute(
                "INSERT INTO sessions (id_hash, account, csrf, address, created, seen) VALUES (?, ?, ?, ?, ?, ?)",
                (digest(session_id), name, csrf, address, now, now),
            )
        return session_id, csrf

    def session(self, session_id: str, *, now: float | None = None) -> Session | None:
        """The live session for a cookie value (its idle clock restarted), or None if unknown, expired or its account disabled."""
        now = time.time() if now is None else now
        key = digest(session_id)
        with self._connect() as db:
            row = db.execute(
                "SELECT s.csrf, s.created, s.seen, a.name, a.full_name, a.role, a.disabled, a.locked_until, a.created"
                " FROM sessions s JOIN accounts a ON a.name = s.account WHERE s.id_hash = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            csrf, created, seen = row[0], row[1], row[2]
            if row[6] or now - seen > self.policy.session_idle_s or now - created > self.policy.session_max_s:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            db.execute("UPDATE sessions SET seen = ? WHERE id_hash = ?", (now, key))
        return Session(Account(row[3], row[4], row[5], bool(row[6]), row[7], row[8]), csrf, created, now)

    def close_session(self, session_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (digest(session_id),))

    # ------------------------------------------------------------------ API tokens
    def issue_token(self, name: str, label: str, scopes: Iterable[str] | None = None, *, by: str = "cli", address: str = "") -> tuple[Token, str]:
        """A new token for ``name``: (its record, the secret, shown once and never stored)."""
        account = self.get(name)
        wanted = check_scopes(account.role, scopes)
        label = _clean(label.strip() or "token", 100)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        scope_text = ALL_SCOPES if wanted is None else " ".join(sorted(wanted))
        with self._connect() as db:
            token_id = db.insert_id(
                "INSERT INTO tokens (account, label, token_hash, scopes, created) VALUES (?, ?, ?, ?, ?)",
                (name, label, digest(secret), scope_text, now),
            )
            self.audit(by, "token.issue", name, address, f"token #{token_id} {label!r} scopes={scope_text}", db=db)
        return Token(token_id, name, label, wanted, now, None), secret

    def tokens(self, name: str | None = None) -> list[Token]:
        sql = "SELECT id, account, label, scopes, created, revoked FROM tokens"
        args: tuple[str, ...] = ()
        if name is not None:
            sql += " WHERE account = ?"
            args = (name,)
        with self._connect() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [Token(r[0], r[1], r[2], _scopes(r[3]), r[4], r[5]) for r in rows]

    def revoke_token(self, token_id: int, *, by: str = "cli", address: str = "") -> None:
        with self._connect() as db:
            row = db.execute("SELECT account FROM tokens WHERE id = ? AND revoked IS NULL", (token_id,)).fetchone()
            if row is None:
                raise AccountError(f"no live token #{token_id}", "token_unknown", id=token_id)
            db.execute("UPDATE tokens SET revoked = ? WHERE id = ?", (time.time(), token_id))
            self.audit(by, "token.revoke", row[0], address, f"token #{token_id}", db=db)

    def token_account(self, secret: str) -> tuple[Account, frozenset[str] | None] | None:
        """The live, enabled account and scopes behind a token secret, or None."""
        return lookup_token(self.db.location, secret)


def _scopes(text: str) -> frozenset[str] | None:
    return None if text == ALL_SCOPES else frozenset(text.split())


def lookup_token(where: Path | str | StoreLocation, secret: str) -> tuple[Account, frozenset[str] | None] | None:
    """Read-only look-up of a token (the engine uses this: it never writes the store)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    location = location_of(where)
    sql = ("SELECT a.name, a.full_name, a.role, a.disabled, a.locked_until, a.created, t.scopes"
           " FROM tokens t JOIN accounts a ON a.name = t.account WHERE t.token_hash = ? AND t.revoked IS NULL")
    try:
        if location.kind == POSTGRESQL:
            with SyncDatabase(location, MIGRATIONS, busy_timeout_s=2.0).transaction() as db:
                row = db.execute(sql, (digest(secret),)).fetchone()
        else:
            assert location.path is not None
            if not location.path.exists():
                return None
            uri = location.path.resolve().as_uri() + "?mode=ro"
            with closing(sqlite3.connect(uri, uri=True, timeout=2.0)) as conn:
                row = conn.execute(sql, (digest(secret),)).fetchone()
    except errors():
        return None
    if row is None or row[3]:
        return None
    return Account(row[0], row[1], row[2], False, row[4], row[5]), _scopes(row[6])
