"""Who may see and do what in the console and the API: roles, permissions, the viewer.

One table (defined in ``acd.accounts.roles``, below the account store that checks
roles against it; every name is importable from here), read by every page, API route
and test, so a role's reach is decided there and nowhere else.  A role is a named set of
permissions; a person has exactly one role (accounts are nominative: one person, one account, one role).  Permissions name what a
person does, not which page they are on, so a new page picks existing permissions.

``Viewer`` is who is looking: set on the request by the session layer (a logged-in
account, or an API token's account with the token's scopes), read by pages through
``require(permission)``.  Masking of personal data follows ``may_see_personal_data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.accounts.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_of

__all__ = ["PERMISSIONS", "ROLES", "ROLE_PERMISSIONS", "Viewer", "permissions_of"]


@dataclass(frozen=True)
class Viewer:
    """The person (or automation) behind a request, as the session or token layer found them."""

    name: str
    role: str
    address: str
    #: a token's scopes narrow its account's role; None = the role's whole reach
    scopes: frozenset[str] | None = None

    def may(self, permission: str) -> bool:
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r}")
        allowed = permission in ROLE_PERMISSIONS.get(self.role, frozenset())
        return allowed and (self.scopes is None or permission in self.scopes)

    @property
    def may_see_personal_data(self) -> bool:
        return self.may("view_personal_data")
