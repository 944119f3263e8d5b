"""The dispatcher's callback part: a due callback joins its queue, a ring for it places a call.

A ``RingAgent`` for a callback places it instead of redirecting a caller (``Originate``,
agent first or customer first).  Customer first, the customer's answered channel then
carries the call under the request's call id (``_aliases``), so the agent's ring, answer
and hang-up are handled exactly as for a caller who waited on the line.  Which leg a fact
comes from, and the hang-up of cancelled legs, is :mod:`acd.dispatch.callback_legs`.

A mixin of :class:`acd.dispatch.Dispatcher` (its state and ``_apply``), kept apart so the
callback rules read in one place; the fact handlers here are entries of the dispatcher's
handler table.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from acd.asterisk.call_control import CallbackAgentUp, CallbackCustomerUp, CallbackResult, OriginateFailed
from acd.dispatch.callback_legs import CallbackLeg, CallbackLegs
from acd.dispatch.control import CallControl
from acd.dispatch.labels import agent_first_labels, customer_first_labels
from acd.routing import Router
from acd.routing.decisions import Outcome, RingAgent

log = logging.getLogger("acd.dispatch")

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


class CallbackCalls:
    # What this part uses of the dispatcher (declared, not defined: see Dispatcher).
    router: Router
    control: CallControl
    callbacks: Any
    customer_dial: str
    customer_ring_s: float
    customer_greeting: str
    _callback_legs: CallbackLegs
    _current_leg: dict[str, str]
    _channels: dict[str, str]
    _aliases: dict[str, str]
    _now: Callable[[], float]
    _apply: Callable[..., list[Outcome]]
    _carry_out: Callable[[str, Awaitable[Any]], None]
    _ignored: Callable[[str], list[Outcome]]
    _announce_every: Callable[[str], float | None]
    _track_agent_leg: Callable[[str, str, str], None]

    # ---------------------------------------------------------------- the queue (CallbackQueue)
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

    # ---------------------------------------------------------------- rings: placing and cancelling
    def _ring_callback(self, decision: RingAgent) -> None:
        """Place the callback with the agent the router chose; the leg is registered first."""
        stale = self._current_leg.pop(decision.call_id, None)
        if stale is not None:  # the router always cancels before ringing again; be safe anyway
            self._cancel_leg(stale, "replaced")
        leg = self._callback_legs.new(decision.call_id, decision.agent_id)
        self._carry_out(decision.call_id, self._place_callback(decision, leg))

    def _cancel_leg(self, leg_id: str, reason: str) -> None:
        """The router cancelled a callback's ring: the attempt does not count, and its leg is
        hung up before anything else is done for this call (a new attempt waits for it)."""
        leg = self._callback_legs.cancel(leg_id, reason)
        if leg is None:
            return
        self._carry_out(leg.call_id, self._callback_legs.hang_up(leg))
        if self.callbacks is not None:
            write = self.callbacks.unplaced(leg.call_id, reason, leg.agent_id)
            if write is not None:
                self._carry_out(leg.call_id, write)  # stored before the next attempt's placing()

    async def _place_callback(self, decision: RingAgent, leg: CallbackLeg) -> None:
        legs = self._callback_legs
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
                        decision.timeout_s, self.customer_ring_s, leg.leg_id, agent_first_labels(decision.call_id),
                    )
            except Exception as exc:
                leg.originated = False
                if leg.cancelled or not legs.is_current(decision.call_id, leg.leg_id):
                    return
                legs.accept(decision.call_id, leg.leg_id)  # over: a failure, handled below
                log.warning("ACD: callback %s could not be placed with %s (%s)", decision.call_id, decision.agent_id, exc)
                if customer_first:
                    self._customer_leg_failed(self._now(), decision.call_id, "error")
                else:
                    self._apply(self.router.ring_no_answer(self._now(), decision.agent_id, decision.call_id))
        finally:
            if not leg.originated:
                legs.not_sent(leg)

    def _hold_labels(self, call_id: str, queue: str, wait_origin: float) -> dict[str, str]:
        """What ``enqueue`` sets on a caller's channel, for a customer-first customer's channel."""
        return customer_first_labels(call_id, queue, wait_origin, self._announce_every(queue), self.customer_greeting)

    # ---------------------------------------------------------------- facts (handler table entries)
    def _on_callback_agent_up(self, fact: CallbackAgentUp, now: float) -> list[Outcome]:
        """Agent first: the agent answered the callback's leg; the dialplan dials the customer next."""
        legs = self._callback_legs
        if legs.unwanted(fact.call_id, fact.agent_leg_id):
            return self._ignored(f"callback agent answer on cancelled leg {fact.agent_leg_id}; hung up")
        call = self.router.call(fact.call_id)
        if call is None or call.agent_id != fact.agent_id:
            legs.hang_up_stale(fact.call_id, fact.agent_leg_id)  # else acd-callback would dial the customer
            return self._ignored(f"callback agent answer for {fact.call_id} not ringing {fact.agent_id}; hung up")
        legs.accept(fact.call_id, fact.agent_leg_id)
        self._track_agent_leg(fact.agent_leg_id, fact.call_id, fact.agent_id)
        return self._apply(self.router.agent_answered(now, fact.agent_id, fact.call_id))

    def _on_customer_up(self, fact: CallbackCustomerUp, now: float) -> list[Outcome]:
        """Customer first: the customer answered.  The callback is complete; from here the
        customer's channel is the call (an ordinary caller about to be connected).

        An answer on a leg whose ring was cancelled (or an earlier attempt's) is hung up
        instead: the new attempt, if any, is the only call this customer gets."""
        if self._callback_legs.unwanted(fact.call_id, fact.leg_id):
            log.info("ACD: callback %s: customer answered leg %s after its ring was cancelled; it is hung up", fact.call_id, fact.leg_id)
            return []
        self._callback_legs.accept(fact.call_id, fact.leg_id)
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

    def _on_callback_result(self, fact: CallbackResult, now: float) -> list[Outcome]:
        """Agent first: how the customer's side of the attempt ended (the store counts it)."""
        if self._callback_legs.cancelled(fact.leg_id):
            return self._ignored(f"callback result from cancelled leg {fact.leg_id}")
        if self.callbacks is not None:
            self._carry_out(fact.call_id, self.callbacks.result(fact.call_id, fact.status, fact.agent_id))
        return []

    def _on_originate_failed(self, fact: OriginateFailed, now: float) -> list[Outcome]:
        """The attempt's Originate failed: agent first, a ring without answer; customer first,
        the customer did not answer (:meth:`_customer_leg_failed`)."""
        legs = self._callback_legs
        legs.ended(fact.leg_id)
        if fact.leg_id and not legs.is_current(fact.call_id, fact.leg_id):
            return self._ignored(f"originate failure of cancelled or earlier callback leg {fact.leg_id}")
        legs.accept(fact.call_id, fact.leg_id)  # over: the failure is handled here
        call = self.router.call(fact.call_id)
        if call is None or call.agent_id is None or call.state != "ringing":
            return self._ignored(f"originate failure for {fact.call_id} not ringing")
        if self.callbacks is not None and self.callbacks.mode_of(fact.call_id) == "customer-first":
            return self._customer_leg_failed(now, fact.call_id, fact.reason)
        return self._apply(self.router.ring_no_answer(now, call.agent_id, fact.call_id))

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
