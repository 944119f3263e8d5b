"""Application assembly: which routes and components a real ``acd run`` has.

``acd.engine`` knows lifecycle; this module knows the product: the IVR route, the event
store, the ACD.  Tests build engines the same way, so what they prove is what runs.
"""

from __future__ import annotations

from acd.engine import Engine
from acd.settings import Settings


class AppError(Exception):
    """The engine cannot be assembled (e.g. invalid flows or routing configuration)."""


def build_engine(settings: Settings) -> Engine:
    engine = Engine(settings)
    return engine
