"""``acd agent login|logout|pause|unpause|code AGENT``: act on one agent of the running engine.

``code AGENT CODE`` enters the disposition of the call the agent is wrapping up (one of
its queue's ``dispositions``); the wrap-up ends at once.

A logout or pause asked for during a call takes effect when the call ends (the call is
never cut); the printed state then shows what is pending.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    parser = subparsers.add_parser("agent", help="log an agent in or out, pause (with a reason) or unpause", epilog=EXIT_CODES_HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("login", "log the agent in: available for calls at once"),
        ("logout", "log the agent out (after the current call)"),
        ("pause", "pause the agent (after the current call's wrap-up)"),
        ("unpause", "make a paused agent available"),
    ):
        sub = actions.add_parser(action, help=help_text, epilog=EXIT_CODES_HELP)
        sub.add_argument("agent_id", metavar="AGENT", help="the agent's id in the routing configuration")
        if action in ("pause", "logout"):
            sub.add_argument("--reason", default=None, help="why (kept in the event log), e.g. almuerzo")
        add_client_arguments(sub)
        sub.set_defaults(handler=run)
    code = actions.add_parser("code", help="enter the disposition of the call the agent is wrapping up (ends the wrap-up)", epilog=EXIT_CODES_HELP)
    code.add_argument("agent_id", metavar="AGENT", help="the agent in wrap-up")
    code.add_argument("code", metavar="CODE", help="one of the queue's disposition codes, e.g. venta")
    add_client_arguments(code)
    code.set_defaults(handler=run)
    monitor = actions.add_parser(
        "monitor", help="listen, whisper or barge on the agent's live call: your phone rings first (audited)", epilog=EXIT_CODES_HELP
    )
    monitor.add_argument("agent_id", metavar="AGENT", help="the agent on a call")
    monitor.add_argument("--mode", choices=("listen", "whisper", "barge"), default="listen",
                         help="listen: hear both sides; whisper: speak to the agent only; barge: speak to both")
    monitor.add_argument("--supervisor", required=True, metavar="DIAL", help="the phone to ring, e.g. PJSIP/agent6")
    add_client_arguments(monitor)
    monitor.set_defaults(handler=run_monitor)


def run(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from acd.cli._api_client import ApiClient, print_json, run_command
    from acd.cli._tables import agents_text

    def act(client: ApiClient) -> int:
        body = {"reason": args.reason} if getattr(args, "reason", None) else None
        if args.action == "code":
            body = {"code": args.code}
        path = "disposition" if args.action == "code" else args.action
        agent = client.post(f"/api/agents/{quote(args.agent_id, safe='')}/{path}", body)
        if args.json:
            print_json(agent)
        else:
            print("\n".join(agents_text([agent], color=sys.stdout.isatty())))
        return 0

    return run_command(args, act)


def run_monitor(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from acd.cli._api_client import ApiClient, print_json, run_command

    def act(client: ApiClient) -> int:
        result = client.post(f"/api/agents/{quote(args.agent_id, safe='')}/monitor", {"mode": args.mode, "supervisor": args.supervisor})
        if args.json:
            print_json(result)
        else:
            print(f"{result['mode']}: ringing {result['supervisor']} for {result['agent_id']}'s call {result['call_id']}")
        return 0

    return run_command(args, act)
