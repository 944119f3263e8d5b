"""``acd store``: the metrics store itself — where it is, what it holds, moving it to PostgreSQL.

Examples::

    acd store info                                   # the store of the settings (store.url, else metrics.database)
    acd store info --db postgresql://acd@db.example/acd
    ACD_STORE_PASSWORD=… acd store migrate --from sqlite:///var/lib/acd/acd.sqlite --to postgresql://acd@db.example/acd

A password is best left out of the command line (other users see it in ``ps``): the URL
without one takes ``ACD_STORE_PASSWORD`` (or libpq's ``PGPASSWORD``/``~/.pgpass``).  Every
URL printed has its password masked.  ``migrate`` may be run again: it copies only what is
new, then checks the counts (see ``acd.metrics.store_migrate``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from acd.cli._report_common import CliError, database_path, open_store, run_command, settings_from
from acd.metrics.store_url import StoreLocation, StoreUrlError, parse_store_url


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "store", help="the metrics store: info, migrate to PostgreSQL",
        description="The metrics store: where it is (store.url, else metrics.database), what it holds, moving it to PostgreSQL.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    info = actions.add_parser("info", help="back end, schema version, events, partitions")
    info.add_argument("--settings", metavar="FILE", help="settings file (default: acd.yaml if present)")
    info.add_argument("--db", metavar="FILE|URL", help="the store (default: store.url, else metrics.database)")
    info.add_argument("--json", action="store_true", help="JSON output")
    info.set_defaults(handler=handle_info)
    migrate = actions.add_parser("migrate", help="copy an SQLite store's events, incidents and report cells to PostgreSQL")
    migrate.add_argument("--from", dest="source", metavar="URL", required=True, help="the SQLite store: sqlite:///path or a file")
    migrate.add_argument("--to", dest="target", metavar="URL", required=True, help="the PostgreSQL store: postgresql://user@host/database")
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")
    migrate.set_defaults(handler=handle_migrate)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _location(text: str) -> StoreLocation:
    try:
        return parse_store_url(text, password=os.environ.get("ACD_STORE_PASSWORD") or None)
    except StoreUrlError as exc:  # one line, password masked
        raise CliError(str(exc)) from None


def handle_migrate(args: argparse.Namespace) -> int:
    from acd.metrics.store_migrate import migrate_store

    async def body() -> int:
        source, target = _location(args.source), _location(args.target)

        def progress(done: int, last: int) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{done}/{last} events", end="", file=sys.stderr, flush=True)

        result = await migrate_store(source, target, progress=progress)
        if args.json:
            print(json.dumps(result.as_dict(), indent=2))
        else:
            print(
                f"{result.source} -> {result.target}: {result.source_events} events in the source, "
                f"{result.copied_events} copied now, {result.target_events} in the target; "
                f"{result.incidents} incidents, {result.cells} report cells; count check over {result.days} day(s) passed "
                f"({len(result.extra_days)} with more events in the target); {result.seconds:.1f} s"
            )
        return 0

    return run_command("store migrate", body)


def handle_info(args: argparse.Namespace) -> int:
    async def body() -> int:
        if args.db:
            location = _location(args.db)
        else:
            location = database_path(argparse.Namespace(db=None), settings_from(args))
        store = await open_store(location)
        try:
            info: dict[str, Any] = {
                "store": str(location),
                "backend": location.kind,
                "schema_version": await store.schema_version(),
                "events": await store.count(),
                "first_event_ts": await store.first_event_ts(),
            }
            partitions = getattr(store, "partitions", None)
            if partitions is not None:
                info["partitions"] = await partitions()
        finally:
            await store.close()
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            for key, value in info.items():
                print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
        return 0

    return run_command("store info", body)


__all__ = ["register"]
