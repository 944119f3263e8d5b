"""The role and permission table: which role may do what (read through ``acd.web.access``).

It lives here, below both the console (``acd.web``) and the account store, because the
store checks roles and token scopes against it and the console reads it: neither package
imports the other's upper layer.  ``acd.web.access`` re-exports every name, with the
``Viewer`` that applies them; see its docstring for how a role's reach is decided.
"""

from __future__ import annotations

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
    "monitor_calls": "listen, whisper or barge on an agent's live call from the supervisor's phone (every use audited)",
    "act_as_agent": "log oneself in or out, pause, code one's own calls",
    "listen_recordings": "search and play call recordings in the browser (every play audited)",
    "download_recordings": "download call recordings (every download audited)",
    "review_recordings": "grade calls against the quality forms (every grade and correction audited)",
    "view_quality": "quality scores per agent and month, calibration, the quality bonus compliance",
    "manage_users": "add, change and disable accounts and tokens",
    "view_audit": "the audit log",
}

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(PERMISSIONS),
    "supervisor": frozenset(
        {"view_live", "view_calls", "view_personal_data", "view_reports", "view_sla", "view_incidents",
         "edit_incidents", "act_on_calls", "act_on_agents", "monitor_calls", "listen_recordings", "download_recordings", "view_quality"}
    ),
    # the client's own staff: the contract's online access to recordings, without downloads
    "viewer": frozenset({"view_live", "view_calls", "view_reports", "view_sla", "view_incidents", "listen_recordings", "view_quality"}),
    "qa": frozenset({"view_reports", "review_recordings", "view_calls", "listen_recordings", "download_recordings", "view_quality"}),
    "agent": frozenset({"act_as_agent"}),
}


def permissions_of(role: str) -> frozenset[str]:
    if role not in ROLE_PERMISSIONS:
        raise KeyError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return ROLE_PERMISSIONS[role]
