"""``acd run``: start the engine from acd.yaml and run until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys

from acd.bounds import HOUR, number_arg
from acd.cli._common import add_settings_argument, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the engine (FastAGI listener, AMI connection)")
    add_settings_argument(parser)
    parser.add_argument("--log-format", choices=("text", "json"), default=None, help="log as text (default) or JSON lines")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default=None)
    parser.add_argument("--grace", type=number_arg(0, HOUR), default=10.0, metavar="SECONDS",
                        help="on shutdown, time calls in progress get to finish their current step")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from acd.app import build_engine, AppError
    from acd.engine import run_until_signalled
    from acd.logs import configure_logging
    from acd.private_files import private_umask

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    private_umask(settings.files.private)  # whatever the engine or a library creates: owner-only
    configure_logging(args.log_level or settings.log.level, args.log_format or settings.log.format)
    try:
        engine = build_engine(settings)
    except AppError as exc:
        for line in str(exc).splitlines():
            print(line, file=sys.stderr)
        return 2
    from acd.event_loop import run as run_on_loop
    from acd.ha.standby import HaSetupError, run_as_pair

    try:
        if settings.ha.enabled:
            return run_on_loop(run_as_pair(engine, settings, grace_s=args.grace), settings.runtime.event_loop)
        return run_on_loop(run_until_signalled(engine, grace_s=args.grace), settings.runtime.event_loop)
    except (OSError, AppError, HaSetupError) as exc:
        logging.getLogger("acd").error("cannot start: %s", exc)
        print(f"acd run: cannot start: {exc}", file=sys.stderr)
        return 1
