"""Routing a caller at the IVR's hand-off: straight to a free agent, without parking it.

The router learns of the call at :meth:`Dispatcher.enqueue`, while the caller is still in
its IVR session.  When the router rings an agent at once, the ring leaves with the
session's last write (``ACD_RING``, the ring extension; the flow's next step ``agent``):
the dialplan goes to ``acd-agent`` by itself.  For Asterisk that saves the holding
context's steps, its ``UserEvent``, the music's start and stop and the ``Redirect``;
for the engine the ``AcdParked`` event and the action.  Otherwise the call is queued and
the dialplan parks it as before.

The failure rule: until the channel has left its IVR session, nothing is sent for it.
A ``Redirect`` in the middle of an AGI session would cut the session's last writes (the
labels, the next step), so every action for the call waits behind a *gate* that opens on
the first fact proving the channel is out (``Parked``, the agent's leg, its hang-up) or
after ``HANDOFF_GATE_S``.  A hand-off whose writes fail takes the call back
(:meth:`HandoffRouting.hand_off_failed`: abandoned, reason ``hand-off-failed``), so no agent
waits for a caller who never reached the dialplan.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from acd.dispatch.control import CallControl
from acd.ivr.channel import Channel
from acd.routing import Router
from acd.routing.decisions import Outcome, RingAgent

log = logging.getLogger("acd.dispatch")

#: Longest a call's actions wait for its channel to leave the IVR session (a safety net: the
#: fact that proves it, ``Parked`` or the agent's leg, comes within milliseconds).
HANDOFF_GATE_S = 5.0
#: why a call routed at the hand-off is taken back when the hand-off never reached Asterisk
HANDOFF_FAILED = "hand-off-failed"


class HandoffRouting:
    """The dispatcher's hand-off routing (a part of :class:`acd.dispatch.Dispatcher`)."""

    # What this part uses of the dispatcher (declared, not defined: see Dispatcher).
    router: Router
    control: CallControl
    counters: Any
    _resyncing: bool
    _suspended_at: float | None
    _actions: dict[str, Any]
    _attached: dict[str, dict[str, str]]
    _channels: dict[str, str]
    _handoff_gates: dict[str, asyncio.Future[None]]
    _gate_timers: dict[str, asyncio.TimerHandle]
    _held_ring: str | None
    _apply: Callable[..., list[Outcome]]
    _carry_out: Callable[[str, Any], None]
    _ring: Callable[[RingAgent], Any]
    _is_callback: Callable[[str], bool]
    _now: Callable[[], float]

    def _routes_at_handoff(self, call_id: str) -> bool:
        return (
            not self._resyncing
            and self._suspended_at is None
            and getattr(self.control, "prepare_ring", None) is not None
            and self.router.call(call_id) is None
            and not self._is_callback(call_id)
        )

    async def _route_at_handoff(self, channel: Channel, queue: str, priority: int | None, now: float) -> str | None:
        call_id = channel.call_id
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        self._handoff_gates[call_id] = gate
        self._actions[call_id] = gate  # _carry_out chains every action for the call after it
        self._gate_timers[call_id] = loop.call_later(HANDOFF_GATE_S, self._open_gate, call_id, gate)
        attached = self._attached.pop(call_id, None)
        outcomes = self.router.call_arrived(now, call_id, queue, priority=priority, attached=attached, wait_origin=now)
        ring = next((o for o in outcomes if isinstance(o, RingAgent) and o.call_id == call_id), None)
        self._held_ring = call_id if ring is not None else None
        try:
            self._apply(outcomes)
        finally:
            self._held_ring = None
        if ring is None:
            return None  # queued: parked by the dialplan, rung from there
        exten = None
        try:
            exten = await self.control.prepare_ring(call_id, ring.agent_id, ring.endpoint, ring.timeout_s)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - the caller is parked and rung by Redirect instead
            log.warning("ACD: cannot ring %s from the IVR for call %s (%s); ringing once parked", ring.agent_id, call_id, exc)
        current = self.router.call(call_id)
        still_ringing = current is not None and current.agent_id == ring.agent_id and current.state == "ringing"
        if exten is None or not still_ringing:
            if still_ringing:
                self._carry_out(call_id, self._ring(ring))  # after the gate: once parked
            return None
        await channel.set_variables({"ACD_RING": exten, "CHANNEL(userfield)": f"{queue}|{now:.3f}"})
        self.counters.rings_sent += 1
        self.counters.rings_at_handoff += 1
        return "agent"

    def _open_gate(self, call_id: str, gate: asyncio.Future[None] | None = None) -> None:
        """The channel left its IVR session (or the wait ran out): its actions may go."""
        current = self._handoff_gates.get(call_id)
        if current is None or (gate is not None and current is not gate):
            return
        del self._handoff_gates[call_id]
        timer = self._gate_timers.pop(call_id, None)
        if timer is not None:
            timer.cancel()  # one timer less to fire per call
        if not current.done():
            current.set_result(None)
        if self._actions.get(call_id) is current:
            del self._actions[call_id]

    def hand_off_failed(self, call_id: str, reason: str) -> None:
        """The hand-off's writes never reached Asterisk (the flow takes its fallback): the
        call routed at the hand-off leaves its queue, recorded as abandoned for ``reason``."""
        self._open_gate(call_id)
        self._attached.pop(call_id, None)
        if self.router.call(call_id) is None:
            return
        log.warning("ACD: call %s taken back from its queue: %s", call_id, reason)
        self._apply(self.router.caller_abandoned(self._now(), call_id, reason=HANDOFF_FAILED))
        self._channels.pop(call_id, None)

