"""The role table: each role reaches exactly what the contract and the issue give it."""

from __future__ import annotations

import pytest

from acd.web.access import PERMISSIONS, ROLES, Viewer, permissions_of


def test_a_client_viewer_reads_figures_but_never_acts_nor_sees_personal_data() -> None:
    viewer = Viewer("cliente", "viewer", "127.0.0.1")
    assert viewer.may("view_reports") and viewer.may("view_sla") and viewer.may("view_incidents")
    assert not any(viewer.may(p) for p in ("act_on_calls", "act_on_agents", "edit_incidents", "manage_users", "view_audit"))
    assert not viewer.may_see_personal_data


def test_a_token_scope_narrows_its_accounts_role_and_never_widens_it() -> None:
    scoped = Viewer("bot", "supervisor", "127.0.0.1", scopes=frozenset({"view_live", "manage_users"}))
    assert scoped.may("view_live")
    assert not scoped.may("view_reports")
    assert not scoped.may("manage_users")  # not a supervisor's permission, whatever the scope says


def test_every_role_is_in_the_table_and_unknown_names_are_refused() -> None:
    assert all(permissions_of(role) <= set(PERMISSIONS) for role in ROLES)
    assert permissions_of("admin") == set(PERMISSIONS)
    with pytest.raises(KeyError):
        permissions_of("root")
    with pytest.raises(KeyError):
        Viewer("x", "admin", "127.0.0.1").may("fly")
