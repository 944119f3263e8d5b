"""The dispatcher: feeds the pure router from call-control facts and carries out its decisions.

* The IVR's ``queue`` node calls :meth:`Dispatcher.enqueue` (the ``QueueHandoff``): the call
  is labelled with channel variables (so it can be found again after a reconnect or an
  engine restart) and the router learns of it there and then.  With an agent free at once,
  the caller goes from its IVR session straight to that agent (``ACD_ACTION=agent``): no
  parking, no ``Redirect``, as cheap for Asterisk as its own ``Queue()``.  Otherwise the
  dialplan parks it in the holding context.  Until the channel has left its IVR session
  (``Parked``, the agent's leg, its hang-up), nothing is sent for it: a ``Redirect`` in the
  middle of an AGI session would cut the session's last writes.
* Each fact has one handler, found by its type in ``HANDLERS`` (a table, not a chain):
  ``Parked`` → ``router.call_arrived``; ``AgentAnswered`` → ``agent_answered``;
  ``RingFailed`` → ``ring_no_answer``; ``LegHungUp`` → ``caller_abandoned`` or
  ``call_completed``; ``DeviceState`` → the device rules (:mod:`acd.dispatch.devices`);
  the callback facts → :mod:`acd.dispatch.callback_calls`.
* Decisions leave at once (``RingAgent`` → ring; ``CancelRing`` → back to hold;
  ``CallTimedOut`` → goodbye), each after any earlier action for the same call.  One timer
  is armed for ``router.next_deadline()``; nothing polls.
* Every notification becomes an :class:`~acd.base.events.Event`
  (:func:`acd.routing.outcome_events.outcome_to_event`) and updates the live figures.
* On every AMI (re)connection the dispatcher resynchronises (:mod:`acd.dispatch.resync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from acd.asterisk.ami import AmiActionRefused
from acd.asterisk.call_control import (
    AgentAnswered,
    AgentLegStarted,
    CallbackAgentUp,
    CallbackCustomerUp,
    CallbackResult,
    ControlEvent,
    DeviceState,
    LegHungUp,
    OriginateFailed,
    Parked,
    RingFailed,
    WaitingKey,
)
from acd.base.events import Event
from acd.dispatch.callback_calls import CallbackCalls
from acd.dispatch.callback_legs import CallbackLegs, log_failure
from acd.dispatch.control import AgentLeg, CallControl, History
from acd.dispatch.labels import hold_labels
from acd.dispatch.devices import PAUSE, PHONE_BUSY_REASON, device_rule
from acd.dispatch.handoff_routing import HandoffRouting
from acd.dispatch.resync import Resync
from acd.ivr.channel import Channel
from acd.ivr.handoff import QueueRequest
from acd.routing import Router, RoutingConfig
from acd.routing.decisions import CallQueued, CallRequeued, CallTimedOut, CancelRing, Ignored, Outcome, RingAgent
from acd.routing.outcome_events import outcome_to_event

log = logging.getLogger("acd.dispatch")

#: why a ringing agent is freed when the call's own data cannot be put into an AMI action
UNSAFE_CALL_DATA = "unsafe-call-data"


@dataclass
class DispatchStats:
    rings_sent: int = 0
    rings_at_handoff: int = 0  # of those, callers sent to their agent straight from the IVR (no Redirect)
    ring_errors: int = 0
    ignored_events: int = 0
    resyncs: int = 0
    requeued_on_resync: int = 0
    closed_on_resync: int = 0
    restored_on_resync: int = 0  # calls found ringing or talking to an agent that the router did not see so
    answers_found_on_resync: int = 0  # of those, answers the engine missed (AMI gap, restart)
    last_decision_to_action_ms: float | None = None


@dataclass
class Dispatcher(Resync, CallbackCalls, HandoffRouting):
    router: Router
    control: CallControl
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    counters: DispatchStats = field(default_factory=DispatchStats)
    callbacks: Any = None  # acd.features.callbacks.CallbackService, when callbacks are on
    customer_dial: str = "PJSIP/{number}@customers"
    customer_ring_s: float = 30.0
    customer_greeting: str = ""  # customer first: played to the customer before the agent is rung
    history: History | None = None  # the event log's view of calls found on resync (None: nothing recorded)

    #: fact type -> the name of its handler, ``handler(fact, now) -> outcomes``.  By name, so
    #: a subclass overriding a handler is used; facts of other types are ignored.
    HANDLERS: ClassVar[dict[type, str]] = {
        Parked: "_on_parked",
        AgentLegStarted: "_on_agent_leg_started",
        AgentAnswered: "_on_agent_answered",
        RingFailed: "_on_ring_failed",
        LegHungUp: "_leg_hung_up",
        DeviceState: "_on_device_state",
        WaitingKey: "_on_waiting_key",
        CallbackAgentUp: "_on_callback_agent_up",  # acd.dispatch.callback_calls
        CallbackCustomerUp: "_on_customer_up",
        CallbackResult: "_on_callback_result",
        OriginateFailed: "_on_originate_failed",
    }

    def __post_init__(self) -> None:
        self._handlers: dict[type, Callable[[Any, float], list[Outcome]]] = {kind: getattr(self, name) for kind, name in self.HANDLERS.items()}
        self._channels: dict[str, str] = {}  # call id -> caller channel name
        self._agent_legs: dict[str, AgentLeg] = {}  # agent leg uniqueid -> call
        self._cancelled_rings: set[str] = set()
        self._attached: dict[str, dict[str, str]] = {}
        self._actions: dict[str, asyncio.Future[None]] = {}
        self._agents_by_device = {agent.endpoint: agent.id for agent in self.router.config.agents}
        self._device_states: dict[str, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None  # what the armed timer is for
        self._aliases: dict[str, str] = {}  # customer-first: customer channel uniqueid -> call id
        self._callback_legs = CallbackLegs(hang_up=lambda leg_id: self.control.hang_up(leg_id))
        self._legs = self._callback_legs.legs  # callback legs in flight or being hung up, by leg id
        self._current_leg = self._callback_legs.current  # call id -> the leg the router's ring is waiting for
        self._suspended_at: float | None = None  # AMI lost: the router's time stands still (suspend)
        self._resyncing = False
        self._backlog: list[ControlEvent] = []  # facts that arrived while resync read Asterisk
        self._queued_before: set[str] = set()  # parked callers the log already holds as queued (resync re-queues them)
        self._handoff_gates: dict[str, asyncio.Future[None]] = {}  # calls routed at the hand-off, still in their IVR session
        self._gate_timers: dict[str, asyncio.TimerHandle] = {}  # each gate's HANDOFF_GATE_S limit, cancelled when it opens
        self._held_ring: str | None = None  # _apply: the call whose ring the hand-off carries out itself

    # ---------------------------------------------------------------- IVR hand-off
    async def enqueue(self, channel: Channel, request: QueueRequest) -> str | None:
        """Label the call for the holding context and route it now; ``"agent"`` when the
        caller goes straight to the agent chosen (the IVR's next step), None to park it.

        While Asterisk is out of sight (AMI down, resync) routing waits for the caller to be
        parked, as it does for a control that cannot prepare a ring (tests' fakes)."""
        now = self._now()
        queue = self._queue_for(request)
        priority = request.priority or None  # 0 (the flow's default) means "the queue's priority"
        config = next((q for q in self.router.config.queues if q.name == queue), None)
        # The label carries the queue's priority rather than "" for "the queue's": the same
        # number the router gives the call, and one AGI round trip less (MSet cannot write an
        # empty value for certain, so "" went on its own).
        labelled = priority if priority is not None or config is None else config.priority
        announce_every = config.waiting.announce_every_s if config is not None else None
        labels = hold_labels(channel.call_id, queue, now, labelled, announce_every)
        set_many = getattr(channel, "set_variables", None)  # one AGI round trip where the channel can
        if set_many is not None:
            await set_many(labels)
        else:
            for name, value in labels.items():
                await channel.set_variable(name, value)
        channel_name = getattr(channel, "channel_name", "")
        if channel_name:
            self._channels[channel.call_id] = channel_name
        if request.attached:
            self._attached[channel.call_id] = dict(request.attached)
        if not channel_name or not self._routes_at_handoff(channel.call_id):
            return None
        return await self._route_at_handoff(channel, queue, priority, now)

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
        return self._apply(self.router.agent_login(self._now(), agent_id)) + self._known_phone_state(agent_id)

    def _known_phone_state(self, agent_id: str) -> list[Outcome]:
        """Apply what the agent's phone is known to be now (unreachable, or busy with a call of its own)."""
        endpoint = next((device for device, agent in self._agents_by_device.items() if agent == agent_id), None)
        known = self._device_states.get(endpoint) if endpoint else None
        return self._device_state(DeviceState(endpoint, known)) if endpoint and known is not None else []

    def agent_logout(self, agent_id: str, reason: str = "logout") -> list[Outcome]:
        return self._apply(self.router.agent_logout(self._now(), agent_id, reason))

    def agent_pause(self, agent_id: str, reason: str = "pause") -> list[Outcome]:
        return self._apply(self.router.agent_pause(self._now(), agent_id, reason))

    def agent_unpause(self, agent_id: str) -> list[Outcome]:
        # unpaused from a phone still in use (*47): it is paused again as phone-busy until it hangs up
        return self._apply(self.router.agent_unpause(self._now(), agent_id)) + self._known_phone_state(agent_id)

    def wrap_up_queue(self, agent_id: str) -> str | None:
        """The queue of the call ``agent_id`` is wrapping up (whose codes ``*48N`` chooses from)."""
        view = self.router.agent(agent_id)
        return view.queue if view is not None and view.state == "wrap_up" else None

    def disposition(self, agent_id: str, code: str, call_id: str | None = None, by: str = "agent") -> list[Outcome]:
        """The agent codes the call it is wrapping up (``call.disposition``; the wrap-up ends)."""
        return self._apply(self.router.disposition(self._now(), agent_id, code, call_id, by))

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

    # ---------------------------------------------------------------- facts from Asterisk
    async def run(self) -> None:
        """Consume call-control facts until cancelled (held back while resync reads Asterisk).

        A control that can hand facts over as they are read (``listen`` returning the
        function that stops it: the AMI one) is listened to, so a fact costs no queue and
        no task wake-up; any other is iterated (``events``)."""
        listen = getattr(self.control, "listen", None)
        stop = listen(self._take) if listen is not None else None
        if stop is not None:
            try:
                await asyncio.get_running_loop().create_future()  # until cancelled
            finally:
                stop()
            return
        async for fact in self.control.events():
            self._take(fact)

    def _take(self, fact: ControlEvent) -> None:
        if self._resyncing:
            self._backlog.append(fact)
            return
        try:
            self.handle(fact)
        except Exception:
            log.exception("ACD: failed to handle %r", fact)

    def handle(self, fact: ControlEvent) -> list[Outcome]:
        """One fact, to the one handler for its type (``HANDLERS``)."""
        handler = self._handlers.get(type(fact))
        return handler(fact, self._now()) if handler is not None else []

    def _on_parked(self, fact: Parked, now: float) -> list[Outcome]:
        """A caller reached the holding context: the router routes it from here."""
        self._open_gate(fact.call_id)
        if fact.channel:
            self._channels[fact.call_id] = fact.channel
        if self.router.call(fact.call_id) is not None:
            return []  # back in hold after a failed ring: the router already re-queued it
        attached = self._attached.pop(fact.call_id, None)
        outcomes = self.router.call_arrived(now, fact.call_id, fact.queue, priority=fact.priority, attached=attached, wait_origin=fact.wait_origin)
        if fact.call_id in self._queued_before:
            # Already offered in the log (a previous engine queued it): back at its place, not a new offer.
            self._queued_before.discard(fact.call_id)
            outcomes = [
                CallRequeued(o.call_id, o.queue, "resync", o.wait_origin, o.at) if isinstance(o, CallQueued) and o.call_id == fact.call_id else o
                for o in outcomes
            ]
        return self._apply(outcomes)

    def _on_agent_leg_started(self, fact: AgentLegStarted, now: float) -> list[Outcome]:
        """Dial created the agent's channel: its hang-up will end the call once answered."""
        call_id = self._aliases.get(fact.call_id, fact.call_id)  # a customer-first customer's channel
        self._open_gate(call_id)
        call = self.router.call(call_id)
        if call is not None and call.agent_id is not None:
            self._track_agent_leg(fact.agent_leg_id, call_id, call.agent_id)
        return []

    def _on_agent_answered(self, fact: AgentAnswered, now: float) -> list[Outcome]:
        call_id = self._aliases.get(fact.call_id, fact.call_id)
        call = self.router.call(call_id)
        if call is None or call.agent_id is None:
            return self._ignored(f"answer for unknown or unassigned call {call_id}")
        return self._apply(self.router.agent_answered(now, call.agent_id, call_id))

    def _on_ring_failed(self, fact: RingFailed, now: float) -> list[Outcome]:
        if fact.call_id in self._cancelled_rings:
            self._cancelled_rings.discard(fact.call_id)
            return []
        call = self.router.call(fact.call_id)
        if call is None or call.agent_id is None:
            return self._ignored(f"ring failure for call {fact.call_id} not ringing")
        return self._apply(self.router.ring_no_answer(now, call.agent_id, fact.call_id))

    def _on_waiting_key(self, fact: WaitingKey, now: float) -> list[Outcome]:
        log.info("ACD: caller %s pressed %s while waiting", fact.call_id, fact.key)
        return []

    def _on_device_state(self, fact: DeviceState, now: float) -> list[Outcome]:
        return self._device_state(fact)

    def _track_agent_leg(self, agent_leg_id: str, call_id: str, agent_id: str) -> None:
        self._agent_legs[agent_leg_id] = AgentLeg(call_id, agent_id)

    def _device_state(self, fact: DeviceState) -> list[Outcome]:
        """Follow agent phones (:func:`acd.dispatch.devices.device_rule`)."""
        agent_id = self._agents_by_device.get(fact.device)
        if agent_id is None:
            return []
        self._device_states[fact.device] = fact.state
        agent = self.router.agent(agent_id)
        if agent is None or agent.state == "logged_out":
            return []
        rule = device_rule(fact.state, agent.state, agent.reason)
        if rule is None:
            return []
        action, reason = rule
        if action == PAUSE:
            why = " with no ACD call" if reason == PHONE_BUSY_REASON else ""
            log.warning("ACD: agent %s's phone %s is %s%s; pausing the agent", agent_id, fact.device, fact.state, why)
            return self._apply(self.router.agent_pause(self._now(), agent_id, reason))
        log.info("ACD: agent %s's phone %s is free again (%s)", agent_id, fact.device, fact.state)
        return self._apply(self.router.agent_unpause(self._now(), agent_id))

    def _leg_hung_up(self, fact: LegHungUp, now: float) -> list[Outcome]:
        """A channel ended: a callback leg, an agent's leg (the call completes) or the caller's."""
        router = self.router
        if self._callback_legs.ended(fact.leg_id):  # a callback leg never answered (its failure, if any, follows)
            return []
        leg = self._agent_legs.pop(fact.leg_id, None)
        if leg is not None:
            call = router.call(leg.call_id)
            if call is not None and call.state == "connected" and call.agent_id == leg.agent_id:
                return self._apply(router.call_completed(now, leg.call_id))
            return []
        call_id = self._aliases.pop(fact.leg_id, fact.leg_id)  # a customer-first customer's channel
        self._open_gate(call_id)
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
            if isinstance(outcome, RingAgent) and outcome.call_id == self._held_ring:
                pass  # the hand-off rings it itself (_route_at_handoff)
            elif isinstance(outcome, RingAgent):
                if self._is_callback(outcome.call_id):
                    self._ring_callback(outcome)
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
        task.add_done_callback(log_failure)
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
        suspended = self._suspended_at is not None and self._now() == self._suspended_at
        if self._timer is not None and deadline == self._timer_deadline and not suspended:
            return  # the armed timer already stands for this deadline (most facts leave it as it was)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None or suspended:
            return  # suspended: _resume advances and arms again
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, deadline - self.clock()), self._on_timer)
        self._timer_deadline = deadline

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

