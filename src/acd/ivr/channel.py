"""The one interface between the IVR runner and a live call.

The runner never speaks AGI itself: it drives a ``Channel``.  Production wraps a FastAGI
session; tests and benchmarks use ``acd.ivr.testing.ScriptedChannel``.  Keeping the
surface this small (play, wait for a key, variables, exec, hang up) is what lets every
node type be tested without Asterisk.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class CallerHungUp(Exception):
    """The caller is gone; the runner must stop cleanly."""


class PromptNotFound(Exception):
    """Asterisk could not play the named prompt."""


@runtime_checkable
class Channel(Protocol):
    """One call as the IVR sees it; every method raises ``CallerHungUp`` once the caller has hung up."""

    call_id: str
    caller: str
    dialed: str

    async def answer(self) -> None: ...

    async def set_language(self, language: str) -> None: ...

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        """Play ``prompt``; return the digit that interrupted it, or None when played to the end.

        Raises ``PromptNotFound`` when Asterisk has no such sound in the channel language.
        """
        ...

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        """Return the next key the caller presses, or None after ``timeout_s`` seconds."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...

    async def exec(self, application: str, args: str = "") -> str: ...

    async def hangup(self) -> None: ...
