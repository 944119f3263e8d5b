"""``acd recordings``: find recordings; disk use; expire old ones; export and erase at the contract's end."""

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
    use = commands.add_parser("usage", help="disk use of the recordings, free space and days left at the recent rate")
    add_settings_argument(use)
    use.add_argument("--json", action="store_true")
    use.set_defaults(handler=usage_of_recordings)
    out = commands.add_parser(
        "export", help="write every recording and a manifest (call, time, agent, queue, SHA-256) to one archive; or --verify one",
        description="End of contract: the hand-over of the recordings. The archive is a .tar with manifest.json; "
        "a .sha256 file beside it covers the archive.",
    )
    add_settings_argument(out)
    target = out.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", dest="target", metavar="ARCHIVE", help="archive to write (.tar; never overwritten)")
    target.add_argument("--verify", metavar="ARCHIVE", help="check an archive against its manifest and its .sha256")
    out.add_argument("--db", metavar="FILE", help="event log (default: metrics.database from the settings)")
    out.set_defaults(handler=export_recordings)
    wipe = commands.add_parser(
        "erase", help="erase irrecoverably the recordings a verified export holds; write an evidence report",
        description="Deletes from recording.local_dir only the files the archive holds with the same SHA-256 "
        "(each overwritten with random bytes, flushed, unlinked) and writes erase-report-<time>.json.",
    )
    add_settings_argument(wipe)
    wipe.add_argument("--archive", required=True, metavar="ARCHIVE", help="the export (acd recordings export --to)")
    wipe.add_argument("--report-dir", metavar="DIR", help="where the evidence report goes (default: beside the archive)")
    wipe.add_argument("--yes", action="store_true", help="really erase (without it: only say what would be erased)")
    wipe.set_defaults(handler=erase_recordings)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def find_recordings(args: argparse.Namespace) -> int:
    from acd.metrics.store import EventStore, StoreError
    from acd.metrics.timeutil import parse_when, zone
    from acd.privacy import PrivacyKeyError, Pseudonyms, normalise_number

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    database = Path(args.db) if args.db else settings.resolve(settings.metrics.database)
    folder = settings.resolve(settings.recording.local_dir)
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
        from acd.features.recordings.catalog import Search, search_recordings

        store = await EventStore.open(database, create=False)
        try:
            rows = await search_recordings(store, folder, Search(start, end, args.call or None), limit=None)
        finally:
            await store.close()
        found = []
        for row in rows:
            if args.number and not same_caller({"caller_ref": row.caller_ref, "caller": row.caller}):
                continue
            path = row.file or (folder / f"{row.call_id}.wav")
            found.append({
                "call_id": row.call_id, "caller": row.caller, "caller_ref": row.caller_ref, "agent": row.agent, "queue": row.queue,
                "started": row.started, "duration_s": row.duration_s, "path": str(path), "exists": row.file is not None,
                "sha256": row.sha256, "flags": row.flags,
            })
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
            flags = [f for f in row["flags"] if f != "missing"] + ([] if row["exists"] else ["file missing"])  # type: ignore[union-attr]
            note = f"  ({', '.join(flags)})" if flags else ""
            print(f"{row['call_id']}  caller {row['caller'] or '?'}  agent {row['agent'] or '?'}  {length}  {row.get('path')}{note}")
    empty = sum(1 for row in found if "empty" in row["flags"])  # type: ignore[operator]
    if empty:
        print(f"acd recordings find: warning: {empty} of {len(found)} recording(s) are empty (no audio)", file=sys.stderr)
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


def usage_of_recordings(args: argparse.Namespace) -> int:
    from acd.features.recordings.storage import human_bytes, usage

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    folder = settings.resolve(settings.recording.local_dir)
    found = usage(folder)
    if args.json:
        print(json.dumps({"folder": str(folder), **found.as_dict()}))
        return 0
    left = found.days_left
    print(f"{folder}: {found.files} recordings, {human_bytes(found.bytes)}; {human_bytes(found.free_bytes)} free; "
          f"{human_bytes(found.daily_bytes)}/day over the last {found.days} days; "
          + (f"{left:.0f} days left" if left is not None else "days left unknown (nothing recorded lately)"))
    retention = settings.recording.retention_days
    print("retention: " + (f"{retention} days" if retention else "until the contract ends"))
    return 0


def _catalog(database: Path, folder: Path) -> list:  # type: ignore[type-arg]
    from acd.features.recordings.catalog import Search, search_recordings
    from acd.metrics.store import EventStore

    async def rows() -> list:  # type: ignore[type-arg]
        store = await EventStore.open(database, create=False)
        try:
            return await search_recordings(store, folder, Search(), limit=None)
        finally:
            await store.close()

    return asyncio.run(rows())


def export_recordings(args: argparse.Namespace) -> int:
    from acd.features.recordings.archive import ArchiveError, export, verify
    from acd.metrics.store import StoreError

    if args.verify:
        try:
            checked = verify(Path(args.verify))
        except ArchiveError as exc:
            print(f"acd recordings export: {exc}", file=sys.stderr)
            return 1
        for problem in checked.problems:
            print(f"problem: {problem}")
        print(f"{checked.archive}: {len(checked.entries)} recordings, SHA-256 {checked.sha256}: "
              + ("verified" if checked.ok else f"{len(checked.problems)} problem(s)"))
        return 0 if checked.ok else 1
    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    folder = settings.resolve(settings.recording.local_dir)
    database = Path(args.db) if args.db else settings.resolve(settings.metrics.database)
    try:
        rows = _catalog(database, folder)
    except StoreError as exc:
        print(f"acd recordings export: {exc}; files are exported without their calls' details", file=sys.stderr)
        rows = []
    target = Path(args.target)
    try:
        manifest = export(folder, target, rows, site=settings.site)
        checked = verify(target)
    except ArchiveError as exc:
        print(f"acd recordings export: {exc}", file=sys.stderr)
        return 1
    unknown = sum(1 for e in checked.entries if e.get("call") is None)
    print(f"{target}: {manifest['files']} recordings, {manifest['bytes']} bytes, SHA-256 {checked.sha256}"
          + (f"; {unknown} not in the event log" if unknown else "") + ("; verified" if checked.ok else "; DOES NOT VERIFY"))
    return 0 if checked.ok else 1


def erase_recordings(args: argparse.Namespace) -> int:
    from acd.features.recordings.archive import ArchiveError, erase, verify
    from acd.features.recordings.storage import sha256_of

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    folder = settings.resolve(settings.recording.local_dir)
    archive = Path(args.archive)
    try:
        checked = verify(archive)
    except ArchiveError as exc:
        print(f"acd recordings erase: {exc}", file=sys.stderr)
        return 1
    if not checked.ok:
        print(f"acd recordings erase: {archive} does not verify; nothing erased", file=sys.stderr)
        for problem in checked.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if not args.yes:
        same = [e for e in checked.entries if (folder / str(e["file"])).is_file() and sha256_of(folder / str(e["file"])) == e["sha256"]]
        print(f"would erase {len(same)} of {len(checked.entries)} recordings in {folder} (the rest are gone or changed); "
              "run again with --yes to erase")
        return 0
    report_dir = Path(args.report_dir) if args.report_dir else archive.parent
    try:
        path, report = erase(folder, checked, report_dir)
    except (ArchiveError, OSError) as exc:
        print(f"acd recordings erase: {exc}", file=sys.stderr)
        return 1
    kept = report["not_erased"]
    print(f"erased {report['erased']} recordings from {folder}; evidence: {path}")
    for item in kept:  # type: ignore[attr-defined]
        print(f"  not erased: {item['file']}: {item['result']}")
    return 0
