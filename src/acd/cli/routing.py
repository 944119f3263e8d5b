"""``acd routing validate``: check a routing file before the engine meets it.

Ops staff edit ``routing.yaml`` (queues, skills, agents, expansion rules) by hand; a
mistake must show on their screen, not at the next engine start.  The checks are the
engine's own (:func:`acd.routing.load_routing_config`), so a file this command accepts is
a file the engine accepts.

``acd routing reload`` asks the running engine (control API) to apply its routing file
now instead of within ``routing.reload_interval_s``.

Exit codes: 0 valid, 1 problems found, 2 bad usage (no such file, bad settings).
Problems print as ``FILE:LINE:COL: message`` (``--json``: a list of objects).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from acd.cli._common import add_settings_argument, settings_or_exit
from acd.routing import load_routing_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("routing", help="routing configuration: validate", description="Check routing files.")
    commands = parser.add_subparsers(dest="routing_command", metavar="SUBCOMMAND")
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])
    validate = commands.add_parser("validate", help="check a routing file; exit 1 when any problem is found")
    validate.add_argument("path", nargs="?", metavar="FILE", help="routing file (default: routing.config from the settings)")
    validate.add_argument("--json", action="store_true", help="print problems as a JSON list of {file, line, column, message}")
    add_settings_argument(validate)
    validate.set_defaults(handler=cmd_validate)
    from acd.cli._api_options import EXIT_CODES_HELP, add_client_arguments

    reload = commands.add_parser(
        "reload", help="make the running engine apply the routing file now (exit 1 when it refused it)", epilog=EXIT_CODES_HELP
    )
    add_client_arguments(reload)
    reload.set_defaults(handler=cmd_reload)


def cmd_validate(args: argparse.Namespace) -> int:
    if args.path is not None:
        path = Path(args.path)
    else:
        settings = settings_or_exit(args)
        if isinstance(settings, int):
            return settings
        path = settings.resolve(settings.routing.config)
    if not path.is_file():
        print(f"acd routing: {path}: no such file", file=sys.stderr)
        return 2
    config, problems = load_routing_config(path)
    if args.json:
        print(json.dumps([problem.as_dict() for problem in problems], ensure_ascii=False, indent=2))
    else:
        for problem in problems:
            print(problem)
    if config is None or problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    print(
        f"ok: {path}: {len(config.queues)} queue(s), {len(config.agents)} agent(s), {len(config.skills)} skill(s)",
        file=sys.stderr,
    )
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    """Ask the engine (control API) to check its routing file now; print what it did."""
    from acd.cli._api_client import ApiClient, print_json, run_command

    def act(client: ApiClient) -> int:
        result = client.post("/api/routing/reload")
        if args.json:
            print_json(result)
        elif result["status"] == "rejected":
            for line in result["problems"]:
                print(line)
            print("refused: the engine keeps the routing it had", file=sys.stderr)
        elif result["status"] == "unchanged":
            print(f"unchanged: the engine already runs version {result['version']}")
        else:
            changed = "; ".join(f"{key.replace('_', ' ')}: {', '.join(names)}" for key, names in result["changes"].items() if names)
            print(f"applied version {result['version']}: {changed or 'no routing change'}")
        return 1 if result["status"] == "rejected" else 0

    return run_command(args, act)
