"""Command-line options shared by the commands that talk to the control API.

Import-light on purpose (no httpx): every ``acd`` invocation builds every command's
parser, so only the handler of an API command imports the HTTP client.
"""

from __future__ import annotations

import argparse
import ipaddress

from acd.bounds import HOUR, number_arg
from acd.cli._common import add_settings_argument

EXIT_CODES_HELP = "Exit codes: 0 ok, 1 refused (unknown agent/call/queue, router said no, invalid value), 2 usage or settings, 3 engine not reachable, 4 token refused or missing."


def add_client_arguments(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    add_settings_argument(parser)
    parser.add_argument("--url", metavar="URL", help="the engine's API, e.g. http://127.0.0.1:8573 (default: from the settings' api section)")
    parser.add_argument("--token", metavar="TOKEN", help="API token (default: $ACD_API_TOKEN; prefer the environment, a token here shows in ps)")
    parser.add_argument("--timeout", type=number_arg(0, HOUR, low_open=True), default=5.0, metavar="SECONDS",
                        help="give up on the engine after this long (default 5, at most 3600)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")


def default_url(host: str, port: int) -> str:
    """An API bound to every address is reached on loopback; IPv6 literals get brackets."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"
