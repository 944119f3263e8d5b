"""Helpers shared by CLI commands (this module is not a command itself)."""

from __future__ import annotations

import argparse
import sys

from acd.settings import Settings, SettingsError, format_settings_problem, load_settings


def add_settings_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings", "-c", metavar="FILE", default=None,
        help="engine settings file (default: acd.yaml in the current folder, if present)",
    )


def settings_or_exit(args: argparse.Namespace) -> Settings | int:
    """Load settings; on problems print one line each to stderr and return exit code 2."""
    try:
        return load_settings(getattr(args, "settings", None))
    except SettingsError as exc:
        for problem in exc.problems:
            print(format_settings_problem(problem), file=sys.stderr)
        return 2
