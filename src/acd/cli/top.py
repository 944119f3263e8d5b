"""``acd top``: live wallboard of the running engine in the terminal (q or Ctrl-C quits)."""

from __future__ import annotations

import argparse
import os
import sys

from acd.bounds import HOUR, number_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser(
        "top",
        help="live wallboard: queues, skills, service level (under target marked '!'), agents",
        description="Refreshes every --interval seconds; q or Ctrl-C quits. If the engine goes away the "
        "wallboard says so and keeps trying. --once prints one frame and exits (3 if the engine is not reachable).",
        epilog=EXIT_CODES_HELP,
    )
    add_client_arguments(parser, json_flag=False)
    parser.add_argument("--interval", type=_positive, default=1.0, metavar="SECONDS", help="refresh period (default 1)")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the under-target queues (auto: on a terminal, unless NO_COLOR is set)")
    parser.set_defaults(handler=run)


_positive = number_arg(0.1, HOUR)


def run(args: argparse.Namespace) -> int:
    from acd.cli._api_client import ApiClient, run_command
    from acd.cli._wallboard import run_live, show_once

    if args.color == "auto":
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    else:
        color = args.color == "always"

    def show(client: ApiClient) -> int:
        if args.once:
            return show_once(client, color=color, out=sys.stdout)
        return run_live(client, interval_s=args.interval, color=color)

    return run_command(args, show)
