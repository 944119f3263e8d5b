"""``acd calls``: calls waiting (with their place in the queue), ringing and connected."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser(
        "calls",
        help="calls in the running engine's queues: position, wait, priority; ringing and connected calls",
        epilog=EXIT_CODES_HELP,
    )
    add_client_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from acd.cli._api_client import ApiClient, print_json, run_command
    from acd.cli._tables import calls_text

    def show(client: ApiClient) -> int:
        calls = client.get("/api/calls")
        if args.json:
            print_json(calls)
        elif calls:
            print("\n".join(calls_text(calls)))
        else:
            print("no calls in the queues")
        return 0

    return run_command(args, show)
