"""``acd sbom``: write the declared list of software components (CycloneDX 1.5 JSON).

Examples::

    acd sbom -o dist/sbom.cdx.json                         # Python env + the lab's Asterisk root
    acd sbom -o sbom.json --asterisk-root /                # on a production host: its own packages
    acd sbom -o sbom.json --no-asterisk                    # the engine's Python environment only

The list is read from what is installed (see :mod:`acd.sbom`), so it is as current as the
environment it runs in.  Exit 2 when the Asterisk root named has no package database.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from acd import __version__
from acd.sbom import build_sbom, deb_components, python_components, unknown_licences, write_sbom


def default_asterisk_root() -> Path:
    """Where ``deploy/asterisk/lab.sh`` builds the lab's Debian root (``ACD_LAB_CACHE``)."""
    cache = Path(os.environ.get("ACD_LAB_CACHE") or Path.home() / ".cache" / "acd")
    return cache / "asterisk-root"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sbom",
        help="write the list of software components with versions and licences (CycloneDX JSON)",
        description="Write a CycloneDX 1.5 SBOM of the installed Python environment and the Asterisk packages.",
    )
    parser.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write the JSON document")
    parser.add_argument(
        "--asterisk-root", metavar="DIR", type=Path, default=None,
        help="Debian root whose packages run Asterisk (default: the lab's root in $ACD_LAB_CACHE or ~/.cache/acd)",
    )
    parser.add_argument("--no-asterisk", action="store_true", help="list the Python environment only")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    components = python_components()
    if not args.no_asterisk:
        root = args.asterisk_root or default_asterisk_root()
        if not (root / "var/lib/dpkg/status").is_file():
            print(
                f"acd sbom: {root}: no Debian package database (var/lib/dpkg/status); "
                "build the lab root with 'make asterisk-up' or name one with --asterisk-root (or --no-asterisk)",
                file=sys.stderr,
            )
            return 2
        components += deb_components(root)
    output = Path(args.output)
    write_sbom(build_sbom(components, project_version=__version__), output)
    unknown = unknown_licences(components)
    print(f"acd sbom: {len(components)} components written to {output}", file=sys.stderr)
    if unknown:
        names = ", ".join(f"{c.name} {c.version}" for c in unknown[:10])
        print(f"acd sbom: warning: licence not found for {len(unknown)}: {names}", file=sys.stderr)
    return 0
