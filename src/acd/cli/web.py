"""``acd web``: serve the web console (its own process; see ``acd.web``).

Examples::

    acd user add ana --full-name "Ana Pérez" --role admin
    acd web                            # http://127.0.0.1:8574/
    acd web --host 127.0.0.1 --port 9000

It binds loopback by default: expose it only through a TLS reverse proxy, with
``web.secure_cookies: true`` (README, "Web console").  The proxy's ``X-Forwarded-For``
is believed only from loopback, so lock-out counts the real client's address.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from acd.cli._common import add_settings_argument, settings_or_exit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("web", help="serve the web console (wallboard, reports, admin) on 127.0.0.1:8574",
                                   description="Serve the web console. Accounts: acd user add.")
    add_settings_argument(parser)
    parser.add_argument("--host", help="address to bind (default: web.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: web.port, 8574)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default=None)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import socket

    import uvicorn
    from pydantic import ValidationError

    from acd.accounts.store import AccountError, AccountStore
    from acd.logs import configure_logging
    from acd.metrics.store import StoreError
    from acd.metrics.store_sync import errors as store_errors
    from acd.private_files import private_umask
    from acd.settings import WebSettings
    from acd.web.app import create_app

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    if overrides:
        try:
            web = WebSettings.model_validate({**settings.web.model_dump(), **overrides})
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                print(f"acd web: error: --{error['loc'][0]}: {error['msg']}", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"web": web})
    configure_logging(args.log_level or settings.log.level, settings.log.format)
    private_umask(settings.files.private)
    try:
        accounts = AccountStore.from_settings(settings)
    except (AccountError, OSError, StoreError, *store_errors()) as exc:
        print(f"acd web: error: account store: {exc}", file=sys.stderr)
        return 1
    if not accounts.accounts():
        print("acd web: no accounts yet; create one: acd user add NAME --full-name '...' --role admin", file=sys.stderr)
    app = create_app(settings, accounts=accounts, warm_cells=True)  # past days' report figures, built in the background
    host = settings.web.host
    url_host = f"[{host}]" if ":" in host else host
    try:  # bound here, not by uvicorn: a busy port is one line and exit 1, not uvicorn's own exit
        sock = socket.create_server((host, settings.web.port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        print(f"acd web: error: cannot listen on {host}:{settings.web.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    config = uvicorn.Config(app, log_level=args.log_level or "warning", access_log=False, proxy_headers=True,
                            forwarded_allow_ips="127.0.0.1", server_header=False,
                            timeout_graceful_shutdown=3)  # live streams never end by themselves: without it SIGTERM waits forever
    print(f"acd web: http://{url_host}:{settings.web.port}/", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
