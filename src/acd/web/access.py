"""Who may see and do what in the console and the API: roles, permissions, the viewer.

One table, read by every page, API route and test, so a role's reach is decided here
and nowhere else.  A role is a named set of permissions; a person has exactly one role
(accounts are nominative: one person, one account, one role).  Permissions name what a
person does, not which page they are on, so a new page picks existing permissions.

``Viewer`` is who is looking: set on the request by the session layer (a logged-in
account, or an API token's account with the token's scopes), read by pages through
``require(permission)``.  Masking of personal data follows ``may_see_personal_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ROLES: Final = ("admin", "supervisor", "viewer", "qa", "agent")

#: permission -> what it allows (shown on the admin page and in `acd user --help`)
PERMISSIONS: Final[dict[str, str]] = {
    "view_live": "wallboard and queue figures",
    "view_calls": "waiting and connected calls (numbers masked unless view_personal_data)",
    "view_personal_data": "caller numbers and data captured in the IVR, unmasked (every access audited)",
    "view_reports": "interval/day/month reports, survey results, exports",
    "view_sla": "contract compliance and penalties",
    "view_incidents": "the incident log",
    "edit_incidents": "add, edit and close incidents",
    "act_on_calls": "change a waiting call's priority or move it to another queue",
    "act_on_agents": "log agents in or out, pause and unpause them",
    "act_as_agent": "log oneself in or out, pause, code one's own calls",
    "review_recordings": "listen to recordings and score calls",
    "manage_users": "add, change and disable accounts and tokens",
    "view_audit": "the audit log",
}

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(PERMISSIONS),
    "supervisor": frozenset(
        {"view_live", "view_calls", "view_personal_data", "view_reports", "view_sla", "view_incidents",
         "edit_incidents", "act_on_calls", "act_on_agents"}
    ),
    "viewer": frozenset({"view_live", "view_calls", "view_reports", "view_sla", "view_incidents"}),
    "qa": frozenset({"view_reports", "review_recordings", "view_calls"}),
    "agent": frozenset({"act_as_agent"}),
}


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


def permissions_of(role: str) -> frozenset[str]:
    if role not in ROLE_PERMISSIONS:
        raise KeyError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return ROLE_PERMISSIONS[role]
