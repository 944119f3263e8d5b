"""``acd user``: named accounts of the web console and the API.

Examples::

    acd user add ana --full-name "Ana Pérez" --role supervisor     # asks the password twice
    ACD_USER_PASSWORD=... acd user add bot --full-name "Informes nocturnos" --role viewer
    acd user passwd ana
    acd user disable ana          # ends her sessions at once; her tokens stop working
    acd user enable ana
    acd user list [--json]
    acd user token ana --scope view_live --scope view_calls --label wallboard
    acd user tokens [ana]
    acd user revoke 3

Passwords come from a prompt or ``ACD_USER_PASSWORD``, never from the command line (it
shows in ``ps`` and in shell history).  A token's secret is printed once and only its
digest is kept.  Every change is in the audit log, signed by the shell's user name.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from acd.web.access import PERMISSIONS, ROLES

EXIT_REFUSED = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "user", help="web console and API accounts: add, passwd, disable, enable, list, token",
        description="Named accounts (one person, one account, one role). Roles: " + ", ".join(ROLES) + ".",
    )
    parser.add_argument("--settings", "-c", metavar="FILE", help="settings file (default: acd.yaml if present)")
    parser.add_argument("--database", metavar="FILE|URL", help="account store: an SQLite file or a postgresql:// URL (default: store.url if PostgreSQL, else web.accounts_database)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="create an account (password from a prompt or ACD_USER_PASSWORD)")
    add.add_argument("name", help="login name: lower-case letters, digits, '.', '_', '-'")
    add.add_argument("--full-name", required=True, help="the person's name (accounts are nominative)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--agent", metavar="ID", help="the routing file's agent this person is (role agent: their agent page)")
    add.set_defaults(handler=_handle, run=_add)
    agent = actions.add_parser("agent", help="link an account to a routing agent id (or unlink with --none)")
    agent.add_argument("name")
    agent.add_argument("agent_id", nargs="?", metavar="ID")
    agent.add_argument("--none", action="store_true", help="remove the link")
    agent.set_defaults(handler=_handle, run=_agent)
    for action, helptext, run in (("passwd", "set a new password (ends the account's sessions)", _passwd),
                                  ("disable", "disable an account (ends its sessions, stops its tokens)", _disable),
                                  ("enable", "enable a disabled account", _enable)):
        sub = actions.add_parser(action, help=helptext)
        sub.add_argument("name")
        sub.set_defaults(handler=_handle, run=run)
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_handle, run=_list)
    token = actions.add_parser("token", help="issue an API token for an account (printed once)")
    token.add_argument("name")
    token.add_argument("--scope", action="append", choices=sorted(PERMISSIONS), metavar="PERMISSION",
                       help="narrow the token to these permissions (repeat; default: the role's whole reach): " + ", ".join(PERMISSIONS))
    token.add_argument("--label", default="token", help="what the token is for (shown in lists)")
    token.set_defaults(handler=_handle, run=_token)
    tokens = actions.add_parser("tokens", help="list tokens (never their secrets)")
    tokens.add_argument("name", nargs="?")
    tokens.set_defaults(handler=_handle, run=_tokens)
    revoke = actions.add_parser("revoke", help="revoke a token by its number")
    revoke.add_argument("token_id", type=int, metavar="ID")
    revoke.set_defaults(handler=_handle, run=_revoke)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), EXIT_USAGE)[1])


class _Stop(Exception):
    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


def _handle(args: argparse.Namespace) -> int:
    from acd.accounts.store import AccountError, AccountStore
    from acd.metrics.store import StoreError
    from acd.metrics.store_sync import errors
    from acd.settings import SettingsError, format_settings_problem, load_settings

    def store_errors() -> tuple[type[BaseException], ...]:
        return (StoreError, *errors())

    try:
        settings = load_settings(args.settings)
    except SettingsError as exc:
        for problem in exc.problems:
            print(format_settings_problem(problem), file=sys.stderr)
        return EXIT_USAGE
    try:
        create = args.run in (_add,)
        if args.database:
            store = AccountStore(args.database, private=settings.files.private, create=create)
        else:
            store = AccountStore.from_settings(settings, create=create)
        return int(args.run(store, args) or 0)
    except (AccountError, _Stop) as exc:
        print(f"acd user {args.action}: error: {exc}", file=sys.stderr)
        return getattr(exc, "code", EXIT_REFUSED)
    except store_errors() as exc:
        print(f"acd user {args.action}: error: account store unusable: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"acd user {args.action}: error: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})", file=sys.stderr)
        return EXIT_REFUSED


def _by() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _password() -> str:
    given = os.environ.get("ACD_USER_PASSWORD")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise _Stop("no password: set ACD_USER_PASSWORD or run in a terminal to be asked", EXIT_USAGE)
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise _Stop("the two passwords differ", EXIT_USAGE)
    return first


def _add(store: Any, args: argparse.Namespace) -> int:
    account = store.add(args.name, args.full_name, args.role, _password(), by=_by())
    if args.agent:
        store.link_agent(account.name, args.agent, by=_by())
    print(f"account {account.name} ({account.role}) created" + (f", agent {args.agent}" if args.agent else ""))
    return 0


def _agent(store: Any, args: argparse.Namespace) -> int:
    if bool(args.agent_id) == bool(args.none):
        raise _Stop("give the agent id, or --none to unlink", EXIT_USAGE)
    store.link_agent(args.name, None if args.none else args.agent_id, by=_by())
    print(f"account {args.name} " + ("unlinked" if args.none else f"is agent {args.agent_id}"))
    return 0


def _passwd(store: Any, args: argparse.Namespace) -> int:
    store.get(args.name)
    store.set_password(args.name, _password(), by=_by())
    print(f"password of {args.name} changed; its sessions were ended")
    return 0


def _disable(store: Any, args: argparse.Namespace) -> int:
    store.set_disabled(args.name, True, by=_by())
    print(f"account {args.name} disabled")
    return 0


def _enable(store: Any, args: argparse.Namespace) -> int:
    store.set_disabled(args.name, False, by=_by())
    print(f"account {args.name} enabled")
    return 0


def _list(store: Any, args: argparse.Namespace) -> int:
    import time

    accounts = store.accounts()
    now = time.time()
    if args.json:
        rows = [{"name": a.name, "full_name": a.full_name, "role": a.role, "disabled": a.disabled, "locked": a.locked_until > now,
                 "agent": store.agent_of(a.name)} for a in accounts]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for a in accounts:
        state = "disabled" if a.disabled else ("locked" if a.locked_until > now else "active")
        agent = store.agent_of(a.name)
        print(f"{a.name:<20} {a.role:<11} {state:<9} {a.full_name}" + (f" (agent {agent})" if agent else ""))
    if not accounts:
        print("no accounts yet: acd user add NAME --full-name ... --role admin")
    return 0


def _token(store: Any, args: argparse.Namespace) -> int:
    token, secret = store.issue_token(args.name, args.label, args.scope, by=_by())
    scopes = "the role's whole reach" if token.scopes is None else ", ".join(sorted(token.scopes))
    print(f"token #{token.id} for {token.account} ({scopes}); shown once, keep it secret:", file=sys.stderr)
    print(secret)
    return 0


def _tokens(store: Any, args: argparse.Namespace) -> int:
    for t in store.tokens(args.name):
        scopes = "*" if t.scopes is None else ",".join(sorted(t.scopes))
        print(f"#{t.id:<4} {t.account:<20} {'revoked' if t.revoked else 'live':<8} {t.label:<20} {scopes}")
    return 0


def _revoke(store: Any, args: argparse.Namespace) -> int:
    store.revoke_token(args.token_id, by=_by())
    print(f"token #{args.token_id} revoked")
    return 0
