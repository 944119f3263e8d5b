"""Named accounts for the web console and the API: who, with which role, and what they did.

Accounts are nominative (one person, one account, one role: ``acd.web.access``); the
store is one SQLite file of its own (``web.accounts_database``, owner-only) so the
console, the CLI (``acd user``) and the engine (API tokens, read-only) share it without
touching the event log.

* :mod:`acd.accounts.roles`: the role and permission table (``acd.web.access`` shows it);
* :mod:`acd.accounts.store`: accounts, argon2 password hashes, lock-out, API tokens,
  sessions and the append-only audit log; ``lookup_token`` is the engine's read-only
  token check.

Nothing is imported here: reading the role table must not load argon2 and SQLite.
"""
