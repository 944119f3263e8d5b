"""What ``acd report``, ``acd sla`` and ``acd incident`` share: settings, database, errors.

Every failure the user can cause ends as one line on stderr and an exit code, never a
traceback: 2 for usage errors (bad date, month, range, settings or contract file), 1 for
data errors (missing, corrupt or newer database, unwritable output).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Awaitable, Callable

from acd.metrics.store import MissingDatabaseError, StoreError
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import StoreLocation, parse_store_url, settings_location
from acd.metrics.store_url import open_store as open_metrics_store
from acd.metrics.timeutil import TimeInputError, parse_when, zone
from acd.settings import Settings, SettingsError, format_settings_problem, load_settings

USAGE_ERROR = 2
DATA_ERROR = 1

class CliError(Exception):
    """Stop the command: print ``message`` and exit with ``code``."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", metavar="FILE", help="settings file (default: acd.yaml if present)")
    parser.add_argument("--db", metavar="FILE|URL", help="event store: a file, sqlite:… or postgresql://… (default: store.url, else metrics.database)")


def add_timezone_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tz", metavar="ZONE", help="timezone for dates and intervals (default: routing.timezone)")


def settings_from(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.settings)
    except SettingsError as exc:
        raise CliError("\n".join(format_settings_problem(p) for p in exc.problems) or "bad settings") from None


def database_path(args: argparse.Namespace, settings: Settings) -> StoreLocation:
    """The store ``--db`` names (a file or a URL), else the settings' (``store.url``, else ``metrics.database``)."""
    try:
        if args.db:
            return parse_store_url(args.db)
        return settings_location(settings)
    except StoreError as exc:
        raise CliError(str(exc), USAGE_ERROR) from None


def timezone_name(args: argparse.Namespace, settings: Settings) -> str:
    name = getattr(args, "tz", None) or settings.routing.timezone
    try:
        zone(name)
    except TimeInputError as exc:
        raise CliError(str(exc)) from None
    return name


def time_range(args: argparse.Namespace, tz_name: str, *, required: bool = True) -> tuple[float | None, float | None]:
    """``--from``/``--to`` as UNIX seconds; ``--to`` is exclusive; an empty range is an error."""
    tz = zone(tz_name)
    try:
        start = parse_when(args.start, tz) if args.start else None
        end = parse_when(args.end, tz) if args.end else None
    except TimeInputError as exc:
        raise CliError(str(exc)) from None
    if required and (start is None or end is None):
        raise CliError("both --from and --to are required")
    if start is not None and end is not None and not end > start:
        raise CliError(f"empty range: --to ({args.end}) must be later than --from ({args.start}); --to is exclusive")
    return start, end


async def open_store(path: Path | StoreLocation | str, *, create: bool = False) -> MetricsStore:
    try:
        return await open_metrics_store(path if isinstance(path, StoreLocation) else parse_store_url(path), create=create)
    except MissingDatabaseError as exc:
        raise CliError(f"{exc} (set metrics.database in the settings or pass --db)", DATA_ERROR) from None
    except StoreError as exc:
        raise CliError(str(exc), DATA_ERROR) from None


def run_command(name: str, body: Callable[[], Awaitable[int]]) -> int:
    """Run an async command body, turning ``CliError``/``StoreError`` into a message and exit code."""
    try:
        return asyncio.run(body())
    except CliError as exc:
        print(f"acd {name}: error: {exc}", file=sys.stderr)
        return exc.code
    except StoreError as exc:
        print(f"acd {name}: error: {exc}", file=sys.stderr)
        return DATA_ERROR


__all__ = [
    "CliError",
    "DATA_ERROR",
    "USAGE_ERROR",
    "add_common_arguments",
    "add_timezone_argument",
    "database_path",
    "open_store",
    "run_command",
    "settings_from",
    "time_range",
    "timezone_name",
]
