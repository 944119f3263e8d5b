"""The ACD service: feeds the pure router from call-control facts and carries out its decisions.

* The IVR's ``queue`` node calls :meth:`Dispatcher.enqueue` (the ``QueueHandoff``): the call
  is labelled with channel variables (so it can be found again after a reconnect or an
  engine restart) and the dialplan parks it in the holding context.
* ``Parked`` → ``router.call_arrived``; ``AgentAnswered`` → ``agent_answered``;
  ``RingFailed`` → ``ring_no_answer``; ``LegHungUp`` → ``caller_abandoned`` or
  ``call_completed``.
* Decisions leave at once (``RingAgent`` → ring; ``CancelRing`` → back to hold;
  ``CallTimedOut`` → goodbye).  One timer is armed for ``router.next_deadline()``; nothing
  polls.
* Every notification becomes an :class:`~acd.base.events.Event` and updates the live
  service-level figures.
* On every AMI (re)connection the dispatcher resynchronises: callers still parked in the
  holding context that the router does not know are re-queued with their original wait;
  calls the router holds whose channels are gone are closed.
* Callbacks (``acd.callbacks``): a ``RingAgent`` for a callback places it instead of
  redirecting a caller.  Customer first, the customer's answered channel then carries the
  call under the request's call id (``_aliases``), so the agent's ring, answer and hang-up
  are handled exactly as for a caller who waited on the line.
* Each callback ``Originate`` is a *leg* (``_CallbackLeg``) tracked from the decision
  until it is answered or gone.  When the router cancels that ring (the reserved agent
  paused or logged out, the call moved, a time-out), the leg is hung up over AMI and the
  next attempt is dialled only once Asterisk reports the leg gone, so a customer never
  has two calls from us at once; facts about a cancelled or earlier leg are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import math
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol

from acd.asterisk.ami import AmiActionRefused
from acd.asterisk.call_control import (
    AsteriskPicture,
    ChannelStatus,
    AgentAnswered,
    AgentLegStarted,
    CallbackAgentUp,
    CallbackCustomerUp,
    CallbackResult,
    DeviceState,
    OriginateFailed,
    ControlEvent,
    LegHungUp,
    Parked,
    RingFailed,
    WaitingKey,
)
from acd.ivr.channel import Channel
from acd.ivr.handoff import QueueRequest
from acd.privacy import masked_data
from acd.base.events import SCHEMA_VERSION, Event
from acd.routing import Router, RoutingConfig
from acd.routing.decisions import CallQueued, CallTimedOut, CancelRing, Ignored, Notification, Outcome, RingAgent

log = logging.getLogger("acd.dispatch")

UNREACHABLE_DEVICE_STATES = ("UNAVAILABLE",)
UNREACHABLE_REASON = "unreachable"
#: A phone in one of these states is on a call, ringing or holding one: an agent whose
#: phone is busy with a call the router does not know (a personal call, a call from before
#: a restart it could not rebuild) is paused, so the ACD never rings a phone in use
#: (app_queue's ``ringinuse=no``), and unpaused when the phone is free again.
BUSY_DEVICE_STATES = ("INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD")
PHONE_BUSY_REASON = "phone-busy"
#: The pauses the device rules make, and so may lift.
DEVICE_PAUSES = (UNREACHABLE_REASON, PHONE_BUSY_REASON)
#: While AMI is down the router's clock stops (no ring time-out can fire for an answer the
#: engine cannot see), at most this long: past it Asterisk is really gone (a restart ends
#: every call anyway) and time runs again.
SUSPEND_LIMIT_S = 10.0
#: How far back the event log is asked about calls a restarted engine finds on Asterisk.
HISTORY_WINDOW_S = 86_400.0
#: Customer first, the router keeps the agent reserved while the customer's phone rings,
#: the greeting plays and the agent's phone rings: the customer's ring time plus the
#: queue's ring time-out plus this (greeting up to ~6 s, Dial's own margin, call set-up).
CUSTOMER_FIRST_MARGIN_S = 10.0
#: A failed customer-first Originate's ``Reason`` (Asterisk's last control frame) as a
#: DIALSTATUS: 3 = it rang out, 5 = busy; anything else (0 no such number, 8 congestion...)
#: is a plain failure.
ORIGINATE_REASONS = {"3": "NOANSWER", "5": "BUSY"}
#: The agent's state-change reason when a customer-first attempt fails (not "caller-abandoned").
CALLBACK_NOT_ANSWERED = "callback-not-answered"
#: why a ringing agent is freed when the call's own data cannot be put into an AMI action
UNSAFE_CALL_DATA = "unsafe-call-data"
#: How long a cancelled callback leg may take to go away (Hangup retried while Asterisk
#: has not created the channel yet) before the next attempt is placed anyway.
LEG_HANGUP_WAIT_S = 5.0
LEG_HANGUP_RETRY_S = 0.2


class CallControl(Protocol):
    def events(self) -> Any: ...

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None: ...

    async def return_to_hold(self, channel: str) -> None: ...

    async def end_waiting(self, channel: str) -> None: ...

    async def picture(self) -> AsteriskPicture: ...

    async def originate_callback(
        self, call_id: str, agent_id: str, endpoint: str, customer_dial: str, number: str, ring_s: float, customer_ring_s: float, leg_id: str,
        labels: dict[str, str],
    ) -> None: ...

    async def originate_customer_first(
        self,
        call_id: str,
        agent_id: str,
        endpoint: str,
        customer_dial: str,
        number: str,
        agent_ring_s: float,
        customer_ring_s: float,
        leg_id: str,
        labels: dict[str, str],
    ) -> None: ...

    async def hang_up(self, channel: str) -> None: ...


#: What the event log already holds for some calls: call id -> event types (see
#: ``EventStore.recorded_types``); the engine passes the store's, tests a dict's.
History = Callable[[list[str]], Awaitable[Mapping[str, set[str]]]]


@dataclass
class DispatchStats:
    rings_sent: int = 0
    ring_errors: int = 0
    ignored_events: int = 0
    resyncs: int = 0
    requeued_on_resync: int = 0
    closed_on_resync: int = 0
    restored_on_resync: int = 0  # calls found ringing or talking to an agent that the router did not see so
    answers_found_on_resync: int = 0  # of those, answers the engine missed (AMI gap, restart)
    last_decision_to_action_ms: float | None = None


@dataclass
class _Leg:
    call_id: str
    agent_id: str


@dataclass
class _CallbackLeg:
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


@dataclass
class Dispatcher:
    router: Router
    control: CallControl
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    counters: DispatchStats = field(default_factory=DispatchStats)
    callbacks: Any = None  # acd.callbacks.CallbackService, when callbacks are on
    customer_dial: str = "PJSIP/{number}@customers"
    customer_ring_s: float = 30.0
    customer_greeting: str = ""  # customer first: played to the customer before the agent is rung
    history: History | None = None  # the event log's view of calls found on resync (None: nothing recorded)

    def __post_init__(self) -> None:
        self._channels: dict[str, str] = {}  # call id -> caller channel name
        self._agent_legs: dict[str, _Leg] = {}  # agent leg uniqueid -> call
        self._cancelled_rings: set[str] = set()
        self._attached: dict[str, dict[str, str]] = {}
        self._actions: dict[str, asyncio.Future[None]] = {}
        self._agents_by_device = {agent.endpoint: agent.id for agent in self.router.config.agents}
        self._device_states: dict[str, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._aliases: dict[str, str] = {}  # customer-first: customer channel uniqueid -> call id
        self._legs: dict[str, _CallbackLeg] = {}  # callback legs in flight or being hung up, by leg id
        self._current_leg: dict[str, str] = {}  # call id -> the leg the router's ring is waiting for
        self._suspended_at: float | None = None  # AMI lost: the router's time stands still (suspend)
        self._resyncing = False
        self._backlog: list[ControlEvent] = []  # facts that arrived while resync read Asterisk

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

    # ---------------------------------------------------------------- IVR hand-off
    async def enqueue(self, channel: Channel, request: QueueRequest) -> None:
        """Label the call for the holding context; routing starts when it is parked there."""
        now = self._now()
        queue = self._queue_for(request)
        priority = request.priority or None  # 0 (the flow's default) means "the queue's priority"
        await channel.set_variable("ACD_CALL_ID", channel.call_id)
        await channel.set_variable("ACD_QUEUE", queue)
        await channel.set_variable("ACD_WAIT_ORIGIN", f"{now:.3f}")
        await channel.set_variable("ACD_PRIORITY", "" if priority is None else str(priority))
        announce_every = self._announce_every(queue)
        if announce_every:
            await channel.set_variable("ACD_ANNOUNCE_EVERY", str(int(math.ceil(announce_every))))
        channel_name = getattr(channel, "channel_name", "")
        if channel_name:
            self._channels[channel.call_id] = channel_name
        if request.attached:
            self._attached[channel.call_id] = dict(request.attached)

    def _announce_every(self, queue: str) -> float | None:
        config = next((q for q in self.router.config.queues if q.name == queue), None)
        return config.waiting.announce_every_s if config is not None else None

    def _queue_for(self, request: QueueRequest) -> str:
        """The queue named by the flow, or the one whose required skills match exactly."""
        known = self.router.queue_names()
        if request.queue:
            if request.queue not in known:
                raise ValueError(f"unknown queue {request.queue!r} (known: {', '.join(sorted(known))})")
            return request.queue
        wanted = set(request.skills)
        for name in sorted(known):
            if set(self.router.queue_skills(name)) == wanted:
                return name
        raise ValueError(f"no queue requires exactly the skills {sorted(wanted)}")

    # ---------------------------------------------------------------- agents (API, tests)
    def reconfigure(self, config: RoutingConfig) -> list[Outcome]:
        """A new routing file: the router carries every call and agent across, and what it
        decides (a waiting call ringing a newly qualified agent...) is carried out here."""
        outcomes = self._apply(self.router.reconfigure(self._now(), config))
        self._agents_by_device = {agent.endpoint: agent.id for agent in self.router.config.agents}
        return outcomes

    def agent_login(self, agent_id: str) -> list[Outcome]:
        outcomes = self._apply(self.router.agent_login(self._now(), agent_id))
        endpoint = next((device for device, agent in self._agents_by_device.items() if agent == agent_id), None)
        known = self._device_states.get(endpoint) if endpoint else None
        if known is not None:
            outcomes += self._device_state(DeviceState(endpoint, known))  # a phone already known to be unreachable
        return outcomes

    def agent_logout(self, agent_id: str, reason: str = "logout") -> list[Outcome]:
        return self._apply(self.router.agent_logout(self._now(), agent_id, reason))

    def agent_pause(self, agent_id: str, reason: str = "pause") -> list[Outcome]:
        return self._apply(self.router.agent_pause(self._now(), agent_id, reason))

    def agent_unpause(self, agent_id: str) -> list[Outcome]:
        outcomes = self._apply(self.router.agent_unpause(self._now(), agent_id))
        endpoint = next((device for device, agent in self._agents_by_device.items() if agent == agent_id), None)
        known = self._device_states.get(endpoint) if endpoint else None
        if known is not None:
            outcomes += self._device_state(DeviceState(endpoint, known))  # unpaused from a phone still in use (*47)
        return outcomes

    # ---------------------------------------------------------------- supervisor (API)
    def set_priority(self, call_id: str, priority: int) -> list[Outcome]:
        """Change a waiting (or ringing) call's priority; logged as ``call.priority_changed``.

        The router has no notification for this (nothing else changes), so the event is
        emitted here, once the router accepted the change.
        """
        before = self.router.call(call_id)
        outcomes = self._apply(self.router.set_priority(self._now(), call_id, priority))
        refused = any(isinstance(o, Ignored) and o.call_id == call_id for o in outcomes)
        after = self.router.call(call_id)
        if before is not None and after is not None and not refused:
            self.emit(
                Event(
                    type="call.priority_changed",
                    ts=self._now(),
                    call_id=call_id,
                    queue=after.queue,
                    data={"priority": priority, "previous": before.priority},
                )
            )
        return outcomes

    def move_call(self, call_id: str, queue: str) -> list[Outcome]:
        """Move a waiting (or ringing) call to ``queue`` keeping its wait (``call.overflowed``, reason supervisor)."""
        return self._apply(self.router.move_call(self._now(), call_id, queue))

    # ---------------------------------------------------------------- callbacks (CallbackQueue)
    def queue_callback(self, callback: Any) -> None:
        """A callback is due: it joins its queue with the caller's original wait.

        Customer first, the agent stays reserved while the customer's phone rings, so the
        call carries a longer ring time-out for that ring; a request made while waiting
        (already in the router) re-enters with it, keeping its wait and so its place.
        """
        now = self._now()
        call = self.router.call(callback.call_id)
        customer_first = self.callbacks is not None and self.callbacks.mode_of(callback.call_id) == "customer-first"
        queue, priority, attached = callback.queue, None, None
        if call is not None:
            if not customer_first or call.state != "waiting":
                return
            queue, priority, attached = call.queue, call.priority, dict(call.attached)
            self._apply(self.router.caller_abandoned(now, callback.call_id), record=False)
        ring_s = self._customer_first_ring_s(queue) if customer_first else None
        self._apply(
            self.router.call_arrived(
                now, callback.call_id, queue, priority=priority, attached=attached, wait_origin=callback.wait_origin, ring_timeout_s=ring_s
            )
        )

    def _queue_ring_s(self, queue: str) -> float:
        config = self.router.config.queue(queue)
        return config.ring_timeout_s if config is not None else 15.0

    def _customer_first_ring_s(self, queue: str) -> float:
        return self.customer_ring_s + self._queue_ring_s(queue) + CUSTOMER_FIRST_MARGIN_S

    def withdraw(self, call_id: str) -> None:
        """Take a callback out of the queue for now (outside hours, replaced)."""
        call = self.router.call(call_id)
        if call is not None and call.state == "waiting":
            self._apply(self.router.caller_abandoned(self._now(), call_id), record=False)

    def _is_callback(self, call_id: str) -> bool:
        return self.callbacks is not None and self.callbacks.is_callback(call_id)

    # ---------------------------------------------------------------- callback legs
    def _new_leg(self, decision: RingAgent) -> _CallbackLeg:
        """Register the leg a callback ``RingAgent`` will originate, before it is sent, so a
        cancel that comes first finds it (and the Originate is then never sent)."""
        stale = self._current_leg.pop(decision.call_id, None)
        if stale is not None:  # the router always cancels before ringing again; be safe anyway
            self._cancel_leg(stale, "replaced")
        leg = _CallbackLeg(f"{decision.call_id}-cb{os.urandom(4).hex()}", decision.call_id, decision.agent_id)
        self._legs[leg.leg_id] = leg
        self._current_leg[decision.call_id] = leg.leg_id
        return leg

    def _is_current_leg(self, call_id: str, leg_id: str) -> bool:
        return bool(leg_id) and self._current_leg.get(call_id) == leg_id

    def _accept_leg(self, call_id: str, leg_id: str) -> None:
        """The leg reached an answer the router wants: from here it is an ordinary call leg."""
        if self._current_leg.get(call_id) == leg_id:
            del self._current_leg[call_id]
        self._legs.pop(leg_id, None)

    def _unwanted_leg(self, call_id: str, leg_id: str) -> bool:
        """True for a leg whose ring was cancelled, or an answer from a leg that is not the
        call's current one (an earlier attempt, or one from before a restart): it is hung
        up, so its dialplan goes no further (the customer is not dialled, the agent not rung)."""
        if not leg_id:
            return False
        leg = self._legs.get(leg_id)
        if leg is not None:
            return leg.cancelled
        current = self._current_leg.get(call_id)
        if current is None:
            return False
        log.warning("ACD: callback %s: leg %s is not the current attempt (%s); hanging it up", call_id, leg_id, current)
        self._hang_up_stale(call_id, leg_id)
        return True

    def _cancel_leg(self, leg_id: str, reason: str) -> None:
        """The router cancelled a callback's ring: the attempt does not count, and its leg is
        hung up before anything else is done for this call (a new attempt waits for it)."""
        leg = self._legs.get(leg_id)
        if leg is None or leg.cancelled:
            return
        leg.cancelled = True
        log.info("ACD: callback %s: ring for %s cancelled (%s); hanging up leg %s", leg.call_id, leg.agent_id, reason, leg_id)
        self._carry_out(leg.call_id, self._hang_up_leg(leg))
        if self.callbacks is not None:
            write = self.callbacks.unplaced(leg.call_id, reason, leg.agent_id)
            if write is not None:
                self._carry_out(leg.call_id, write)  # stored before the next attempt's placing()

    async def _hang_up_leg(self, leg: _CallbackLeg) -> None:
        """Hang ``leg`` up and wait until Asterisk reports it gone (``Hangup`` event or failed
        ``OriginateResponse``).  ``Hangup`` is retried while the channel does not exist yet
        (an async Originate creates it a moment after its response)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEG_HANGUP_WAIT_S
        try:
            while leg.originated and not leg.ended.is_set():
                try:
                    await self.control.hang_up(leg.leg_id)
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
            self._legs.pop(leg.leg_id, None)

    def _hang_up_stale(self, call_id: str, leg_id: str) -> None:
        """Hang up a leg the router never asked for (or no longer wants), tracked as cancelled."""
        if leg_id in self._legs:
            return
        leg = _CallbackLeg(leg_id, call_id, "", cancelled=True, originated=True)
        self._legs[leg_id] = leg
        task = asyncio.ensure_future(self._hang_up_leg(leg))
        task.add_done_callback(_log_failure)

    async def _place_callback(self, decision: RingAgent, leg: _CallbackLeg) -> None:
        try:
            if leg.cancelled:
                return  # cancelled before it was sent: nothing to hang up, no attempt made
            customer_first = self.callbacks.mode_of(decision.call_id) == "customer-first"
            callback = await self.callbacks.placing(decision.call_id)
            if callback is None or leg.cancelled:
                return
            dial = self.customer_dial.replace("{number}", callback.number)
            leg.originated = True
            try:
                if customer_first:
                    await self.control.originate_customer_first(
                        decision.call_id, decision.agent_id, decision.endpoint, dial, callback.number,
                        self._queue_ring_s(decision.queue), self.customer_ring_s, leg.leg_id,
                        self._hold_labels(decision.call_id, decision.queue, callback.wait_origin),
                    )
                else:
                    await self.control.originate_callback(
                        decision.call_id, decision.agent_id, decision.endpoint, dial, callback.number,
                        decision.timeout_s, self.customer_ring_s, leg.leg_id, {"ACD_CALL_ID": decision.call_id},
                    )
            except Exception as exc:
                leg.originated = False
                if leg.cancelled or not self._is_current_leg(decision.call_id, leg.leg_id):
                    return
                self._accept_leg(decision.call_id, leg.leg_id)  # over: a failure, handled below
                log.warning("ACD: callback %s could not be placed with %s (%s)", decision.call_id, decision.agent_id, exc)
                if customer_first:
                    self._customer_leg_failed(self._now(), decision.call_id, "error")
                else:
                    self._apply(self.router.ring_no_answer(self._now(), decision.agent_id, decision.call_id))
        finally:
            if not leg.originated:
                leg.ended.set()
                if leg.cancelled:
                    self._legs.pop(leg.leg_id, None)

    def _hold_labels(self, call_id: str, queue: str, wait_origin: float) -> dict[str, str]:
        """What ``enqueue`` sets on a caller's channel, for a customer-first customer's channel."""
        labels = {"ACD_CALL_ID": call_id, "ACD_QUEUE": queue, "ACD_WAIT_ORIGIN": f"{wait_origin:.3f}", "ACD_PRIORITY": "", "ACD_CALLBACK_GREETING": self.customer_greeting}
        announce_every = self._announce_every(queue)
        if announce_every:
            labels["ACD_ANNOUNCE_EVERY"] = str(int(math.ceil(announce_every)))
        return labels

    def _customer_answered(self, fact: CallbackCustomerUp) -> list[Outcome]:
        """Customer first: the customer answered.  The callback is complete; from here the
        customer's channel is the call (an ordinary caller about to be connected).

        An answer on a leg whose ring was cancelled (or an earlier attempt's) is hung up
        instead: the new attempt, if any, is the only call this customer gets."""
        if self._unwanted_leg(fact.call_id, fact.leg_id):
            log.info("ACD: callback %s: customer answered leg %s after its ring was cancelled; it is hung up", fact.call_id, fact.leg_id)
            return []
        self._accept_leg(fact.call_id, fact.leg_id)
        self.router.end_ring_timeout_override(fact.call_id)  # any later ring is an ordinary caller's
        self._aliases[fact.leg_id] = fact.call_id
        self._channels[fact.call_id] = fact.channel
        if self.callbacks is not None:
            write = self.callbacks.settle(fact.call_id, "ANSWER", fact.agent_id)
            if write is not None:
                self._carry_out(fact.call_id, write)
        call = self.router.call(fact.call_id)
        if call is None or call.state != "ringing" or call.agent_id != fact.agent_id:
            # The reservation ended while the customer's phone rang (agent paused, safety
            # time-out): the customer waits at the head like any caller instead.
            log.warning("ACD: callback %s answered but %s is no longer reserved for it; customer to hold", fact.call_id, fact.agent_id)
            self._carry_out(fact.call_id, self.control.return_to_hold(fact.channel))
        return []

    def _customer_leg_failed(self, now: float, call_id: str, reason: str) -> list[Outcome]:
        """Customer first: the customer did not answer.  The attempt failed; the reserved
        agent is freed at once and unpaused (not their fault); the request is retried."""
        call = self.router.call(call_id)
        agent_id = call.agent_id if call is not None else None
        released = self.router.caller_abandoned(now, call_id, reason=CALLBACK_NOT_ANSWERED)  # the router's own view says why, too
        outcomes = self._apply(released, skip=frozenset({"call.abandoned"}))  # not an abandon: nobody was waiting on a line
        if self.callbacks is not None:
            write = self.callbacks.settle(call_id, ORIGINATE_REASONS.get(reason, "FAILED"), agent_id)
            if write is not None:
                self._carry_out(call_id, write)
        return outcomes

    # ---------------------------------------------------------------- facts from Asterisk
    async def run(self) -> None:
        """Consume call-control facts until cancelled (held back while resync reads Asterisk)."""
        async for fact in self.control.events():
            if self._resyncing:
                self._backlog.append(fact)
                continue
            try:
                self.handle(fact)
            except Exception:
                log.exception("ACD: failed to handle %r", fact)

    def handle(self, fact: ControlEvent) -> list[Outcome]:
        now = self._now()
        router = self.router
        if isinstance(fact, Parked):
            if fact.channel:
                self._channels[fact.call_id] = fact.channel
            if router.call(fact.call_id) is not None:
                return []  # back in hold after a failed ring: the router already re-queued it
            attached = self._attached.pop(fact.call_id, None)
            return self._apply(
                router.call_arrived(
                    now, fact.call_id, fact.queue, priority=fact.priority, attached=attached, wait_origin=fact.wait_origin
                )
            )
        if isinstance(fact, (AgentLegStarted, AgentAnswered)) and fact.call_id in self._aliases:
            fact = dataclasses.replace(fact, call_id=self._aliases[fact.call_id])
        if isinstance(fact, AgentLegStarted):
            call = router.call(fact.call_id)
            if call is not None and call.agent_id is not None:
                self._agent_legs[fact.agent_leg_id] = _Leg(fact.call_id, call.agent_id)
            return []
        if isinstance(fact, AgentAnswered):
            call = router.call(fact.call_id)
            if call is None or call.agent_id is None:
                return self._ignored(f"answer for unknown or unassigned call {fact.call_id}")
            return self._apply(router.agent_answered(now, call.agent_id, fact.call_id))
        if isinstance(fact, RingFailed):
            if fact.call_id in self._cancelled_rings:
                self._cancelled_rings.discard(fact.call_id)
                return []
            call = router.call(fact.call_id)
            if call is None or call.agent_id is None:
                return self._ignored(f"ring failure for call {fact.call_id} not ringing")
            return self._apply(router.ring_no_answer(now, call.agent_id, fact.call_id))
        if isinstance(fact, LegHungUp):
            return self._leg_hung_up(now, fact)
        if isinstance(fact, CallbackAgentUp):
            if self._unwanted_leg(fact.call_id, fact.agent_leg_id):
                return self._ignored(f"callback agent answer on cancelled leg {fact.agent_leg_id}; hung up")
            call = router.call(fact.call_id)
            if call is None or call.agent_id != fact.agent_id:
                self._hang_up_stale(fact.call_id, fact.agent_leg_id)  # else acd-callback would dial the customer
                return self._ignored(f"callback agent answer for {fact.call_id} not ringing {fact.agent_id}; hung up")
            self._accept_leg(fact.call_id, fact.agent_leg_id)
            self._agent_legs[fact.agent_leg_id] = _Leg(fact.call_id, fact.agent_id)
            return self._apply(router.agent_answered(now, fact.agent_id, fact.call_id))
        if isinstance(fact, CallbackCustomerUp):
            return self._customer_answered(fact)
        if isinstance(fact, CallbackResult):
            leg = self._legs.get(fact.leg_id)
            if leg is not None and leg.cancelled:
                return self._ignored(f"callback result from cancelled leg {fact.leg_id}")
            if self.callbacks is not None:
                self._carry_out(fact.call_id, self.callbacks.result(fact.call_id, fact.status, fact.agent_id))
            return []
        if isinstance(fact, OriginateFailed):
            leg = self._legs.get(fact.leg_id)
            if leg is not None:
                leg.ended.set()
            if fact.leg_id and not self._is_current_leg(fact.call_id, fact.leg_id):
                return self._ignored(f"originate failure of cancelled or earlier callback leg {fact.leg_id}")
            self._accept_leg(fact.call_id, fact.leg_id)  # over: the failure is handled here
            call = router.call(fact.call_id)
            if call is None or call.agent_id is None or call.state != "ringing":
                return self._ignored(f"originate failure for {fact.call_id} not ringing")
            if self.callbacks is not None and self.callbacks.mode_of(fact.call_id) == "customer-first":
                return self._customer_leg_failed(now, fact.call_id, fact.reason)
            return self._apply(router.ring_no_answer(now, call.agent_id, fact.call_id))
        if isinstance(fact, DeviceState):
            return self._device_state(fact)
        if isinstance(fact, WaitingKey):
            log.info("ACD: caller %s pressed %s while waiting", fact.call_id, fact.key)
            return []
        return []

    def _device_state(self, fact: DeviceState) -> list[Outcome]:
        """Follow agent phones: an unreachable phone pauses its agent, and so does a busy
        phone (``BUSY_DEVICE_STATES``) of an agent the router has free; idle again, unpauses.

        A busy phone is expected while the agent rings, talks or wraps up an ACD call: only
        an *available* agent is paused for it.  Only pauses these rules made are undone, so
        a supervisor's or the agent's own pause (or a ring-no-answer pause) is never lifted
        by a phone coming back.
        """
        agent_id = self._agents_by_device.get(fact.device)
        if agent_id is None:
            return []
        self._device_states[fact.device] = fact.state
        agent = self.router.agent(agent_id)
        if agent is None or agent.state == "logged_out":
            return []
        if fact.state in UNREACHABLE_DEVICE_STATES:
            if agent.state != "paused" or agent.reason == PHONE_BUSY_REASON:
                log.warning("ACD: agent %s's phone %s is %s; pausing the agent", agent_id, fact.device, fact.state)
                return self._apply(self.router.agent_pause(self._now(), agent_id, UNREACHABLE_REASON))
            return []
        if fact.state in BUSY_DEVICE_STATES:
            if agent.state == "available":
                log.warning("ACD: agent %s's phone %s is %s with no ACD call; pausing the agent", agent_id, fact.device, fact.state)
                return self._apply(self.router.agent_pause(self._now(), agent_id, PHONE_BUSY_REASON))
            return []
        if agent.state == "paused" and agent.reason in DEVICE_PAUSES:
            log.info("ACD: agent %s's phone %s is free again (%s)", agent_id, fact.device, fact.state)
            return self._apply(self.router.agent_unpause(self._now(), agent_id))
        return []

    def _leg_hung_up(self, now: float, fact: LegHungUp) -> list[Outcome]:
        router = self.router
        callback_leg = self._legs.get(fact.leg_id)
        if callback_leg is not None:  # a callback leg never answered (its failure, if any, follows)
            callback_leg.ended.set()
            return []
        leg = self._agent_legs.pop(fact.leg_id, None)
        if leg is not None:
            call = router.call(leg.call_id)
            if call is not None and call.state == "connected" and call.agent_id == leg.agent_id:
                return self._apply(router.call_completed(now, leg.call_id))
            return []
        call_id = self._aliases.pop(fact.leg_id, fact.leg_id)  # a customer-first customer's channel
        call = router.call(call_id)
        self._channels.pop(call_id, None)
        self._attached.pop(call_id, None)  # hung up between the queue node and the holding context
        self._cancelled_rings.discard(call_id)
        if call is None:
            return []
        if self._is_callback(call_id):
            return []  # the caller hung up after asking to be called back: the place is kept
        if call.state == "connected":
            return self._apply(router.call_completed(now, call_id))
        outcomes = self._apply(router.caller_abandoned(now, call_id))
        self._cancelled_rings.discard(call_id)  # the abandon's own CancelRing: no caller left to take back
        return outcomes

    # ---------------------------------------------------------------- decisions and facts
    def _ignored(self, reason: str) -> list[Outcome]:
        self.counters.ignored_events += 1
        log.info("ACD: ignored: %s", reason)
        return []

    def _apply(self, outcomes: list[Outcome], *, record: bool = True, skip: frozenset[str] = frozenset()) -> list[Outcome]:
        """Carry out decisions, record facts (``record=False``: a bookkeeping move, not a
        caller's action, e.g. a callback leaving the queue until its hours open; ``skip``:
        event types not to record, e.g. the abandon of a customer-first attempt).

        A cancelled ring of a callback has no caller channel to send back to hold: its
        Originate, if still ringing, is hung up instead."""
        # A cancel followed by a new ring for the same call: the ring's redirect ends the old
        # Dial by itself; sending both would race two redirects on one channel.
        rung_again = {o.call_id for o in outcomes if isinstance(o, RingAgent)}
        for outcome in outcomes:
            if isinstance(outcome, RingAgent):
                if self._is_callback(outcome.call_id):
                    leg = self._new_leg(outcome)
                    self._carry_out(outcome.call_id, self._place_callback(outcome, leg))
                else:
                    self._carry_out(outcome.call_id, self._ring(outcome))
            elif isinstance(outcome, CancelRing) and outcome.call_id in self._current_leg:
                # A callback's Originate still rings: hang it up; a new attempt for this
                # call (same batch or later) is chained after it, so it waits for the hang-up.
                self._cancel_leg(self._current_leg.pop(outcome.call_id), outcome.reason)
            elif isinstance(outcome, CancelRing) and outcome.call_id not in rung_again and not self._is_callback(outcome.call_id):
                self._cancelled_rings.add(outcome.call_id)
                self._carry_out(outcome.call_id, self._to_hold(outcome.call_id))
            elif isinstance(outcome, CallTimedOut):
                self._carry_out(outcome.call_id, self._time_out(outcome.call_id))
            if isinstance(outcome, Ignored):
                self.counters.ignored_events += 1
                log.info("ACD: router ignored an event: %s", outcome.reason)
                continue
            event = outcome_to_event(outcome) if record else None
            if event is not None and event.type not in skip:
                self.emit(event)
        self._arm_timer()
        return outcomes

    def _carry_out(self, call_id: str, action: Any) -> None:
        """Start an AMI action now, but after any earlier action for the same call."""
        previous = self._actions.get(call_id)

        async def in_order() -> None:
            if previous is not None and not previous.done():
                with contextlib.suppress(Exception):
                    await previous
            await action

        task = asyncio.ensure_future(in_order())
        self._actions[call_id] = task
        task.add_done_callback(_log_failure)
        task.add_done_callback(lambda done: self._actions.pop(call_id, None) if self._actions.get(call_id) is done else None)

    async def _ring(self, decision: RingAgent) -> None:
        channel = self._channels.get(decision.call_id)
        if channel is None:
            log.warning("ACD: no channel known for call %s; cannot ring %s", decision.call_id, decision.agent_id)
            return
        started = self.clock()  # real time: the action's latency
        try:
            await self.control.ring(channel, decision.call_id, decision.agent_id, decision.endpoint, decision.timeout_s)
        except AmiActionRefused as exc:
            # The call's own data (its channel, its id) cannot go into an action: no retry
            # will fix that, and it is not the agent's fault.  The call is given up.
            self.counters.ring_errors += 1
            log.error("ACD: call %s given up: %s", decision.call_id, exc)
            self._apply(self.router.caller_abandoned(self._now(), decision.call_id, reason=UNSAFE_CALL_DATA))
            return
        except Exception as exc:
            self.counters.ring_errors += 1
            log.warning("ACD: ringing %s for %s failed (%s); treating as no answer", decision.agent_id, decision.call_id, exc)
            self._apply(self.router.ring_no_answer(self._now(), decision.agent_id, decision.call_id))
            return
        self.counters.rings_sent += 1
        self.counters.last_decision_to_action_ms = (self.clock() - started) * 1000  # real time

    async def _to_hold(self, call_id: str) -> None:
        channel = self._channels.get(call_id)
        if channel is not None:
            await self.control.return_to_hold(channel)

    async def _time_out(self, call_id: str) -> None:
        channel = self._channels.get(call_id)
        if channel is not None:
            await self.control.end_waiting(channel)

    def _arm_timer(self) -> None:
        deadline = self.router.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None or (self._suspended_at is not None and self._now() == self._suspended_at):
            return  # suspended: _resume advances and arms again
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, deadline - self.clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self._apply(self.router.advance(self._now()))
        except Exception:
            log.exception("ACD: timer handling failed")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---------------------------------------------------------------- resynchronisation
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
                self._restore(now, channel, agent_legs.get(channel.uniqueid), history.get(channel.call_id, set()))
        for device in picture.devices:
            if device.device in self._agents_by_device:
                self._device_state(device)
        for channel in picture.channels:
            if channel.role != "waiting":
                continue
            if self.router.call(channel.call_id) is None:
                self.counters.requeued_on_resync += 1
                log.info("ACD: found parked caller %s in %s; re-queued with its original wait", channel.call_id, channel.queue)
                self.handle(Parked(channel.call_id, channel.channel, channel.queue, channel.wait_origin, channel.priority))
            elif channel.channel:
                self._channels[channel.call_id] = channel.channel
        live = {c.uniqueid for c in picture.channels}
        live |= {self._aliases[leg] for leg in live if leg in self._aliases}
        for call_id in sorted(self._known_call_ids()):
            if call_id not in live and not self._is_callback(call_id):
                self.counters.closed_on_resync += 1
                self._leg_hung_up(now, LegHungUp(leg_id=call_id, channel=self._channels.get(call_id, ""), cause="gone while disconnected"))
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
            self._agent_legs[agent_leg] = _Leg(call_id, channel.agent_id)
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
                    self._hang_up_stale(call_id, leg_id)
                stale = [self._legs[leg_id] for leg_id in legs if leg_id in self._legs]
                self._carry_out(call_id, self._release_when_gone(call_id, stale))

    async def _release_when_gone(self, call_id: str, legs: list[_CallbackLeg]) -> None:
        for leg in legs:
            await leg.ended.wait()  # bounded: _hang_up_leg sets it within LEG_HANGUP_WAIT_S
        if self.callbacks is not None:
            self.callbacks.release(call_id, "was still ringing after the restart and was hung up")

    def _known_call_ids(self) -> set[str]:
        ids: set[str] = set()
        for agent in self.router.agents():
            if agent.call_id:
                ids.add(agent.call_id)
        ids.update(self._channels)
        return {call_id for call_id in ids if self.router.call(call_id) is not None}


def _log_failure(task: asyncio.Future[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("ACD: action failed: %s", exc)


_ENVELOPE = {"call_id", "agent_id", "queue", "at"}


@functools.lru_cache(maxsize=None)
def _event_shape(kind: type) -> tuple[str, tuple[str, ...], str] | None:
    """(event type, field names, field holding the queue) of an outcome class, or None."""
    event_type = "call.timed_out" if issubclass(kind, CallTimedOut) else getattr(kind, "EVENT_TYPE", None)
    if event_type is None or not dataclasses.is_dataclass(kind):
        return None
    names = tuple(f.name for f in dataclasses.fields(kind))
    from_queue = issubclass(kind, (Notification, RingAgent, CallTimedOut)) and "from_queue" in names
    return event_type, names, "from_queue" if from_queue else "queue"


def outcome_to_event(outcome: Outcome) -> Event | None:
    """Map a router notification (or a decision that is also a fact) to the event model.

    On the hot path of every call (AMI ingest, simulations): the shape of each outcome
    class is worked out once, and the event is built without re-validating what the
    router's own typed dataclasses already guarantee (pydantic's ``model_construct``).
    """
    shape = _event_shape(type(outcome))
    if shape is None:
        return None
    event_type, names, queue_field = shape
    values = {name: getattr(outcome, name) for name in names}
    return Event.model_construct(
        type=event_type,
        ts=float(values["at"]),
        call_id=values.get("call_id"),
        agent_id=values.get("agent_id"),
        queue=values.get(queue_field),
        data={key: _plain(value) for key, value in values.items() if key not in _ENVELOPE},
        id=os.urandom(16).hex(),
        schema_version=SCHEMA_VERSION,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return masked_data(value) if value else {}  # attached data: the router keeps it clear, events never do
    return value


async def cancel_quietly(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
