"""``acd queues``: every queue and skill of the running engine, as a table or JSON."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser(
        "queues",
        help="queues and skills of the running engine: waiting, agents, service level, abandonment",
        description="Live figures from the running engine's control API. A queue whose service level "
        "for the current 15 minutes (the day's, until one of those calls is decided) is below target is marked '!'.",
        epilog=EXIT_CODES_HELP,
    )
    add_client_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from acd.cli._api_client import ApiClient, print_json, run_command
    from acd.cli._tables import agent_summary, queues_text

    def show(client: ApiClient) -> int:
        stats = client.get("/api/stats")
        if args.json:
            print_json(stats)
        else:
            color = sys.stdout.isatty()
            print("\n".join([*queues_text(stats, color=color), "", agent_summary(stats["agents"])]))
        return 0

    return run_command(args, show)
