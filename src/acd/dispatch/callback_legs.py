"""Callback call legs: which ``Originate`` is the attempt the router waits for, which are being hung up.

Each callback ``Originate`` is a *leg* (:class:`CallbackLeg`) tracked from the router's
decision until it is answered or gone.  When the router cancels that ring (the reserved
agent paused or logged out, the call moved, a time-out), the leg is hung up over AMI and
the next attempt is dialled only once Asterisk reports the leg gone, so a customer never
has two calls from us at once; facts about a cancelled or earlier leg are ignored.

:class:`CallbackLegs` is the bookkeeping only (no router, no callback store): the
dispatcher's callback part (``acd.dispatch.callback_calls``) decides what a leg's facts
mean and asks this module which leg they came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

log = logging.getLogger("acd.dispatch")

#: How long a cancelled callback leg may take to go away (Hangup retried while Asterisk
#: has not created the channel yet) before the next attempt is placed anyway.
LEG_HANGUP_WAIT_S = 5.0
LEG_HANGUP_RETRY_S = 0.2


@dataclass
class CallbackLeg:
    """One callback ``Originate``, from the router's decision until it is answered or gone.

    ``leg_id`` is the channel's Uniqueid (``ChannelId``) and the ``ActionID``'s tail, so a
    late answer or failure of this leg is never mistaken for the next attempt's.
    ``cancelled``: the router no longer wants this ring; the leg is being hung up.
    ``originated``: the Originate was sent (until then there is nothing to hang up).
    """

    leg_id: str
    call_id: str
    agent_id: str
    cancelled: bool = False
    originated: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class CallbackLegs:
    """The legs in flight or being hung up (``legs``, by leg id) and, per call, the leg the
    router's ring is waiting for (``current``).  ``hang_up`` sends AMI's Hangup for a leg id."""

    def __init__(self, hang_up: Callable[[str], Awaitable[None]]) -> None:
        self.legs: dict[str, CallbackLeg] = {}
        self.current: dict[str, str] = {}  # call id -> leg id
        self._hang_up = hang_up

    def new(self, call_id: str, agent_id: str) -> CallbackLeg:
        """Register the leg a ring will originate, before it is sent, so a cancel that comes
        first finds it (and the Originate is then never sent)."""
        leg = CallbackLeg(f"{call_id}-cb{os.urandom(4).hex()}", call_id, agent_id)
        self.legs[leg.leg_id] = leg
        self.current[call_id] = leg.leg_id
        return leg

    def is_current(self, call_id: str, leg_id: str) -> bool:
        return bool(leg_id) and self.current.get(call_id) == leg_id

    def accept(self, call_id: str, leg_id: str) -> None:
        """The leg reached an answer the router wants (or its failure is being handled):
        from here it is an ordinary call leg, or nothing."""
        if self.current.get(call_id) == leg_id:
            del self.current[call_id]
        self.legs.pop(leg_id, None)

    def cancelled(self, leg_id: str) -> bool:
        leg = self.legs.get(leg_id)
        return leg is not None and leg.cancelled

    def unwanted(self, call_id: str, leg_id: str) -> bool:
        """True for a leg whose ring was cancelled, or an answer from a leg that is not the
        call's current one (an earlier attempt, or one from before a restart): it is hung
        up, so its dialplan goes no further (the customer is not dialled, the agent not rung)."""
        if not leg_id:
            return False
        leg = self.legs.get(leg_id)
        if leg is not None:
            return leg.cancelled
        current = self.current.get(call_id)
        if current is None:
            return False
        log.warning("ACD: callback %s: leg %s is not the current attempt (%s); hanging it up", call_id, leg_id, current)
        self.hang_up_stale(call_id, leg_id)
        return True

    def cancel(self, leg_id: str, reason: str) -> CallbackLeg | None:
        """Mark the leg cancelled (once); the caller hangs it up (:meth:`hang_up`)."""
        leg = self.legs.get(leg_id)
        if leg is None or leg.cancelled:
            return None
        leg.cancelled = True
        log.info("ACD: callback %s: ring for %s cancelled (%s); hanging up leg %s", leg.call_id, leg.agent_id, reason, leg_id)
        return leg

    def ended(self, leg_id: str) -> bool:
        """Asterisk reports the leg gone (hung up, or its Originate failed); False if unknown."""
        leg = self.legs.get(leg_id)
        if leg is None:
            return False
        leg.ended.set()
        return True

    async def hang_up(self, leg: CallbackLeg) -> None:
        """Hang ``leg`` up and wait until Asterisk reports it gone (``Hangup`` event or failed
        ``OriginateResponse``).  ``Hangup`` is retried while the channel does not exist yet
        (an async Originate creates it a moment after its response)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEG_HANGUP_WAIT_S
        try:
            while leg.originated and not leg.ended.is_set():
                try:
                    await self._hang_up(leg.leg_id)
                    break
                except Exception as exc:
                    if loop.time() >= deadline:
                        log.warning("ACD: callback %s: cannot hang up leg %s (%s)", leg.call_id, leg.leg_id, exc)
                        return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(leg.ended.wait(), LEG_HANGUP_RETRY_S)
            if not leg.originated:
                return
            try:
                await asyncio.wait_for(leg.ended.wait(), max(0.1, deadline - loop.time()))
            except asyncio.TimeoutError:
                log.warning("ACD: callback %s: leg %s not reported gone within %.0f s; going on", leg.call_id, leg.leg_id, LEG_HANGUP_WAIT_S)
        finally:
            leg.ended.set()
            self.legs.pop(leg.leg_id, None)

    def hang_up_stale(self, call_id: str, leg_id: str) -> None:
        """Hang up a leg the router never asked for (or no longer wants), tracked as cancelled."""
        if leg_id in self.legs:
            return
        leg = CallbackLeg(leg_id, call_id, "", cancelled=True, originated=True)
        self.legs[leg_id] = leg
        task = asyncio.ensure_future(self.hang_up(leg))
        task.add_done_callback(log_failure)

    def not_sent(self, leg: CallbackLeg) -> None:
        """The Originate was never sent (or failed): nothing to wait for."""
        leg.ended.set()
        if leg.cancelled:
            self.legs.pop(leg.leg_id, None)

    async def released(self, legs: list[CallbackLeg]) -> None:
        """Until every one of ``legs`` is gone (bounded: :meth:`hang_up` ends each within
        ``LEG_HANGUP_WAIT_S``)."""
        for leg in legs:
            await leg.ended.wait()


def log_failure(task: asyncio.Future[Any]) -> None:
    """Done-callback of a fire-and-forget action: its failure is logged, never raised."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("ACD: action failed: %s", exc)
