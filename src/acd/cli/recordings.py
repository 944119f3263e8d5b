"""``acd recordings``: find call recordings by call id or caller number; expire old ones."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from acd.cli._common import add_settings_argument, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("recordings", help="find call recordings; remove expired ones")
    commands = parser.add_subparsers(dest="recordings_command", metavar="COMMAND")
    find = commands.add_parser("find", help="recordings of a call, or of a caller number in a period")
    add_settings_argument(find)
    find.add_argument("--db", metavar="FILE", help="event log (default: metrics.database from the settings)")
    which = find.add_mutually_exclusive_group(required=True)
    which.add_argument("--call", metavar="ID", help="call id")
    which.add_argument("--number", metavar="N", help="caller number")
    find.add_argument("--from", dest="start", metavar="WHEN", help="start (with --number), e.g. 2026-03-02")
    find.add_argument("--to", dest="end", metavar="WHEN", help="end, exclusive")
    find.add_argument("--tz", default=None, help="timezone for dates (default: routing timezone)")
    find.add_argument("--json", action="store_true")
    find.set_defaults(handler=find_recordings)
    purge = commands.add_parser("purge", help="remove recordings older than recording.retention_days")
    add_settings_argument(purge)
    purge.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    purge.set_defaults(handler=purge_recordings)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def find_recordings(args: argparse.Namespace) -> int:
    from acd.metrics.store import EventStore, StoreError
    from acd.metrics.timeutil import parse_when, zone
    from acd.privacy import PrivacyKeyError, Pseudonyms, normalise_number

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    database = Path(args.db) if args.db else settings.resolve(settings.metrics.database)
    try:
        tz = zone(args.tz or settings.routing.timezone)
        start = parse_when(args.start, tz) if args.start else None
        end = parse_when(args.end, tz) if args.end else None
    except ValueError as exc:
        print(f"acd recordings find: {exc}", file=sys.stderr)
        return 2
    if start is not None and end is not None and start >= end:
        print("acd recordings find: --from must be before --to", file=sys.stderr)
        return 2
    wanted_ref = ""
    if args.number:
        # Events hold the number masked plus its pseudonym: compute the pseudonym of N.
        if not normalise_number(args.number):
            print(f"acd recordings find: --number {args.number!r} holds no digits", file=sys.stderr)
            return 2
        try:
            wanted_ref = Pseudonyms.load(database.parent, create=False).ref(args.number)
        except PrivacyKeyError as exc:
            print(f"acd recordings find: {exc}", file=sys.stderr)
            return 1

    def same_caller(started: dict[str, object]) -> bool:
        if started.get("caller_ref"):
            return started["caller_ref"] == wanted_ref
        # an event log written before callers were pseudonymised holds the number itself
        return normalise_number(str(started.get("caller", ""))) == normalise_number(args.number)

    async def query() -> list[dict[str, object]]:
        store = await EventStore.open(database, create=False)
        try:
            events = await store.events(start, end, types=["call.started", "recording.started", "recording.finished"])
        finally:
            await store.close()
        callers = {e.call_id: e.data for e in events if e.type == "call.started"}
        rows: dict[str, dict[str, object]] = {}
        for event in events:
            if event.type == "call.started" or event.call_id is None:
                continue
            started = callers.get(event.call_id, {})
            row = rows.setdefault(event.call_id, {"call_id": event.call_id, "caller": started.get("caller", ""), "caller_ref": started.get("caller_ref", ""), "agent": event.agent_id})
            if event.type == "recording.started":
                row["started"] = event.ts
                row["path"] = event.data.get("path")
            else:
                row["duration_s"] = event.data.get("duration_s")
                row["path"] = event.data.get("path")
        found = [
            row for row in rows.values()
            if (args.call and row["call_id"] == args.call) or (args.number and same_caller(callers.get(str(row["call_id"]), {})))
        ]
        for row in found:
            row["exists"] = bool(row.get("path")) and Path(str(row["path"])).exists()
        return found

    try:
        found = asyncio.run(query())
    except StoreError as exc:
        print(f"acd recordings find: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found, indent=2))
    elif not found:
        print("no recordings found")
    else:
        for row in found:
            duration = row.get("duration_s")
            length = f"{duration:.1f} s" if isinstance(duration, (int, float)) else "?"
            print(f"{row['call_id']}  caller {row['caller'] or '?'}  agent {row['agent'] or '?'}  {length}  {row.get('path')}{'' if row['exists'] else '  (file missing)'}")
    if not found:
        return 1
    return 0


def purge_recordings(args: argparse.Namespace) -> int:
    import time

    from acd.features.recordings import purge_expired
    from acd.features.recordings.storage import EXTENSIONS

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    folder = settings.resolve(settings.recording.local_dir)
    days = settings.recording.retention_days
    if days is None:
        print("recording.retention_days is not set: recordings are kept until the contract ends "
              "(then acd recordings export, and erase what was exported); nothing removed")
        return 0
    if args.dry_run:
        limit = time.time() - days * 86400
        for path in sorted(p for p in folder.iterdir() if p.suffix in EXTENSIONS) if folder.is_dir() else []:
            if path.stat().st_mtime < limit:
                print(f"would remove {path}")
        return 0
    removed = purge_expired(folder, days)
    print(f"removed {len(removed)} recording(s) older than {days} days from {folder}")
    return 0
