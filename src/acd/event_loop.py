"""The event loop ``acd run`` runs on: uvloop when installed and chosen, else asyncio's own.

Why: the engine's work per call is many small wake-ups (a FastAGI session's round trips,
each AMI event, timers), and in Python's own loop the loop's bookkeeping around each one
(selector, handles, transports) is a good part of the CPU a call costs.  uvloop does that
bookkeeping in C: measured on the parity bench's lab (20 calls/s, two runs each, alternated),
4.06 ms of engine CPU per call against 4.69 (README, "Side by side with Asterisk's own
queue").  The engine's code is the same on both; ``runtime.event_loop: asyncio`` is the way
back, and an install without uvloop (a platform with no wheel) falls back to it with one
line in the log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine, TypeVar

log = logging.getLogger("acd.event_loop")

T = TypeVar("T")


def loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """(the factory for ``asyncio.Runner``, the name of the loop it makes); None: asyncio's default."""
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("runtime.event_loop is uvloop but uvloop is not installed: running on asyncio's own loop")
            return None, "asyncio"
        return uvloop.new_event_loop, "uvloop"
    return None, "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    factory, name = loop_factory(choice)
    log.info("event loop: %s", name)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
