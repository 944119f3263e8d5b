"""Test doubles for the IVR: a scripted caller, a fake clock and an event recorder.

``ScriptedChannel`` plays back what a caller does and records what the IVR did, with
simulated time so timeouts are exact and tests never sleep.  Time model:

* A script item ``Press(key, after=s)`` is the caller pressing ``key`` ``s`` seconds
  after the IVR starts listening (or after the previous key).  ``Silence()`` lets one
  ``wait_for_digit`` time out; ``HangUp()`` hangs up at the next prompt or wait.  A script
  that has run out is a caller who stays silent.
* Each prompt lasts ``prompt_seconds`` (default 0).  A key pressed while an interruptible
  prompt plays (``after <= prompt_seconds``) interrupts it; a key pressed strictly inside
  a prompt that cannot be interrupted is lost, as on a real line (see ``discarded``).
* ``wait_for_digit(t)`` returns a key pressed within ``t`` seconds, else None after ``t``;
  the time spent waiting is taken off the next key's ``after``.
* ``hangup_at_call=N`` makes the N-th channel call (1-based) find the caller gone, to
  prove a hang-up at any point ends the run cleanly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Mapping, Union

from acd.ivr.channel import CallerHungUp, PromptNotFound
from acd.base.events import Event


@dataclass(frozen=True)
class Press:
    key: str
    after: float = 0.0


@dataclass(frozen=True)
class Silence:
    """The caller does nothing while the IVR waits once for a key."""


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up at the next prompt or wait."""


Action = Union[Press, Silence, HangUp]


def keys(digits: str, gap: float = 0.0, first_after: float = 0.0) -> list[Press]:
    """``keys("123#", gap=1)``: presses one second apart."""
    return [Press(key, first_after if index == 0 else gap) for index, key in enumerate(digits)]


class FakeClock:
    """UNIX time that only moves when told to (the channel advances it while 'waiting')."""

    def __init__(self, start: float | datetime = 1_700_000_000.0) -> None:
        self.now = start.timestamp() if isinstance(start, datetime) else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class EventRecorder(list[Event]):
    """An ``emit`` callable that keeps every event."""

    def __call__(self, event: Event) -> None:
        self.append(event)

    def types(self) -> list[str]:
        return [event.type for event in self]

    def of(self, kind: str) -> list[Event]:
        return [event for event in self if event.type == kind]


class ScriptedChannel:
    """A ``Channel`` driven by a script of caller actions; records everything the IVR does."""

    def __init__(
        self,
        script: Iterable[Action | str] = (),
        *,
        call_id: str = "call-1",
        caller: str = "56912345678",
        dialed: str = "100",
        clock: FakeClock | None = None,
        prompt_seconds: float = 0.0,
        missing: Iterable[str] = (),
        hangup_at_call: int | None = None,
        channel_variables: Mapping[str, str] | None = None,
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialed = dialed
        self.clock = clock or FakeClock()
        self.prompt_seconds = prompt_seconds
        self.missing = set(missing)
        self.hangup_at_call = hangup_at_call
        self.script: deque[Action] = deque(_expand(script))
        self.variables: dict[str, str] = dict(channel_variables or {})
        self.language = "en"
        self.played: list[str] = []
        self.played_in: list[tuple[str, str]] = []  # (language, prompt)
        self.discarded: list[str] = []
        self.log: list[tuple[object, ...]] = []
        self.calls = 0
        self.answered = False
        self.hung_up = False  # by the IVR
        self.caller_gone = False

    # -- helpers ------------------------------------------------------------------------

    def _enter(self, *entry: object) -> None:
        self.calls += 1
        self.log.append(entry)
        if self.hangup_at_call is not None and self.calls >= self.hangup_at_call:
            self.caller_gone = True
        if self.caller_gone or self.hung_up:
            raise CallerHungUp(f"caller gone at channel call {self.calls}")

    def _caller_hangs_up_now(self) -> None:
        if self.script and isinstance(self.script[0], HangUp):
            self.script.popleft()
            self.caller_gone = True
            raise CallerHungUp("caller hung up")

    def _is_missing(self, prompt: str) -> bool:
        return prompt in self.missing or f"{self.language}:{prompt}" in self.missing

    # -- Channel ------------------------------------------------------------------------

    async def answer(self) -> None:
        self._enter("answer")
        self.answered = True

    async def set_language(self, language: str) -> None:
        self._enter("set_language", language)
        self.language = language

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        self._enter("stream_file", self.language, prompt, escape_digits)
        self._caller_hangs_up_now()
        if self._is_missing(prompt):
            raise PromptNotFound(prompt)
        self.played.append(prompt)
        self.played_in.append((self.language, prompt))
        elapsed = 0.0
        while self.script and isinstance(self.script[0], Press):
            press = self.script[0]
            at = elapsed + press.after
            inside = at <= self.prompt_seconds if escape_digits else at < self.prompt_seconds
            if not inside:
                break
            self.script.popleft()
            elapsed = at
            if escape_digits and press.key in escape_digits:
                self.clock.advance(elapsed)
                return press.key
            self.discarded.append(press.key)
        if self.script and isinstance(self.script[0], Press):
            head = self.script[0]
            self.script[0] = replace(head, after=max(0.0, head.after - (self.prompt_seconds - elapsed)))
        self.clock.advance(self.prompt_seconds)
        return None

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        self._enter("wait_for_digit", timeout_s)
        self._caller_hangs_up_now()
        if not self.script:
            self.clock.advance(timeout_s)
            return None
        head = self.script[0]
        if isinstance(head, Silence):
            self.script.popleft()
            self.clock.advance(timeout_s)
            return None
        assert isinstance(head, Press)
        if head.after <= timeout_s:
            self.script.popleft()
            self.clock.advance(head.after)
            return head.key
        self.script[0] = replace(head, after=head.after - timeout_s)
        self.clock.advance(timeout_s)
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self._enter("set_variable", name, value)
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        self._enter("get_variable", name)
        return self.variables.get(name)

    async def exec(self, application: str, args: str = "") -> str:
        self._enter("exec", application, args)
        return "0"

    async def hangup(self) -> None:
        self._enter("hangup")
        self.hung_up = True


def _expand(script: Iterable[Action | str]) -> list[Action]:
    actions: list[Action] = []
    for item in script:
        if isinstance(item, str):
            actions.extend(Press(key) for key in item)
        else:
            actions.append(item)
    return actions
