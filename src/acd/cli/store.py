"""``acd store``: the store itself — where it is, what it holds, moving a site to PostgreSQL.

Examples::

    acd store info                                   # the store of the settings (store.url, else metrics.database)
    acd store info --db postgresql://acd@db.example/acd
    ACD_STORE_PASSWORD=… acd store migrate --from sqlite:///var/lib/acd/acd.sqlite --to postgresql://acd@db.example/acd

A password is best left out of the command line (other users see it in ``ps``): the URL
without one takes ``ACD_STORE_PASSWORD`` (or libpq's ``PGPASSWORD``/``~/.pgpass``).  Every
URL printed has its password masked.  ``migrate`` may be run again: it copies only what is
new, then checks the counts (see ``acd.metrics.store_migrate``).  Beside the events it
copies the other SQLite files the settings name (accounts and audit, callbacks, quality
grades; ``acd.metrics.store_copy``) into the same database, where ``store.url`` makes
them live from then on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
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
    migrate = actions.add_parser(
        "migrate", help="copy a site's SQLite stores to PostgreSQL: events, incidents, report cells, accounts and audit, callbacks, grades",
    )
    migrate.add_argument("--from", dest="source", metavar="URL", required=True, help="the SQLite metrics store: sqlite:///path or a file")
    migrate.add_argument("--to", dest="target", metavar="URL", required=True, help="the PostgreSQL store: postgresql://user@host/database")
    migrate.add_argument("--settings", metavar="FILE", help="settings file naming the other stores' files (default: acd.yaml if present)")
    for name, setting in (("accounts", "web.accounts_database"), ("callbacks", "callbacks.database"), ("quality", "quality.database")):
        migrate.add_argument(f"--{name}", metavar="FILE", help=f"the {name} SQLite file (default: {setting}; skipped if absent)")
    migrate.add_argument("--events-only", action="store_true", help="copy the metrics store only, not accounts, callbacks, grades")
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
        small = [] if args.events_only else small_stores(args, settings_from(args))
        tables, skipped = await asyncio.to_thread(copy_small_stores, small, target)
        if args.json:
            print(json.dumps({**result.as_dict(), "tables": [t.as_dict() for t in tables], "skipped": skipped}, indent=2))
        else:
            print(
                f"{result.source} -> {result.target}: {result.source_events} events in the source, "
                f"{result.copied_events} copied now, {result.target_events} in the target; "
                f"{result.incidents} incidents, {result.cells} report cells; count check over {result.days} day(s) passed "
                f"({len(result.extra_days)} with more events in the target); {result.seconds:.1f} s"
            )
            for table in tables:
                print(f"  {table.component}.{table.table}: {table.source_rows} rows in the source, "
                      f"{table.copied_rows} new in the target, {table.target_rows} there; every source row present")
            for line in skipped:
                print(f"  skipped: {line}")
        return 0

    return run_command("store migrate", body)


def small_stores(args: argparse.Namespace, settings: Any) -> list[tuple[Any, Path, bool]]:
    """(migrations, SQLite file, named on the command line) of the stores beside the events."""
    from acd.accounts.schema import MIGRATIONS as ACCOUNTS
    from acd.features.callbacks.service import MIGRATIONS as CALLBACKS
    from acd.features.quality.grades import MIGRATIONS as QUALITY

    found = []
    for migrations, given, setting in (
        (ACCOUNTS, args.accounts, settings.web.accounts_database),
        (CALLBACKS, args.callbacks, settings.callbacks.database),
        (QUALITY, args.quality, settings.quality.database),
    ):
        path = Path(given).expanduser() if given else settings.resolve(setting)
        found.append((migrations, path, bool(given)))
    return found


def copy_small_stores(stores: list[tuple[Any, Path, bool]], target: StoreLocation) -> tuple[list[Any], list[str]]:
    """Copy each store's file into the target; a file the settings name but that does not exist is skipped."""
    from acd.metrics.store import StoreError
    from acd.metrics.store_copy import copy_store
    from acd.metrics.store_sync import SyncDatabase, errors

    tables, skipped = [], []
    for migrations, path, given in stores:
        if not path.exists():
            if given:
                raise CliError(f"--{migrations.component}: no such file {path}")
            skipped.append(f"{migrations.component}: {path} does not exist")
            continue
        source = SyncDatabase(StoreLocation("sqlite", path=path), migrations)
        try:
            tables += copy_store(source, SyncDatabase(target, migrations))
        except errors() as exc:
            raise StoreError(f"copying {migrations.component} to {target}: {' '.join(str(exc).split())[:300]}") from None
    return tables, skipped


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
            from acd.metrics.store_sync import component_versions

            parts = await asyncio.to_thread(component_versions, location)
            if parts:
                info["other_parts"] = [f"{name} v{version}" for name, version in parts.items()]
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
