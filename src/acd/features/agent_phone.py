"""Agents at their own phone: feature codes to log in or out, pause and unpause.

The dialplan sends ``*45`` (login/logout toggle), ``*46`` or ``*46N`` (pause, N a reason
digit from the routing file's ``pause_reasons``) and ``*47`` (unpause) from the agents'
context to the FastAGI route ``agent`` with the action as its argument.  Which agent is
calling is read from the channel's endpoint (``PJSIP/agent1-0000002a`` → ``PJSIP/agent1``),
matched against the routing file, and confirmed by the agent's PIN when the file gives one
(``pin:``, 4–8 digits, asked with ``agent-pass``; three wrong tries end the call).

The action goes through the dispatcher exactly as the API's does: the router decides, and
the ``agent.state`` event it emits is the only record (no second source of agent state).
The agent hears what happened — logged in, logged out, paused (a beep), available again
(two rising tones), call coded (``*48N`` in wrap-up: the disposition whose ``digit`` is N in
the queue of the call being wrapped up; a beep) — or an error tone when the router refused (pausing a logged-out agent).

Failure rule: whatever goes wrong (unknown phone, bad reason digit, wrong PIN, a hang-up
halfway), the agent's state is unchanged unless the router accepted the action, and the
call ends; nothing here can raise into the FastAGI server.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Protocol

from acd.ivr.channel import CallerHungUp, PromptNotFound
from acd.routing.config import RoutingConfig
from acd.routing.decisions import Ignored, Outcome

log = logging.getLogger("acd.agent_phone")

ACTIONS = ("toggle", "login", "logout", "pause", "unpause", "disposition")
PROMPTS = {
    "login": "agent-loginok",
    "logout": "agent-loggedoff",
    "pause": "beep",
    "unpause": "ascending-2tone",
    "disposition": "beep",
    "refused": "beeperr",
    "unknown_phone": "pbx-invalid",
    "pin": "agent-pass",
    "wrong_pin": "agent-incorrect",
}
PIN_TRIES = 3
PIN_DIGIT_TIMEOUT_S = 5.0
_CHANNEL = re.compile(r"^(?P<endpoint>[A-Za-z0-9]+/[A-Za-z0-9_.@-]+)-[0-9a-fA-F]+(?:;\d+)?$")


class AgentActions(Protocol):
    """What the dispatcher offers the API and this route alike."""

    def agent_login(self, agent_id: str) -> list[Outcome]: ...
    def agent_logout(self, agent_id: str, reason: str = "logout") -> list[Outcome]: ...
    def agent_pause(self, agent_id: str, reason: str = "pause") -> list[Outcome]: ...
    def agent_unpause(self, agent_id: str) -> list[Outcome]: ...
    def disposition(self, agent_id: str, code: str, call_id: str | None = None, by: str = "agent") -> list[Outcome]: ...
    def wrap_up_queue(self, agent_id: str) -> str | None: ...


class PhoneChannel(Protocol):
    """The part of a FastAGI channel this route uses (``acd.asterisk.agi_channel.AgiChannel``)."""

    channel_name: str

    async def answer(self) -> None: ...
    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None: ...
    async def wait_for_digit(self, timeout_s: float) -> str | None: ...


def endpoint_of(channel_name: str) -> str | None:
    """``PJSIP/agent1-0000002a`` → ``PJSIP/agent1``; None for anything else."""
    match = _CHANNEL.match(channel_name)
    return match.group("endpoint") if match else None


@dataclass
class AgentPhoneCodes:
    """The FastAGI route ``agent``: one call from an agent's phone, one action."""

    config: Callable[[], RoutingConfig]
    actions: AgentActions
    state_of: Callable[[str], str | None]

    async def handle(self, channel: PhoneChannel, args: tuple[str, ...]) -> str:
        """Carry out ``args`` (action, optional reason digit); returns what was done, for logs and tests."""
        action = args[0] if args else ""
        try:
            await channel.answer()
            agent_id = self._agent_for(channel.channel_name)
            if agent_id is None:
                log.warning("feature code from %s: not an agent's phone in the routing file", channel.channel_name)
                await _say(channel, PROMPTS["unknown_phone"])
                return "unknown-phone"
            if action not in ACTIONS:
                log.warning("feature code from %s: unknown action %r (dialplan)", channel.channel_name, action)
                await _say(channel, PROMPTS["refused"])
                return "unknown-action"
            if not await self._pin_ok(channel, agent_id):
                log.warning("feature code from %s: wrong PIN for agent %s", channel.channel_name, agent_id)
                return "wrong-pin"
            done = self._apply(agent_id, action, args[1] if len(args) > 1 else "")
            await _say(channel, PROMPTS.get(done, PROMPTS["refused"]))
            log.info("agent %s by phone: %s -> %s", agent_id, action, done)
            return done
        except CallerHungUp:
            return "hung-up"

    def _agent_for(self, channel_name: str) -> str | None:
        endpoint = endpoint_of(channel_name)
        if endpoint is None:
            return None
        return next((agent.id for agent in self.config().agents if agent.endpoint == endpoint), None)

    async def _pin_ok(self, channel: PhoneChannel, agent_id: str) -> bool:
        agent = self.config().agent(agent_id)
        pin = agent.pin if agent is not None else None
        if not pin:
            return True
        for _ in range(PIN_TRIES):
            first = await _say(channel, PROMPTS["pin"], "0123456789")
            typed = first or ""
            while len(typed) < len(pin):
                digit = await channel.wait_for_digit(PIN_DIGIT_TIMEOUT_S)
                if digit is None or not digit.isdigit():
                    break
                typed += digit
            if typed == pin:
                return True
            await _say(channel, PROMPTS["wrong_pin"])
        return False

    def _apply(self, agent_id: str, action: str, reason_digit: str) -> str:
        state = self.state_of(agent_id)
        if action == "toggle":
            action = "login" if state == "logged_out" else "logout"
        if action == "login":
            outcomes = self.actions.agent_login(agent_id)
        elif action == "logout":
            outcomes = self.actions.agent_logout(agent_id, "logout-by-phone")
        elif action == "pause":
            reason = self._reason(reason_digit)
            if reason is None:
                return "refused"
            outcomes = self.actions.agent_pause(agent_id, reason)
        elif action == "disposition":
            code = self._disposition(agent_id, reason_digit)
            if code is None:
                return "refused"
            outcomes = self.actions.disposition(agent_id, code, by="phone")
        else:
            outcomes = self.actions.agent_unpause(agent_id)
        if any(isinstance(o, Ignored) and o.agent_id in (agent_id, None) for o in outcomes):
            return "refused"
        return action

    def _disposition(self, agent_id: str, digit: str) -> str | None:
        """The code the digit chooses in the queue of the call the agent is wrapping up."""
        queue_name = self.actions.wrap_up_queue(agent_id)
        queue = self.config().queue(queue_name) if queue_name else None
        if queue is None or queue.dispositions is None or not digit:
            return None
        return next((item.code for item in queue.dispositions.codes if item.digit == digit), None)

    def _reason(self, digit: str) -> str | None:
        """``pause`` without a digit; the routing file's reason for a known digit; None otherwise."""
        if not digit:
            return "pause"
        if not (len(digit) == 1 and digit.isdigit()):
            return None
        return self.config().pause_reasons.get(digit)


async def _say(channel: PhoneChannel, prompt: str, escape_digits: str = "") -> str | None:
    """Play ``prompt``; a missing sound file is logged and skipped (the action stands)."""
    try:
        return await channel.stream_file(prompt, escape_digits)
    except PromptNotFound:
        log.warning("feature code prompt %r is not installed in Asterisk's sounds", prompt)
        return None


__all__ = ["ACTIONS", "PROMPTS", "AgentPhoneCodes", "endpoint_of"]
