"""Where the acd checkout is: the lab script, the deploy/ folder, the sample settings.

The lab, the demo and the lab benchmarks drive files that live beside the package in a
checkout (``deploy/asterisk/lab.sh``, ``deploy/ami-recordings``, ``acd.yaml``), not inside
it.  ``Path(__file__).parents[3]`` found them only while ``acd`` ran from its source tree;
installed elsewhere it pointed into site-packages.  So the checkout is looked up once,
here: ``$ACD_REPO`` when set, else the first folder above this file, then above the
current directory, that holds both ``pyproject.toml`` and ``deploy/asterisk/lab.sh``.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("pyproject.toml", "deploy/asterisk/lab.sh")


def _is_checkout(folder: Path) -> bool:
    return all((folder / marker).is_file() for marker in _MARKERS)


def checkout_root() -> Path:
    """The checkout's root folder (see the module docstring); the current folder when none is found.

    Never raises: commands that need the lab say what is missing when they look for
    :func:`lab_script` (a missing checkout is then one clear line, not a traceback at import).
    """
    configured = os.environ.get("ACD_REPO", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if _is_checkout(folder):
                return folder
    return Path.cwd().resolve()


def lab_script() -> Path:
    """``deploy/asterisk/lab.sh`` of the checkout; FileNotFoundError naming what to set when absent."""
    script = checkout_root() / "deploy" / "asterisk" / "lab.sh"
    if not script.is_file():
        raise FileNotFoundError(f"{script}: the Asterisk lab script is not there; run from an acd checkout or set ACD_REPO to one")
    return script


__all__ = ["checkout_root", "lab_script"]
