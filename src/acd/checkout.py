"""Where the acd checkout is: the one lookup for the lab's script, the recordings, ``acd.yaml``.

The lab tools (``acd demo``, ``acd bench cps|dispatch|faults``, recording) need files that
are not Python: ``deploy/asterisk/lab.sh``, ``deploy/ami-recordings``, the dialplans.  Each
module used to find them with ``Path(__file__).parents[3]``, which is the checkout only
while ``acd`` runs from one (``pip install -e``); installed, it points into
``site-packages``.  Here: ``$ACD_REPO`` if set, else the nearest folder above this file that
holds both ``pyproject.toml`` and ``deploy/asterisk/lab.sh``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

MARKERS = ("pyproject.toml", "deploy/asterisk/lab.sh")


class CheckoutNotFound(LookupError):
    """No acd checkout: the message says where it was looked for and how to name it."""


def _is_checkout(folder: Path) -> bool:
    return all((folder / marker).is_file() for marker in MARKERS)


def find_checkout(environ: Mapping[str, str] | None = None, start: Path | None = None) -> Path | None:
    """The checkout, or None (see the module docstring for the rule)."""
    environ = os.environ if environ is None else environ
    named = environ.get("ACD_REPO")
    if named:
        folder = Path(named).expanduser().resolve()
        return folder if _is_checkout(folder) else None
    here = (start or Path(__file__)).resolve()
    return next((folder for folder in here.parents if _is_checkout(folder)), None)


def checkout_root(environ: Mapping[str, str] | None = None, start: Path | None = None) -> Path:
    """The checkout; :class:`CheckoutNotFound` (one clear line) when there is none."""
    environ = os.environ if environ is None else environ
    found = find_checkout(environ, start)
    if found is not None:
        return found
    named = environ.get("ACD_REPO")
    if named:
        raise CheckoutNotFound(f"ACD_REPO={named} is not an acd checkout (it needs {' and '.join(MARKERS)})")
    raise CheckoutNotFound(
        f"no acd checkout above {(start or Path(__file__)).resolve().parent} (a folder with {' and '.join(MARKERS)}); "
        "set ACD_REPO to the repository's folder"
    )


def lab_script(environ: Mapping[str, str] | None = None) -> Path:
    """``deploy/asterisk/lab.sh`` of the checkout."""
    return checkout_root(environ) / "deploy" / "asterisk" / "lab.sh"
