"""The ``acd`` command.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``; modules are discovered, so adding a command never means
editing a central table that several people touch at once.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from acd import __version__
from acd.checkout import CheckoutNotFound


def command_names() -> list[str]:
    """Every subcommand, one per module of this package (the module is named after it)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: when it names a command, only that command's module is imported.

    Importing all of them (numpy, httpx, the API, the lab harness…) cost about a second
    of CPU at every start; a command pays only for what it uses.  Without a command, or
    with an unknown one, every command is registered so help and errors list them all.
    """
    parser = argparse.ArgumentParser(prog="acd", description="IVR/ACD engine beside Asterisk")
    parser.add_argument("--version", action="version", version=f"acd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = command_names()
    first = next((arg for arg in argv or () if not arg.startswith("-")), None)
    for name in [first] if first in names else names:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except CheckoutNotFound as exc:  # a lab command run from an installed acd, outside a checkout
        print(f"acd: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
