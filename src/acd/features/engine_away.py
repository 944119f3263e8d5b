"""What Asterisk does for callers while the engine is away, and how the engine prepares it.

An engine that is stopped, restarting or killed answers no FastAGI request.  The dialplan
(``acd-engine-away`` in ``dialplans/acd.conf``) then holds the caller instead of hanging
up: music, the engine retried every ``retry_s`` for at most ``hold_s``; past that the
**degraded mode**: Asterisk's own ``Queue()`` over the same agents (the fallback queue,
``ringinuse=no`` so nobody on a call is rung), or "try again later" when none is set.

Asterisk must know those settings while no engine runs, so the engine leaves them there:

* on every AMI login it sets the globals ``ACD_ENGINE_WAIT_S``, ``ACD_ENGINE_RETRY_S``,
  ``ACD_FALLBACK_QUEUE`` and ``ACD_AWAY_MESSAGE`` (they outlive the engine, like the AGI
  key);
* it keeps the fallback queue's members in step with the agents: a logged-in agent is a
  member (paused while paused in the ACD), a logged-out one is not.  Members are
  dynamic (AMI ``QueueAdd``/``QueuePause``/``QueueRemove``) and live in Asterisk's
  memory, so the last engine's picture serves while it is away.

Calls answered in degraded mode are app_queue's: it writes them to its ``queue_log``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from acd.base.events import Event

if TYPE_CHECKING:
    from acd.asterisk.ami import AmiClient

log = logging.getLogger("acd.features.engine_away")

#: The globals ``acd-engine-away`` reads (set here, over AMI, at each login).
GLOBALS = ("ACD_ENGINE_WAIT_S", "ACD_ENGINE_RETRY_S", "ACD_FALLBACK_QUEUE", "ACD_AWAY_MESSAGE")


@dataclass(frozen=True)
class AwayPlan:
    """Settings the dialplan follows while the engine is away (``continuity`` settings)."""

    hold_s: float = 120.0
    retry_s: float = 5.0
    fallback_queue: str = "acd-fallback"
    message: str = ""

    def globals(self) -> dict[str, str]:
        return {
            "ACD_ENGINE_WAIT_S": str(int(round(self.hold_s))),
            "ACD_ENGINE_RETRY_S": str(max(1, int(round(self.retry_s)))),
            "ACD_FALLBACK_QUEUE": self.fallback_queue,
            "ACD_AWAY_MESSAGE": self.message,
        }


@dataclass
class FallbackMembers:
    """Keeps the fallback queue's members equal to the logged-in agents (an event sink).

    ``agents()`` gives ``(agent id, endpoint, state)`` of every agent now; agent state
    events (``agent.state``) are followed one by one, and a full sync runs at each login.
    AMI actions leave in order, one at a time; a failed one is logged, and the next
    login's full sync repairs whatever it left wrong.
    """

    ami: "AmiClient"
    plan: AwayPlan
    agents: Callable[[], list[tuple[str, str, str]]]
    _queue: asyncio.Queue[tuple[str, dict[str, str]]] = field(default_factory=asyncio.Queue)
    _worker: asyncio.Task[None] | None = None

    async def on_login(self) -> None:
        """Globals first, then the members (QueueStatus read, then added/paused/removed)."""
        for name, value in self.plan.globals().items():
            await self.ami.action("Setvar", Variable=name, Value=value)
        queue = self.plan.fallback_queue
        if not queue:
            return
        try:
            listed = await self.ami.action_list("QueueStatus", Queue=queue)
        except Exception as exc:
            log.warning("fallback queue %s: cannot read its members (%s); is app_queue loaded and the queue in queues.conf?", queue, exc)
            return
        present = {m.get("StateInterface") or m.get("Location") for m in listed if m.name == "QueueMember"}
        wanted = {endpoint: (agent_id, state) for agent_id, endpoint, state in self.agents() if state != "logged_out"}
        for endpoint in sorted(present - set(wanted)):
            self._send("QueueRemove", Queue=queue, Interface=endpoint)
        for endpoint, (agent_id, state) in sorted(wanted.items()):
            if endpoint not in present:
                self._send("QueueAdd", Queue=queue, Interface=endpoint, MemberName=agent_id, StateInterface=endpoint,
                           Paused=_flag(state == "paused"))
            else:
                self._send("QueuePause", Queue=queue, Interface=endpoint, Paused=_flag(state == "paused"))

    def append(self, event: Event) -> None:
        """Follow agent state changes (the bus calls this for every event)."""
        if event.type != "agent.state" or not self.plan.fallback_queue or not self.ami.connected:
            return
        state, previous = event.data.get("state"), event.data.get("previous")
        if state == previous or not {state, previous} & {"logged_out", "paused"}:
            return  # ring, answer, wrap-up: several per call, none changes membership
        endpoint = next((e for agent_id, e, _ in self.agents() if agent_id == event.agent_id), None)
        if endpoint is None:
            return
        queue = self.plan.fallback_queue
        if state == "logged_out":
            self._send("QueueRemove", Queue=queue, Interface=endpoint)
        elif previous == "logged_out":
            self._send("QueueAdd", Queue=queue, Interface=endpoint, MemberName=str(event.agent_id), StateInterface=endpoint,
                       Paused=_flag(state == "paused"))
        elif state == "paused" or previous == "paused":
            self._send("QueuePause", Queue=queue, Interface=endpoint, Paused=_flag(state == "paused"))

    def _send(self, action: str, **headers: str) -> None:
        self._queue.put_nowait((action, headers))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while not self._queue.empty():
            action, headers = self._queue.get_nowait()
            try:
                await self.ami.action(action, **headers)
            except Exception as exc:  # "Unable to add interface: Already there" and the like
                log.info("fallback queue: %s %s: %s", action, headers.get("Interface", ""), exc)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)


def _flag(value: Any) -> str:
    return "true" if value else "false"
