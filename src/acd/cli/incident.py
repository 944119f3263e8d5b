"""``acd incident``: the incident log ("bitácora") shown beside reports and the SLA.

Examples::

    acd incident add --from "2026-03-02 10:15" --to "2026-03-02 10:40" --text "Corte enlace SIP del proveedor"
    acd incident add --from "2026-03-02 10:15" --text "Caída del enlace SIP"     # still going on
    acd incident close 7 --at "2026-03-02 11:05"
    acd incident list --from 2026-03-01 --to 2026-04-01
    acd incident list --json

Dates without an offset are local time in ``routing.timezone``.  ``add`` creates the
event database if it does not exist yet; ``list`` never does.
"""

from __future__ import annotations

import argparse
import getpass
import time
import json
import sys
from typing import Any

from acd.cli._report_common import (
    CliError,
    add_common_arguments,
    add_timezone_argument,
    database_path,
    open_store,
    run_command,
    settings_from,
    time_range,
    timezone_name,
)
from acd.metrics.render import incident_dict, incident_end
from acd.metrics.store import SEVERITIES
from acd.metrics.timeutil import TimeInputError, fmt_local, parse_when, zone


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "incident",
        help="incident log: add and list incidents",
        description="The incident log (bitácora): incidents are shown beside report intervals and in the SLA.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="record an incident")
    add.add_argument("--from", dest="start", metavar="WHEN", help="when it started")
    add.add_argument("--to", dest="end", metavar="WHEN", help="when it ended (omit while it is still going on; close it later)")
    add.add_argument("--text", help="what happened")
    add.add_argument("--severity", default="medium", metavar="|".join(SEVERITIES), help="how badly service was affected (default medium)")
    add.add_argument("--author", default=None, metavar="NAME", help="who records it (default: the login name running the command)")
    add_timezone_argument(add)
    add_common_arguments(add)
    add.set_defaults(handler=handle_add)
    close = actions.add_parser("close", help="end an open incident")
    close.add_argument("incident_id", metavar="ID", type=int, help="the incident's number (#N)")
    close.add_argument("--at", dest="end", metavar="WHEN", help="when it ended (default: now)")
    add_timezone_argument(close)
    add_common_arguments(close)
    close.set_defaults(handler=handle_close)
    listing = actions.add_parser("list", help="list incidents (optionally overlapping a range)")
    listing.add_argument("--from", dest="start", metavar="WHEN", help="only incidents ending after this")
    listing.add_argument("--to", dest="end", metavar="WHEN", help="only incidents starting before this")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_timezone_argument(listing)
    add_common_arguments(listing)
    listing.set_defaults(handler=handle_list)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return ""


def handle_add(args: argparse.Namespace) -> int:
    async def body() -> int:
        if not args.text or not args.text.strip():
            raise CliError("--text is required (what happened)")
        if args.severity not in SEVERITIES:
            raise CliError(f"--severity {args.severity!r} is not one of: {', '.join(SEVERITIES)}")
        settings = settings_from(args)
        tz_name = timezone_name(args, settings)
        if not args.start:
            raise CliError("--from is required (when it started)")
        start, end = time_range(args, tz_name, required=False)
        assert start is not None
        store = await open_store(database_path(args, settings), create=True)
        try:
            incident = await store.add_incident(start, end, args.text, severity=args.severity, author=args.author or _login_name())
        finally:
            await store.close()
        tz = zone(tz_name)
        print(f"incident #{incident.id} recorded: {fmt_local(incident.start, tz)} .. {incident_end(incident, tz)} {incident.text}")
        return 0

    return run_command("incident add", body)


def handle_close(args: argparse.Namespace) -> int:
    async def body() -> int:
        settings = settings_from(args)
        tz_name = timezone_name(args, settings)
        tz = zone(tz_name)
        try:
            end = parse_when(args.end, tz) if args.end else time.time()
        except TimeInputError as exc:
            raise CliError(str(exc)) from None
        store = await open_store(database_path(args, settings))
        try:
            incident = await store.close_incident(args.incident_id, end)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        finally:
            await store.close()
        print(f"incident #{incident.id} closed: {fmt_local(incident.start, tz)} .. {incident_end(incident, tz)} {incident.text}")
        return 0

    return run_command("incident close", body)


def handle_list(args: argparse.Namespace) -> int:
    async def body() -> int:
        settings = settings_from(args)
        tz_name = timezone_name(args, settings)
        start, end = time_range(args, tz_name, required=False)
        store = await open_store(database_path(args, settings))
        try:
            incidents = await store.incidents(start, end)
        finally:
            await store.close()
        tz = zone(tz_name)
        if args.json:
            print(json.dumps([incident_dict(i, tz) for i in incidents], indent=2, ensure_ascii=False))
        elif not incidents:
            print("no incidents")
        else:
            for i in incidents:
                print(f"#{i.id}  {fmt_local(i.start, tz)} .. {incident_end(i, tz)}  [{i.severity}] {i.text}" + (f"  ({i.author})" if i.author else ""))
        return 0

    return run_command("incident list", body)
