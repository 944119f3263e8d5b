"""Agents' lamps: each agent's login/pause state as an Asterisk ``Custom:`` device state.

A phone's busy lamp (BLF) subscribed to the agent's lamp extension shows whether the agent
is logged out (``UNAVAILABLE``), paused (``ONHOLD``) or logged in (``NOT_INUSE``); the
dialplan's hint (``acd-agent-lamps``: ``exten => _[0-9a-zA-Z].,hint,Custom:acd-${EXTEN}``)
turns ``Custom:acd-<agent id>`` into that extension's state, and AMI reports every change
(``DeviceStateChange``; ``ExtensionStatus`` for watched hints).

Only login, logout and pause change a lamp, so an ordinary call costs no AMI action (the
phone's own device already shows it ringing or in use; cost per call is issue 20's
concern).  Lamps are written with ``Setvar DEVICE_STATE(Custom:acd-<id>)`` — the agent id
is checked against a strict pattern before it goes into the action.  Changes are coalesced
per agent (only the latest state is sent) and all lamps are written again at each AMI login,
so an Asterisk restart or an AMI gap never leaves a lamp stale for long.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from acd.base.events import Event

if TYPE_CHECKING:
    from acd.asterisk.ami import AmiClient

log = logging.getLogger("acd.asterisk.lamps")

LAMP_PREFIX = "acd-"
#: agent state -> Asterisk device state of the agent's lamp
LAMP_STATES = {"logged_out": "UNAVAILABLE", "paused": "ONHOLD"}
LOGGED_IN = "NOT_INUSE"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def lamp_state(agent_state: str) -> str:
    return LAMP_STATES.get(agent_state, LOGGED_IN)


def lamp_device(agent_id: str) -> str:
    """``Custom:acd-<agent id>``; ValueError for an id that must not reach an AMI action."""
    if not _SAFE_ID.match(agent_id):
        raise ValueError(f"agent id {agent_id!r} cannot name a device state")
    return f"Custom:{LAMP_PREFIX}{agent_id}"


@dataclass
class AgentLamps:
    """An event sink that keeps every agent's lamp in step with their state.

    ``agents()`` gives ``(agent id, state)`` of every agent now (for the full write at login).
    """

    ami: "AmiClient"
    agents: Callable[[], list[tuple[str, str]]]
    _pending: dict[str, str] = field(default_factory=dict)
    _shown: dict[str, str] = field(default_factory=dict)
    _worker: asyncio.Task[None] | None = None

    async def on_login(self) -> None:
        """Asterisk may have restarted (its Custom states are lost): write every lamp again."""
        self._shown.clear()
        for agent_id, state in self.agents():
            self._pending[agent_id] = lamp_state(state)
        await self._drain()  # actions may be sent here, before the client reports itself connected

    def append(self, event: Event) -> None:
        if event.type != "agent.state" or event.agent_id is None:
            return
        wanted = lamp_state(str(event.data.get("state", "")))
        if self._shown.get(event.agent_id) == wanted and event.agent_id not in self._pending:
            return
        self._pending[event.agent_id] = wanted
        self._wake()

    def _wake(self) -> None:
        if not self.ami.connected:
            return  # on_login writes them all
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            agent_id, state = next(iter(self._pending.items()))
            del self._pending[agent_id]
            if self._shown.get(agent_id) == state:
                continue
            try:
                device = lamp_device(agent_id)
            except ValueError as exc:
                log.warning("agent lamp not written: %s", exc)
                continue
            try:
                await self.ami.action("Setvar", Variable=f"DEVICE_STATE({device})", Value=state)
            except Exception as exc:
                log.info("agent lamp %s: %s", device, exc)
                continue  # the next login writes it again
            self._shown[agent_id] = state

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)


__all__ = ["AgentLamps", "LAMP_STATES", "lamp_device", "lamp_state"]
