"""The pure ACD core: events in, decisions out.

No sockets, no asyncio, no clock: every method takes ``now`` (float seconds, e.g. UNIX
time) so a test can replay any scenario with a fake clock and get the same answer every
time.  Each method first applies every timer that fell due up to ``now`` (expansion
steps, ring time-outs, wrap-up ends, max-wait exits) in deadline order, then handles its
own event, and returns everything that happened as :mod:`acd.routing.decisions`.  The
engine arms one timer for :meth:`Router.next_deadline` and calls :meth:`Router.advance`
when it fires, so nothing ever polls.  Time never runs backwards: an earlier ``now`` is
treated as the latest time already seen.

Matching rule (checked after every change that could create a match, so no waiting call
ever has an eligible agent sitting idle):

* a call meets the best eligible available agent: the highest proficiency for the
  queue (the agent's weakest required skill), then the longest idle;
* a freed agent takes the best eligible waiting call across every queue it serves: the
  highest priority, then the longest wait (``wait_origin``), then arrival order;
* eligibility is "has all the queue's skills at or above the call's current expansion
  step's ``min_proficiency``".

Contradicting inputs (an answer for a call that is not ringing that agent, unknown ids)
never raise: they return :class:`~acd.routing.decisions.Ignored`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from acd.routing.decisions import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOverflowed,
    CallQueued,
    CallRequeued,
    CancelRing,
    Ignored,
    Outcome,
    positional_constructor,
)
from acd.routing.config import RoutingConfig
from acd.routing.matching import MatchingCore, Out, new_agent_state_changed
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState
from acd.routing.reconfigure import reconfigure
from acd.routing.dispositions import code_call
from acd.routing.restore import restore_call
from acd.routing.pools import COMPACT_MIN

# Enum members bound once: ``AgentState.X`` is a slow class-attribute lookup on CPython 3.11.
_LOGGED_OUT = AgentState.LOGGED_OUT
_RESERVED = AgentState.RESERVED
_ON_CALL = AgentState.ON_CALL
_WRAP_UP = AgentState.WRAP_UP
_CONNECTED = CallState.CONNECTED
_WAITING = CallState.WAITING
_INF = float("inf")
# Built without going through ``type.__call__`` (decisions.positional_constructor).
new_call_queued = positional_constructor(CallQueued)
new_call_answered = positional_constructor(CallAnswered)
new_call_completed = positional_constructor(CallCompleted)


@dataclass(frozen=True, slots=True)
class AgentView:
    """Read-only picture of an agent for the control API and tests."""

    id: str
    name: str
    endpoint: str
    state: str
    reason: str
    since: float
    idle_since: float
    call_id: str | None  # the call ringing, talking or being wrapped up
    pending: str | None  # "paused:<reason>" or "logged_out:<reason>" waiting for the call to end
    queue: str | None = None  # the queue of that call (the one whose dispositions a wrap-up offers)


@dataclass(frozen=True, slots=True)
class CallView:
    """Read-only picture of a routed call."""

    id: str
    queue: str
    state: str
    priority: int
    wait_origin: float
    entered_queue_at: float
    min_proficiency: int
    agent_id: str | None
    attached: Mapping[str, Any]


class Router(MatchingCore):
    """Skills-based routing state for one ACD; see the module docstring for the rules.

    ``Router(config)`` starts with every agent logged out and no calls.
    """

    # --- time ------------------------------------------------------------------------

    def advance(self, now: float) -> list[Outcome]:
        """Apply every deadline up to ``now``: expansion, overflow, ring time-out, wrap-up end."""
        out: Out = []
        self._tick(now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`advance` would change something, or None."""
        return self._timers.next_at()

    @property
    def deadline_heap(self) -> list[tuple[float, int, int, Any]]:
        """The timers' heap itself, so a driver can skip :meth:`next_deadline` when nothing can be due.

        While the list is empty or its first entry's time (``heap[0][0]``) is later than
        ``t``, no deadline falls at or before ``t``.  The first entry may be a cancelled
        timer, so it is a lower bound, not the answer: ask :meth:`next_deadline` once it
        is not later than ``t``.  The simulator checks this after every event instead of
        calling :meth:`next_deadline` (a method call that was 7 % of its time).  The same
        list for the router's whole life; read it, never change it.
        """
        return self._timers.heap

    # --- calls -----------------------------------------------------------------------

    def call_arrived(
        self,
        now: float,
        call_id: str,
        queue: str,
        priority: int | None = None,
        attached: Mapping[str, Any] | None = None,
        wait_origin: float | None = None,
        ring_timeout_s: float | None = None,
    ) -> list[Outcome]:
        """A caller joins ``queue``.

        ``priority`` defaults to the queue's.  ``wait_origin`` is when the caller's wait
        began; pass it when re-queuing a call after an engine restart so its place, its
        expansion step and its reported wait all survive.  ``ring_timeout_s`` replaces the
        queue's ring time-out for the call's rings until one goes unanswered or
        :meth:`end_ring_timeout_override` is called: a customer-first callback reserves the
        agent while the customer's phone rings first, also when the reserved agent is
        paused and the call goes to another one.
        """
        out: Out = []
        now = self._tick(now, out)
        runtime = self._queues.get(queue)
        if runtime is None or queue in self._retired:
            out.append(Ignored(f"call {call_id!r} arrived for unknown queue {queue!r}", now, call_id=call_id))
            return out
        if call_id in self._calls:
            out.append(Ignored(f"call {call_id!r} is already being routed", now, call_id=call_id))
            return out
        origin = now if wait_origin is None or not wait_origin <= now else wait_origin
        self._seq += 1
        if priority is None:
            priority = runtime.priority
        # (id, queue, priority, wait_origin, entered, seq, attached), positionally: it is faster
        call = CallRecord(call_id, runtime, priority, origin, origin, self._seq, dict(attached) if attached else {})
        if ring_timeout_s is not None:
            call.ring_timeout_s = ring_timeout_s
        self._calls[call_id] = call
        out.append(new_call_queued(call_id, queue, priority, runtime.skills, origin, now, dict(call.attached) if attached else {}))
        self._place_call(call, now, out)
        return out

    def end_ring_timeout_override(self, call_id: str) -> None:
        """The call's next rings use the queue's ring time-out again (a customer-first
        callback's customer answered: from now on it is an ordinary caller)."""
        call = self._calls.get(call_id)
        if call is not None:
            call.ring_timeout_s = None

    def caller_abandoned(self, now: float, call_id: str, reason: str = "caller-abandoned") -> list[Outcome]:
        """The caller hung up before talking to an agent (while waiting or while an agent rang).

        ``reason`` is why a ringing agent is freed (its state reason, shown by ``acd
        agents``): e.g. ``callback-not-answered`` when a customer-first callback's customer
        did not answer, which was nobody's abandon.
        """
        out: Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None:
            out.append(Ignored(f"abandon for unknown call {call_id!r}", now, call_id=call_id))
            return out
        if call.state is _CONNECTED:
            out.append(Ignored(f"abandon for call {call_id!r} which is talking to an agent; expected call_completed", now, call_id=call_id))
            return out
        del self._calls[call_id]
        out.append(CallAbandoned(call_id, call.queue.name, now - call.wait_origin, now))
        if call.state is _WAITING:
            self._unwait(call)
        else:
            self._release_ringing_agent(call, now, reason, out)
        return out

    def call_completed(self, now: float, call_id: str, hold_s: float = 0.0) -> list[Outcome]:
        """The conversation ended (either side hung up or the bridge ended): the agent goes to wrap-up."""
        out: Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None or call.state is not _CONNECTED or call.agent is None:
            what = "unknown call" if call is None else f"call in state {call.state.value}"
            out.append(Ignored(f"completion for {what} {call_id!r}", now, call_id=call_id))
            return out
        del self._calls[call_id]
        agent = call.agent
        out.append(new_call_completed(call_id, agent.id, call.queue.name, now - call.answered_at, hold_s, now))
        wrap_up_s = call.queue.wrap_up_s
        if agent.pending is not None and agent.pending[0] is _LOGGED_OUT:
            reason = agent.pending[1]
            agent.pending = None
            agent.call = None
            self._transition(agent, _LOGGED_OUT, reason, now, out, call)
            if agent.id in self._departing:  # removed from the routing file while talking
                self._departing.discard(agent.id)
                del self._agents[agent.id]
        elif call.queue.disposition_required:  # wrap-up until the agent codes the call
            self._transition(agent, _WRAP_UP, "call-completed", now, out, call)
        elif wrap_up_s > 0:
            self._transition(agent, _WRAP_UP, "call-completed", now, out, call)
            self._timers.schedule(now + wrap_up_s, agent)
        elif agent.pending is None:
            self._free_agent(agent, now, now, "call-completed", out, call)  # _end_wrap_up's usual case
        else:
            self._end_wrap_up(agent, now, out, reason="call-completed")
        return out

    def set_priority(self, now: float, call_id: str, priority: int) -> list[Outcome]:
        """Supervisor: change a call's priority; a waiting call takes its new place at once."""
        out: Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        if call is None or call.state is CallState.CONNECTED:
            what = "unknown call" if call is None else "call already answered"
            out.append(Ignored(f"set_priority: {what} {call_id!r}", now, call_id=call_id))
            return out
        if call.state is CallState.WAITING:
            pool = call.queue.call_pools[call.step]
            call.priority = priority
            call.token = self._next_token()  # the old entry goes stale before the pool hears of it
            pool.forget_one()
            pool.push(call.sort_key(), call)
        else:
            call.priority = priority  # applies if the ringing agent does not answer
        return out

    def move_call(self, now: float, call_id: str, queue: str) -> list[Outcome]:
        """Supervisor: move a waiting (or ringing) call to another queue, keeping its wait."""
        out: Out = []
        now = self._tick(now, out)
        call = self._calls.get(call_id)
        target = self._queues.get(queue)
        if call is None or target is None or queue in self._retired:
            what = f"unknown call {call_id!r}" if call is None else f"unknown queue {queue!r}"
            out.append(Ignored(f"move_call: {what}", now, call_id=call_id))
            return out
        if call.state is CallState.CONNECTED or target is call.queue:
            what = "is already answered" if call.state is CallState.CONNECTED else f"is already in {queue!r}"
            out.append(Ignored(f"move_call: call {call_id!r} {what}", now, call_id=call_id))
            return out
        if call.state is CallState.WAITING:
            self._unwait(call)
        else:
            self._release_ringing_agent(call, now, "call-moved", out)
        out.append(CallOverflowed(call_id, call.queue.name, queue, now - call.wait_origin, "supervisor", now))
        call.queue = target
        call.entered = now
        self._place_call(call, now, out)
        return out

    # --- configuration ---------------------------------------------------------------

    def reconfigure(self, now: float, config: RoutingConfig) -> list[Outcome]:
        """Apply a new routing file without losing a call (rules: :mod:`acd.routing.reconfigure`)."""
        return reconfigure(self, now, config)

    def restore_call(
        self,
        now: float,
        call_id: str,
        queue: str,
        agent_id: str,
        *,
        answered_at: float | None,
        wait_origin: float | None = None,
        priority: int | None = None,
        attached: Mapping[str, Any] | None = None,
    ) -> list[Outcome]:
        """Asterisk shows ``call_id`` ringing ``agent_id`` (``answered_at`` None) or talking to
        it since ``answered_at``: the router follows (rules: :mod:`acd.routing.restore`)."""
        return restore_call(
            self, now, call_id, queue, agent_id, answered_at=answered_at, wait_origin=wait_origin, priority=priority, attached=attached
        )

    # --- agents ----------------------------------------------------------------------

    def agent_login(self, now: float, agent_id: str) -> list[Outcome]:
        out: Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        if agent_id in self._departing:
            out.append(Ignored(f"agent {agent_id!r} was removed from the routing file", now, agent_id=agent_id))
        elif agent.state is AgentState.LOGGED_OUT:
            self._free_agent(agent, now, now, "login", out)
        elif agent.pending is not None and agent.pending[0] is AgentState.LOGGED_OUT:
            agent.pending = None  # changed their mind before the call ended
        else:
            out.append(Ignored(f"agent {agent_id!r} is already logged in ({agent.state.value})", now, agent_id=agent_id))
        return out

    def agent_logout(self, now: float, agent_id: str, reason: str = "logout") -> list[Outcome]:
        """Log out now, or when the current call ends (the call itself is never cut)."""
        return self._take_away(now, agent_id, AgentState.LOGGED_OUT, reason, "agent-logout")

    def agent_pause(self, now: float, agent_id: str, reason: str = "pause") -> list[Outcome]:
        """Pause now (ending a wrap-up early), or after the current call's wrap-up."""
        return self._take_away(now, agent_id, AgentState.PAUSED, reason, "agent-paused")

    def agent_unpause(self, now: float, agent_id: str) -> list[Outcome]:
        out: Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        if agent.state is AgentState.PAUSED:
            self._free_agent(agent, now, now, "unpause", out)
        elif agent.pending is not None and agent.pending[0] is AgentState.PAUSED:
            agent.pending = None
        else:
            out.append(Ignored(f"unpause for agent {agent_id!r} which is {agent.state.value}", now, agent_id=agent_id))
        return out

    def agent_answered(self, now: float, agent_id: str, call_id: str) -> list[Outcome]:
        out: Out = []
        now = self._tick(now, out)
        agent = self._agents.get(agent_id)
        call = agent.call if agent is not None else None
        if agent is None or agent.state is not _RESERVED or call is None or call.id != call_id:
            self._ringing_pair(agent_id, call_id, now, "answer", out)  # says what is wrong
            return out
        if agent.timer_token:  # Timers.cancel, inline: the ring's time-out
            agent.timer_token = 0
            timers = self._timers
            timers.stale = stale = timers.stale + 1
            if stale > COMPACT_MIN and stale * 2 > len(timers.heap):
                timers.compact()
        call.state = _CONNECTED
        call.answered_at = now
        queue_name = call.queue.name
        out.append(new_call_answered(call_id, agent_id, queue_name, now - call.wait_origin, now))
        out.append(new_agent_state_changed(agent_id, "on_call", "reserved", "answered", now, call_id, queue_name))  # _transition
        agent.state = _ON_CALL
        agent.reason = "answered"
        agent.since = now
        return out

    def ring_no_answer(self, now: float, agent_id: str, call_id: str) -> list[Outcome]:
        """Asterisk reports the agent's phone rang out, was busy or rejected the call."""
        out: Out = []
        now = self._tick(now, out)
        agent = self._ringing_pair(agent_id, call_id, now, "ring-no-answer", out)
        if agent is not None:
            self._timers.cancel(agent)
            self._ring_no_answer(agent, now, out, reported=True)
        return out

    def disposition(self, now: float, agent_id: str, code: str, call_id: str | None = None, by: str = "agent") -> list[Outcome]:
        """The agent codes the call it is wrapping up; the wrap-up ends (rules: :mod:`acd.routing.dispositions`)."""
        return code_call(self, now, agent_id, code, call_id, by)

    # --- views -----------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentView | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        pending = f"{agent.pending[0].value}:{agent.pending[1]}" if agent.pending else None
        call = agent.call
        call_id = call.id if call is not None else None
        queue = call.queue.name if call is not None else None
        return AgentView(agent.id, agent.name, agent.endpoint, agent.state.value, agent.reason, agent.since, agent.idle_since, call_id, pending, queue)

    def agents(self) -> list[AgentView]:
        return [view for agent_id in self._agents if (view := self.agent(agent_id)) is not None]

    def call(self, call_id: str) -> CallView | None:
        call = self._calls.get(call_id)
        if call is None:
            return None
        queue = call.queue
        step = queue.step_at(call.entered, self._clock) if call.state is not CallState.WAITING else call.step
        return CallView(
            call.id,
            queue.name,
            call.state.value,
            call.priority,
            call.wait_origin,
            call.entered,
            queue.step_min[step],
            call.agent.id if call.agent is not None else None,
            dict(call.attached),
        )

    def queue_names(self) -> list[str]:
        """Queues of the routing file, and removed ones while callers are still in them."""
        return list(self._queues)

    def queue_skills(self, queue: str) -> tuple[str, ...]:
        runtime = self._queues.get(queue)
        return runtime.skills if runtime is not None else ()

    def waiting_count(self, queue: str | None = None) -> int:
        """Calls waiting (not ringing) in ``queue``, or in all queues; O(1) per queue."""
        if queue is not None:
            runtime = self._queues.get(queue)
            return runtime.waiting if runtime is not None else 0
        return sum(runtime.waiting for runtime in self._queues.values())

    def waiting(self, queue: str) -> list[CallView]:
        """Calls waiting in ``queue``, head first (for position announcements); O(n log n)."""
        runtime = self._queues.get(queue)
        if runtime is None:
            return []
        calls = sorted((call for pool in runtime.call_pools for call in pool.live()), key=CallRecord.sort_key)
        return [view for call in calls if (view := self.call(call.id)) is not None]

    def check_invariants(self) -> list[str]:
        """Internal consistency problems (empty when healthy); for tests and a debug endpoint."""
        from acd.routing.invariants import check_router

        return check_router(self)

    # --- event validation ------------------------------------------------------------

    def _agent_or_ignore(self, agent_id: str, now: float, out: Out) -> AgentRecord | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            out.append(Ignored(f"unknown agent {agent_id!r}", now, agent_id=agent_id))
        return agent

    def _ringing_pair(self, agent_id: str, call_id: str, now: float, what: str, out: Out) -> AgentRecord | None:
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return None
        if agent.state is not AgentState.RESERVED or agent.call is None or agent.call.id != call_id:
            ringing = agent.call.id if agent.state is AgentState.RESERVED and agent.call is not None else None
            detail = f"it is ringing for {ringing!r}" if ringing else f"it is {agent.state.value}"
            out.append(Ignored(f"{what} from agent {agent_id!r} for call {call_id!r}, but {detail}", now, call_id=call_id, agent_id=agent_id))
            return None
        return agent

    def _take_away(self, now: float, agent_id: str, state: AgentState, reason: str, requeue_reason: str) -> list[Outcome]:
        out: Out = []
        now = self._tick(now, out)
        agent = self._agent_or_ignore(agent_id, now, out)
        if agent is None:
            return out
        current = agent.state
        if current is AgentState.LOGGED_OUT:
            out.append(Ignored(f"agent {agent_id!r} is logged out", now, agent_id=agent_id))
        elif current is AgentState.ON_CALL:
            if not (agent.pending is not None and agent.pending[0] is AgentState.LOGGED_OUT and state is AgentState.PAUSED):
                agent.pending = (state, reason)
        elif current is AgentState.RESERVED and agent.call is not None:
            call = agent.call
            self._timers.cancel(agent)
            out.append(CancelRing(call.id, agent.id, agent.endpoint, requeue_reason, now))
            agent.call = None
            self._transition(agent, state, reason, now, out, call)
            call.agent = None
            out.append(CallRequeued(call.id, call.queue.name, requeue_reason, call.wait_origin, now))
            self._place_call(call, now, out)
        elif current is AgentState.PAUSED and state is AgentState.PAUSED and agent.reason == reason:
            pass  # already paused for this reason
        else:  # available, paused or wrap-up
            agent.pending = None
            self._leave_pools(agent)
            self._timers.cancel(agent)
            wrapped = agent.call if current is AgentState.WRAP_UP else None
            agent.call = None
            self._transition(agent, state, reason, now, out, wrapped)
        return out
