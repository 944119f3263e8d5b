"""Making the router agree with what Asterisk shows: a call ringing or talking to an agent.

After an AMI gap or an engine restart the engine reads Asterisk's channels back
(``acd.dispatch``'s resync).  A caller found in ``Dial`` to an agent is a fact the router
must follow, whatever it believed while it could not see: the agent may have answered
while AMI was down (the router still has the call ringing, or already re-queued it and
paused the agent for not answering), or a new engine may not know the call at all.
:func:`restore_call` makes the router's picture match, **reality wins**:

* **The call** is taken out of wherever the router had it (waiting, ringing another agent)
  and tied to the agent Asterisk shows, ringing (``answered_at`` None) or talking since
  ``answered_at`` (a UNIX time read from the channel, so wait and talk times are right).
  A call the router did not know is created with its queue, priority and wait origin;
  no ``CallQueued`` is produced for it (the event log may already hold one: the caller
  decides what to record).
* **The agent** leaves whatever it was doing in the router's picture: a call ringing it
  instead goes back to its queue (``CancelRing`` + ``CallRequeued``, "agent-busy"); a call
  it was "talking" to is completed (one phone cannot carry two calls; the resync closes
  calls whose channels are gone anyway); a wrap-up ends; an available agent leaves the
  pools.  A pause made while the agent was in fact answering — the ring-no-answer pause
  of a missed answer — is dropped; any other pause, or a logout, is kept as *pending*,
  taking effect when the call ends, exactly as if asked for during the call.
* Outcomes: ``CallAnswered`` (dated ``answered_at``) when the call was not already
  known as answered by this agent, the agent's ``AgentStateChanged`` to ``reserved`` or
  ``on_call``, and what moving other calls produced.  Never a ``RingAgent`` for the
  restored call: it is already ringing or talking.  Restoring what the router already
  believes produces nothing.

Time: like every router method, ``now`` first applies the timers due by then; the engine
passes the time AMI was lost, so no ring time-out fires for an answer it could not see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from acd.routing.decisions import CallAnswered, CallCompleted, CallRequeued, CancelRing, Ignored, Outcome
from acd.routing.model import AgentRecord, AgentState, CallRecord, CallState

if TYPE_CHECKING:
    from acd.routing.matching import Out
    from acd.routing.router import Router

#: The pause ``_ring_no_answer`` makes: wrong when the agent in fact answered.
RING_NO_ANSWER_PAUSE = "no-answer"
#: Why a call ringing an agent found busy with another call goes back to its queue.
AGENT_BUSY = "agent-busy"


def restore_call(
    router: "Router",
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
    out: "Out" = []
    now = router._tick(now, out)
    agent = router._agents.get(agent_id)
    if agent is None:
        out.append(Ignored(f"restore: unknown agent {agent_id!r} for call {call_id!r}", now, call_id=call_id, agent_id=agent_id))
        return out
    call = router._calls.get(call_id)
    if call is not None and call.agent is agent:
        if call.state is CallState.CONNECTED or answered_at is None:
            return out  # the router already believes it
        _connect(router, agent, call, now, answered_at, out)  # it rang; the answer was missed
        return out
    if call is None:
        runtime = router._queues.get(queue)
        if runtime is None:
            out.append(Ignored(f"restore: call {call_id!r} in unknown queue {queue!r}", now, call_id=call_id))
            return out
        origin = now if wait_origin is None or not wait_origin <= now else wait_origin
        router._seq += 1
        call = CallRecord(
            call_id, runtime, runtime.priority if priority is None else priority, origin, origin, router._seq, dict(attached or {})
        )
        router._calls[call_id] = call
    else:
        _detach_call(router, call, now, out)
    _free_from_other_work(router, agent, call, now, out)
    call.agent = agent
    agent.call = call
    if answered_at is None:
        call.state = CallState.RINGING
        router._transition(agent, AgentState.RESERVED, "ring", now, out, call)
        timeout = call.ring_timeout_s or call.queue.ring_timeout_s
        router._timers.schedule(now + timeout, agent)
    else:
        call.state = CallState.RINGING  # _connect's precondition
        _connect(router, agent, call, now, answered_at, out)
    return out


def _connect(router: "Router", agent: AgentRecord, call: CallRecord, now: float, answered_at: float, out: "Out") -> None:
    """The agent answered ``call`` at ``answered_at`` (never before the call's wait began).

    Not clamped to ``now``: the engine passes the time AMI was lost as ``now`` and an answer
    made while it was blind is later than that; the caller clamps it to its real clock."""
    router._timers.cancel(agent)  # no ring time-out for a call already answered
    at = max(answered_at, call.wait_origin)
    call.state = CallState.CONNECTED
    call.answered_at = at
    out.append(CallAnswered(call.id, agent.id, call.queue.name, at - call.wait_origin, at))
    router._transition(agent, AgentState.ON_CALL, "answered", now, out, call)


def _detach_call(router: "Router", call: CallRecord, now: float, out: "Out") -> None:
    """Take a known call out of the pool it waits in, or off the other agent it rings."""
    if call.state is CallState.WAITING:
        router._unwait(call)
        return
    other = call.agent
    if other is None or call.state is not CallState.RINGING:
        return
    call.agent = None
    router._timers.cancel(other)
    other.call = None
    # Not the other agent's fault: it keeps its place in line (its ring was a mistake).
    out.append(CancelRing(call.id, other.id, other.endpoint, "answered-elsewhere", now))
    router._free_agent(other, now, other.idle_since, "answered-elsewhere", out, call)


def _free_from_other_work(router: "Router", agent: AgentRecord, call: CallRecord, now: float, out: "Out") -> None:
    """Whatever the router had the agent doing, it is now busy with ``call``."""
    state = agent.state
    held = agent.call
    router._leave_pools(agent)
    router._timers.cancel(agent)
    if state is AgentState.RESERVED and held is not None and held is not call:
        agent.call = None
        held.agent = None
        out.append(CancelRing(held.id, agent.id, agent.endpoint, AGENT_BUSY, now))
        out.append(CallRequeued(held.id, held.queue.name, AGENT_BUSY, held.wait_origin, now))
        router._place_call(held, now, out)  # the agent is out of every pool: never itself
    elif state is AgentState.ON_CALL and held is not None and held is not call:
        del router._calls[held.id]
        agent.call = None
        out.append(CallCompleted(held.id, agent.id, held.queue.name, max(0.0, now - held.answered_at), 0.0, now))
    elif state is AgentState.PAUSED and agent.reason != RING_NO_ANSWER_PAUSE:
        agent.pending = (AgentState.PAUSED, agent.reason)
    elif state is AgentState.LOGGED_OUT:
        agent.pending = (AgentState.LOGGED_OUT, agent.reason or "logout")
