"""The IVR's ``Channel`` interface implemented with FastAGI commands.

Only this package knows AGI's result codes: ``STREAM FILE`` answers ``result=-1`` both
for a missing sound and for a hung-up channel, so a -1 is followed by ``CHANNEL STATUS``
to tell the two apart.
"""

from __future__ import annotations

import contextlib
import re
from typing import AsyncIterator

from acd.asterisk.fastagi import AgiHangup, AgiSession, AgiTimeout
from acd.ivr.channel import CallerHungUp, PromptNotFound

#: Extra seconds allowed beyond a command's own duration before we call Asterisk silent.
COMMAND_MARGIN_S = 10.0
#: A prompt may be long (a full announcement); this bounds one STREAM FILE.
MAX_PROMPT_S = 300.0
#: The AGI parameter with which a dialplan says it answered the channel before ``AGI()``
#: (``…/ivr?answered=yes`` in dialplans/acd.conf): the ANSWER round trip is then skipped.
ANSWERED_PARAM = "answered"
#: A name MSet writes: a variable, or a dialplan function with one plain argument
#: (``CHANNEL(userfield)``; MSet's argument parser keeps what is inside parentheses whole).
_MSET_NAME = re.compile(r"[\w.:/+@-]+(\(\w+\))?\Z")
#: A value MSet takes as it is (no ``,`` ``=``, quote, backslash, ``$`` or space); ``|`` too (an argument separator only under res_agi's 1.4
#: compatibility, which ``asterisk.conf`` does not turn on).
_MSET_VALUE = re.compile(r"[\w.:/+@|-]+\Z")


def _digit(result: int) -> str | None:
    if result <= 0:
        return None
    return chr(result)


class AgiChannel:
    """A call reached over FastAGI."""

    def __init__(self, session: AgiSession) -> None:
        self.session = session
        request = session.request
        self.call_id = request.unique_id
        self.caller = request.caller
        self.dialed = request.env.get("agi_extension", "") if request.dialed in ("", "unknown") else request.dialed
        self.channel_name = request.channel
        #: the channel's language as far as this session knows (Asterisk tells it at the start)
        self._language = request.env.get("agi_language", "")
        self._answered = request.params.get(ANSWERED_PARAM) == "yes"
        #: variables held back by ``batched()`` until its block ends (None: write at once)
        self._held: dict[str, str] | None = None

    async def _command(self, command: str, *args: str, timeout_s: float | None = None):  # noqa: ANN202
        if self._held:  # a command inside batched(): what was written before it goes first
            held, self._held = self._held, {}
            await self._write_variables(held)
        return await self._send(command, *args, timeout_s=timeout_s)

    async def _send(self, command: str, *args: str, timeout_s: float | None = None):  # noqa: ANN202
        try:
            return await self.session.command(command, *args, timeout_s=timeout_s)
        except AgiHangup as exc:
            raise CallerHungUp(str(exc)) from exc
        except AgiTimeout as exc:
            # A silent Asterisk is as good as a lost call: stop this run cleanly.
            raise CallerHungUp(str(exc)) from exc

    async def _is_alive(self) -> bool:
        response = await self._command("CHANNEL STATUS")
        return response.ok and response.result_int >= 0

    async def answer(self) -> None:
        """ANSWER, unless the dialplan said it answered already (one round trip less per call)."""
        if self._answered:
            return
        response = await self._command("ANSWER")
        if response.result_int < 0:
            raise CallerHungUp("ANSWER failed")
        self._answered = True

    async def set_language(self, language: str) -> None:
        """Set the channel's language, unless it already is that (one AGI round trip less
        per call when the dialplan chose the flow's language, as the lab's does)."""
        if language and language == self._language:
            return
        await self.set_variable("CHANNEL(language)", language)
        self._language = language

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        response = await self._command("STREAM FILE", prompt, escape_digits, timeout_s=MAX_PROMPT_S + COMMAND_MARGIN_S)
        result = response.result_int
        if result < 0:
            if await self._is_alive():
                raise PromptNotFound(prompt)
            raise CallerHungUp(f"hung up during {prompt}")
        if result == 0 and response.extras.get("endpos") == "0" and not await self._is_alive():
            raise CallerHungUp(f"hung up before {prompt}")
        return _digit(result)

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        millis = max(1, int(timeout_s * 1000))
        response = await self._command("WAIT FOR DIGIT", str(millis), timeout_s=timeout_s + COMMAND_MARGIN_S)
        result = response.result_int
        if result < 0:
            raise CallerHungUp("hung up while waiting for a digit")
        return _digit(result)

    @contextlib.asynccontextmanager
    async def batched(self) -> AsyncIterator[None]:
        """Variables set inside the block are written together when it ends (one ``EXEC
        MSet`` where ``set_variables`` can), and not at all if the block raises.

        The queue hand-off labels the call (the dispatcher) and then names the next step
        (the flow): two writes that need no answer in between, and nothing in Asterisk
        reads them before the AGI session ends.  Nesting writes at the outer block's end."""
        if self._held is not None:
            yield
            return
        self._held = {}
        try:
            yield
            held = self._held
        finally:
            self._held = None
        if held:
            await self._write_variables(held)

    async def set_variable(self, name: str, value: str) -> None:
        if self._held is not None:
            self._held.pop(name, None)  # a later write of the same name wins, in its place
            self._held[name] = value
            return
        await self._send("SET VARIABLE", name, value)

    async def set_variables(self, variables: dict[str, str]) -> None:
        """Several variables in one round trip (``EXEC MSet``) where their values allow it.

        MSet splits on ``,`` and ``=`` and strips quotes and backslashes, and an empty value
        is not certain to be written: those go one by one with ``SET VARIABLE``."""
        if self._held is not None:
            for name, value in variables.items():
                await self.set_variable(name, value)
            return
        await self._write_variables(variables)

    async def _write_variables(self, variables: dict[str, str]) -> None:
        plain = {name: value for name, value in variables.items() if value and _MSET_NAME.match(name) and _MSET_VALUE.match(value)}
        if len(plain) > 1:
            response = await self._send("EXEC", "MSet", ",".join(f"{name}={value}" for name, value in plain.items()))
            if response.result_int == -2:
                plain = {}  # no MSet on this Asterisk: one by one below
        else:
            plain = {}
        for name, value in variables.items():
            if name not in plain:
                await self._send("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        response = await self._command("GET VARIABLE", name)
        if response.result_int == 1:
            return response.data or ""
        return None

    async def exec(self, application: str, args: str = "") -> str:
        response = await self._command("EXEC", application, args, timeout_s=3600)
        if response.result_int == -2:
            raise ValueError(f"Asterisk has no application {application!r}")
        return response.result

    async def hangup(self) -> None:
        try:
            await self._command("HANGUP")
        except CallerHungUp:
            pass
