"""Which routing agent an account is: the link the agent page acts through.

A mixin of :class:`acd.accounts.store.AccountStore` (table ``agent_links``, created with
the store's schema), kept apart so the store module stays about accounts themselves.
One agent per account and one account per agent: two people acting as one agent would
make every audit line ambiguous.  Every change is audited (``user.agent``).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.accounts.store import AccountError
    from acd.metrics.store_sync import Transaction


def _error() -> "type[AccountError]":
    from acd.accounts.store import AccountError  # the store imports this module first

    return AccountError


class AgentLinks:
    def _connect(self) -> AbstractContextManager["Transaction"]:  # the store's
        raise NotImplementedError

    def audit(self, who: str, action: str, target: str = "", address: str = "", detail: str = "", *, db: "Transaction | None" = None) -> None:
        raise NotImplementedError

    def link_agent(self, name: str, agent_id: str | None, *, by: str = "cli", address: str = "") -> None:
        """The routing file's agent this account is (role agent: the agent page acts for it only); None unlinks.

        One agent per account and one account per agent: two people acting as one agent
        would make every audit line ambiguous."""
        if agent_id is not None and not re.fullmatch(r"\w[\w.\-]{0,127}", agent_id):
            raise _error()(f"agent id {agent_id!r}: letters, digits, '_', '-' or '.' as in the routing file")
        with self._connect() as db:
            if not db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise _error()(f"no account {name!r}")
            if agent_id is None:
                db.execute("DELETE FROM agent_links WHERE account = ?", (name,))
            else:
                other = db.execute("SELECT account FROM agent_links WHERE agent_id = ? AND account != ?", (agent_id, name)).fetchone()
                if other:
                    raise _error()(f"agent {agent_id!r} is already linked to account {other[0]!r}")
                db.execute("INSERT INTO agent_links (account, agent_id) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET agent_id = excluded.agent_id", (name, agent_id))
            self.audit(by, "user.agent", name, address, f"agent={agent_id or '-'}", db=db)

    def agent_of(self, name: str) -> str | None:
        """The agent id linked to account ``name``, or None."""
        with self._connect() as db:
            row = db.execute("SELECT agent_id FROM agent_links WHERE account = ?", (name,)).fetchone()
        return row[0] if row else None
