"""``acd incident``: the incident log ("bitácora") shown beside reports and the SLA.

Examples::

    acd incident add --from "2026-03-02 10:15" --to "2026-03-02 10:40" --text "Corte enlace SIP del proveedor"
    acd incident list --from 2026-03-01 --to 2026-04-01
    acd incident list --json

Dates without an offset are local time in ``routing.timezone``.  ``add`` creates the
event database if it does not exist yet; ``list`` never does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from acd.metrics.cli_support import (
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
from acd.metrics.render import incident_dict
from acd.metrics.timeutil import fmt_local, zone


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "incident",
        help="incident log: add and list incidents",
        description="The incident log (bitácora): incidents are shown beside report intervals and in the SLA.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="record an incident")
    add.add_argument("--from", dest="start", metavar="WHEN", help="when it started")
    add.add_argument("--to", dest="end", metavar="WHEN", help="when it ended")
    add.add_argument("--text", help="what happened")
    add_timezone_argument(add)
    add_common_arguments(add)
    add.set_defaults(handler=handle_add)
    listing = actions.add_parser("list", help="list incidents (optionally overlapping a range)")
    listing.add_argument("--from", dest="start", metavar="WHEN", help="only incidents ending after this")
    listing.add_argument("--to", dest="end", metavar="WHEN", help="only incidents starting before this")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_timezone_argument(listing)
    add_common_arguments(listing)
    listing.set_defaults(handler=handle_list)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def handle_add(args: argparse.Namespace) -> int:
    async def body() -> int:
        if not args.text or not args.text.strip():
            raise CliError("--text is required (what happened)")
        settings = settings_from(args)
        tz_name = timezone_name(args, settings)
        start, end = time_range(args, tz_name)
        assert start is not None and end is not None
        store = await open_store(database_path(args, settings), create=True)
        try:
            incident = await store.add_incident(start, end, args.text)
        finally:
            await store.close()
        tz = zone(tz_name)
        print(f"incident #{incident.id} recorded: {fmt_local(incident.start, tz)} .. {fmt_local(incident.end, tz)} {incident.text}")
        return 0

    return run_command("incident add", body)


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
                print(f"#{i.id}  {fmt_local(i.start, tz)} .. {fmt_local(i.end, tz)}  {i.text}")
        return 0

    return run_command("incident list", body)
