"""``acd call priority CALL N`` and ``acd call move CALL QUEUE``: supervisor actions on a waiting call."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser("call", help="change a waiting call's priority or move it to another queue", epilog=EXIT_CODES_HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    priority = actions.add_parser("priority", help="set the call's priority (higher is served first; -1000..1000)", epilog=EXIT_CODES_HELP)
    priority.add_argument("call_id", metavar="CALL", help="the call id (acd calls)")
    priority.add_argument("priority", metavar="N", type=int, help="the new priority")
    move = actions.add_parser("move", help="move the call to another queue; it keeps its wait", epilog=EXIT_CODES_HELP)
    move.add_argument("call_id", metavar="CALL", help="the call id (acd calls)")
    move.add_argument("queue", metavar="QUEUE", help="the queue to move it to")
    for sub in (priority, move):
        add_client_arguments(sub)
        sub.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from acd.cli._api_client import ApiClient, print_json, run_command
    from acd.cli._tables import calls_text

    def act(client: ApiClient) -> int:
        body = {"priority": args.priority} if args.action == "priority" else {"queue": args.queue}
        call = client.post(f"/api/calls/{quote(args.call_id, safe='')}/{args.action}", body)
        if args.json:
            print_json(call)
        else:
            print("\n".join(calls_text([call])))
        return 0

    return run_command(args, act)
