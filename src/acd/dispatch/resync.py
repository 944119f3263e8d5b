"""Resynchronisation: after every AMI (re)connection the router is made to agree with Asterisk.

While AMI is down the router's clock stands still (:meth:`Resync.suspend`, bounded by
``SUSPEND_LIMIT_S``); on reconnection :meth:`Resync.resync` reads Asterisk's whole
picture, holding back the facts that arrive meanwhile (the backlog, handled after the
picture: they are newer), and rebuilds in the order that never rings a busy agent:
phones' states known, calls ringing or talking to agents restored (with what the event
log lacks), busy/unreachable phones' agents made unavailable, callers still parked in the
holding context re-queued with their original wait, calls whose channels are gone
closed, callbacks in doubt settled.

A mixin of :class:`acd.dispatch.Dispatcher` (its state, ``handle`` and ``_apply``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Mapping

from acd.asterisk.call_control import AsteriskPicture, ChannelStatus, ControlEvent, DeviceState, LegHungUp, Parked
from acd.base.events import Event
from acd.dispatch.callback_legs import CallbackLegs
from acd.dispatch.control import AgentLeg, CallControl, History
from acd.routing import Router
from acd.routing.decisions import CallQueued, CancelRing, Outcome
from acd.routing.outcome_events import outcome_to_event

log = logging.getLogger("acd.dispatch")

#: While AMI is down the router's clock stops (no ring time-out can fire for an answer the
#: engine cannot see), at most this long: past it Asterisk is really gone (a restart ends
#: every call anyway) and time runs again.
SUSPEND_LIMIT_S = 10.0
#: How far back the event log is asked about calls a restarted engine finds on Asterisk.
HISTORY_WINDOW_S = 86_400.0


class Resync:
    # What this part uses of the dispatcher (declared, not defined: see Dispatcher).
    router: Router
    control: CallControl
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    counters: Any
    callbacks: Any
    history: History | None
    _timer: asyncio.TimerHandle | None
    _suspended_at: float | None
    _resyncing: bool
    _backlog: list[ControlEvent]
    _queued_before: set[str]
    _channels: dict[str, str]
    _aliases: dict[str, str]
    _agent_legs: dict[str, AgentLeg]
    _agents_by_device: dict[str, str]
    _device_states: dict[str, str]
    _legs: dict[str, Any]
    _callback_legs: CallbackLegs
    handle: Callable[[ControlEvent], list[Outcome]]
    _apply: Callable[..., list[Outcome]]
    _carry_out: Callable[[str, Awaitable[Any]], None]
    _device_state: Callable[[DeviceState], list[Outcome]]
    _leg_hung_up: Callable[[LegHungUp, float], list[Outcome]]
    _is_callback: Callable[[str], bool]
    _open_gate: Callable[..., None]

    # ---------------------------------------------------------------- time
    def _now(self) -> float:
        """The time the router is given: the clock, or, while AMI is down, the moment it was
        lost (bounded by ``SUSPEND_LIMIT_S``), so nothing the engine cannot see times out."""
        now = self.clock()
        suspended = self._suspended_at
        if suspended is not None and now - suspended <= SUSPEND_LIMIT_S:
            return suspended
        return now

    def suspend(self) -> None:
        """AMI connection lost: stop the router's clock until the next resync has read
        Asterisk's picture (an agent may be answering a call right now, unseen)."""
        if self._suspended_at is None:
            self._suspended_at = self.clock()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            log.warning("ACD: Asterisk out of sight; routing time stands still until it is back")

    def _resume(self) -> None:
        if self._suspended_at is None:
            return
        lost = self.clock() - self._suspended_at
        self._suspended_at = None
        log.info("ACD: Asterisk back after %.1f s; routing time runs again", lost)
        self._apply(self.router.advance(self.clock()))

    # ---------------------------------------------------------------- resync
    def hold_facts(self) -> None:
        """From AMI login until the resync that follows: facts are held back too.

        Events flow from the login on, before the resync starts (the login steps run
        first): a phone seen busy then, with its call not yet read from Asterisk, would
        pause a free agent as ``phone-busy`` for a call the resync then restores (seen
        after a takeover: the pause outlived the call).  The resync releases them."""
        self._resyncing = True

    async def resync(self) -> None:
        """After (re)connecting: read Asterisk's whole picture, then make the router agree.

        Facts arriving meanwhile are held back and handled after the picture (they are
        newer than it); the router's clock stays where AMI was lost until then
        (:meth:`suspend`), so an answer the engine missed is taken for an answer, at the
        time the dialplan wrote on the channel, never for a ring that timed out.
        """
        self.counters.resyncs += 1
        self._resyncing = True
        try:
            picture = await self.control.picture()
            history = await self._history_of(picture)
            self._rebuild(picture, history)
        finally:
            self._resyncing = False
            backlog, self._backlog = self._backlog, []
            for fact in backlog:
                try:
                    self.handle(fact)
                except Exception:
                    log.exception("ACD: failed to handle %r", fact)
            self._resume()

    async def _history_of(self, picture: AsteriskPicture) -> Mapping[str, set[str]]:
        """What the event log holds for the calls on Asterisk that the router does not know."""
        unknown = sorted({c.call_id for c in picture.channels if c.call_id and c.role and self.router.call(c.call_id) is None})
        if not unknown or self.history is None:
            return {}
        try:
            return await self.history(unknown)
        except Exception as exc:  # the log unreadable: record what is found, duplicates are the lesser harm
            log.warning("ACD: cannot read the event log for %d calls found on Asterisk (%s)", len(unknown), exc)
            return {}

    def _rebuild(self, picture: AsteriskPicture, history: Mapping[str, set[str]]) -> None:
        """The picture, in the order that never rings a busy agent: phones' states known,
        calls ringing or talking to agents restored, busy/unreachable phones' agents made
        unavailable, callers on hold re-queued, vanished calls closed, callbacks settled."""
        now = self._now()
        for device in picture.devices:
            if device.device in self._agents_by_device:
                self._device_states[device.device] = device.state
        agent_legs = {c.linkedid: c.uniqueid for c in picture.channels if c.application == "AppDial" and c.linkedid}
        for channel in picture.channels:
            if channel.role == "agent":
                self._open_gate(channel.call_id)  # in Dial: out of its IVR session (acd.dispatch.handoff_routing)
                self._restore(now, channel, agent_legs.get(channel.uniqueid), history.get(channel.call_id, set()))
        for device in picture.devices:
            if device.device in self._agents_by_device:
                self._device_state(device)
        for channel in picture.channels:
            if channel.role != "waiting":
                continue
            # Parked, so out of its IVR session: a call routed at the hand-off whose
            # AcdParked came while AMI was down must not wait for it (its ring would).
            self._open_gate(channel.call_id)
            if self.router.call(channel.call_id) is None:
                self.counters.requeued_on_resync += 1
                log.info("ACD: found parked caller %s in %s; re-queued with its original wait", channel.call_id, channel.queue)
                if history.get(channel.call_id, set()) & {"call.queued", "call.requeued"}:
                    self._queued_before.add(channel.call_id)  # logged as call.requeued (reason resync), not a second offer
                self.handle(Parked(channel.call_id, channel.channel, channel.queue, channel.wait_origin, channel.priority))
            elif channel.channel:
                self._channels[channel.call_id] = channel.channel
        live = {c.uniqueid for c in picture.channels}
        live |= {self._aliases[leg] for leg in live if leg in self._aliases}
        for call_id in sorted(self._known_call_ids()):
            if call_id not in live and not self._is_callback(call_id):
                self.counters.closed_on_resync += 1
                self._leg_hung_up(LegHungUp(leg_id=call_id, channel=self._channels.get(call_id, ""), cause="gone while disconnected"), now)
        if self.callbacks is not None and self.callbacks.in_doubt:
            self._settle_in_doubt({c.uniqueid: c.state for c in picture.channels})

    def _restore(self, now: float, channel: ChannelStatus, agent_leg: str | None, recorded: set[str]) -> None:
        """A caller in ``Dial`` to an agent: the router follows, and the log gets what it lacks."""
        call_id = channel.call_id
        before = self.router.call(call_id)
        answered = channel.answered_at is not None
        if before is not None and before.agent_id == channel.agent_id and (before.state == "connected" or not answered):
            pass  # the router already knows
        else:
            self.counters.restored_on_resync += 1
            if answered and (before is None or before.state != "connected"):
                self.counters.answers_found_on_resync += 1
            log.warning(
                "ACD: call %s found %s agent %s on Asterisk (the router had it %s); following Asterisk",
                call_id, "talking to" if answered else "ringing", channel.agent_id, before.state if before else "unknown",
            )
        self._channels[call_id] = channel.channel
        if channel.uniqueid != call_id:
            self._aliases[channel.uniqueid] = call_id  # a customer-first callback's customer channel
        answered_at = min(channel.answered_at, self.clock()) if channel.answered_at is not None else None  # a label: never in the future
        outcomes = self.router.restore_call(
            now, call_id, channel.queue, channel.agent_id,
            answered_at=answered_at, wait_origin=channel.wait_origin, priority=channel.priority,
        )
        # The ring the router had for this call elsewhere is over (Asterisk shows where the
        # call is): bookkeeping only, the caller must not be sent back to hold.
        outcomes = [o for o in outcomes if not (isinstance(o, CancelRing) and o.call_id == call_id)]
        if agent_leg is not None and self.router.call(call_id) is not None:
            self._agent_legs[agent_leg] = AgentLeg(call_id, channel.agent_id)
        skip: set[str] = set()
        if before is None:
            if "call.answered" in recorded:
                skip.add("call.answered")  # the previous engine saw it: once is the truth
            if not recorded & {"call.queued", "call.requeued"}:
                view = self.router.call(call_id)
                if view is not None:  # its queueing was lost with the previous engine's last batch
                    queued = CallQueued(call_id, view.queue, view.priority, self.router.queue_skills(view.queue), view.wait_origin, view.wait_origin)
                    event = outcome_to_event(queued)
                    if event is not None:
                        self.emit(event)
        self._apply(outcomes, skip=frozenset(skip))

    def _settle_in_doubt(self, channels: dict[str, str]) -> None:
        """Restored callbacks whose attempt was under way when the previous engine stopped
        (``CallbackService.restore``): look for that attempt's legs among Asterisk's channels.

        * none left: the attempt ended while no engine listened and its result is unknown;
          the request is placed again (a customer may be called once more, never twice at once);
        * a leg that is up: the customer is connected or being connected.  Customer first,
          that is the callback completed (what the previous engine records on the answer);
          agent first, the leg's own ``AcdCallbackResult`` decides it when it ends;
        * legs still ringing: nobody would follow them up.  They are hung up, and the request
          is placed again only once Asterisk reports them gone.
        """
        callbacks = self.callbacks
        assert callbacks is not None
        for call_id in sorted(callbacks.in_doubt):
            legs = {leg_id: state for leg_id, state in channels.items() if leg_id.startswith(f"{call_id}-cb")}
            if not legs:
                callbacks.release(call_id, "ended while no engine was running (result unknown)")
            elif "Up" in legs.values():
                if callbacks.mode_of(call_id) == "customer-first":
                    log.info("ACD: callback %s: the customer answered while the engine was down", call_id)
                    write = callbacks.settle(call_id, "ANSWER")
                    if write is not None:
                        self._carry_out(call_id, write)
                else:
                    log.info("ACD: callback %s: the agent took it while the engine was down; its result will decide it", call_id)
            else:
                log.info("ACD: callback %s: leg(s) %s still ringing from before the restart; hung up first", call_id, ", ".join(sorted(legs)))
                for leg_id in legs:
                    self._callback_legs.hang_up_stale(call_id, leg_id)
                stale = [self._legs[leg_id] for leg_id in legs if leg_id in self._legs]
                self._carry_out(call_id, self._release_when_gone(call_id, stale))

    async def _release_when_gone(self, call_id: str, legs: list[Any]) -> None:
        await self._callback_legs.released(legs)
        if self.callbacks is not None:
            self.callbacks.release(call_id, "was still ringing after the restart and was hung up")

    def _known_call_ids(self) -> set[str]:
        ids: set[str] = set()
        for agent in self.router.agents():
            if agent.call_id:
                ids.add(agent.call_id)
        ids.update(self._channels)
        return {call_id for call_id in ids if self.router.call(call_id) is not None}
