"""``acd agents``: every configured agent of the running engine, its state and today's calls."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser(
        "agents",
        help="agents of the running engine: state, since when, current call, skills, calls handled today",
        epilog=EXIT_CODES_HELP,
    )
    add_client_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from acd.cli._api_client import ApiClient, print_json, run_command
    from acd.cli._tables import agents_text

    def show(client: ApiClient) -> int:
        agents = client.get("/api/agents")
        if args.json:
            print_json(agents)
        else:
            print("\n".join(agents_text(agents, color=sys.stdout.isatty())))
        return 0

    return run_command(args, show)
