"""The discrete-event loop: the simulator plays Asterisk and the callers around the real Router.

The engine's :class:`acd.routing.Router` is driven exactly as ``acd.dispatch`` drives it
on a live system, only with simulated time:

* a call's arrival is ``call_arrived`` (the caller reached the holding context);
* a :class:`RingAgent` decision makes the agent's phone ring; after the answer delay
  the agent picks up (``agent_answered``), and after the call's handle time the
  conversation ends (``call_completed``);
* a caller still waiting (or still hearing the agent's phone ring) when their patience
  runs out hangs up (``caller_abandoned``);
* :class:`CancelRing` stops a pending answer, :class:`CallTimedOut` takes the call away;
* the router's own timers (expansion steps, overflow, ring time-out, wrap-up end) fire
  through ``next_deadline``/``advance``, as the dispatcher's single ``call_later`` does,
  at their exact deadlines; ``next_deadline`` is only asked when ``Router.deadline_heap``
  says a timer may fall before the next event (asking after every event was 7 % of a run).

Future completions and hang-ups wait in one heap of bare times, and a dict says whose
event each time is, as ``kind * calls + index`` (a clash of equal times keeps their
keys sorted apart, so the order is that of ``(time, kind, call index)``): a heap of
floats compares floats directly where a heap of tuples goes through tuple comparison.
Answers do not go through the heap at all: the answer delay is one constant and the
router's rings come in time order, so answers fall due in the order they were
scheduled and wait in a FIFO (a deque).  Arrivals are already sorted
(:mod:`acd.planning.sim.traffic`).  The three are merged by comparing their heads; at equal
times the order is timers, arrivals, answers (by call index), completions, abandons.
Together the FIFO and the float heap took about 6 % off the instructions of a
simulated call (callgrind, ``acd bench simulate``'s centre).  Every list of outcomes
the router returns is handed to ``sink`` whole, in the order the router produced it,
before the simulator reacts to it, so the event log
keeps the router's order (a ring is logged before the answer it causes).

The loop is one function with everything it touches bound to locals, and the handling
of the router's outcomes is written once in the loop rather than in a helper called per
router call: on CPython that is what makes the simulator's own share of the time small
next to the router's.
"""

from __future__ import annotations

import time
from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Callable, Iterable

from acd.routing import Router, RoutingConfig
from acd.routing.decisions import CallTimedOut, CancelRing, Ignored, Outcome, RingAgent
from acd.planning.sim.sinks import OutcomeCounter
from acd.planning.sim.traffic import CallPlan

Sink = Callable[[list[Outcome]], None]
Progress = Callable[[int, int], None]

_INF = float("inf")
# Heap event kinds; at equal times an answer (from its FIFO) is handled before a
# completion, which is handled before an abandon.
_COMPLETE, _ABANDON = 0, 1
# Per-call state.
_ROUTING, _CONNECTED, _GONE = 0, 1, 2
_PROGRESS_EVERY = 16384  # arrivals between two progress reports (a power of two)


@dataclass(slots=True)
class RunStats:
    """What happened in one run, for the report header and the benchmark."""

    calls: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    router_calls: int = 0
    outcomes: int = 0
    ignored: int = 0
    ignored_reasons: list[str] = field(default_factory=list)
    end_time: float = 0.0
    wall_s: float = 0.0


def codes_optional(config: RoutingConfig) -> RoutingConfig:
    """``config`` with every queue's dispositions optional: simulated agents code no calls,
    so a required code would hold them in wrap-up for ever; ``wrap_up_s`` models the coding."""
    if not any(q.dispositions is not None and q.dispositions.required for q in config.queues):
        return config
    queues = [
        q.model_copy(update={"dispositions": q.dispositions.model_copy(update={"required": False})}) if q.dispositions is not None else q
        for q in config.queues
    ]
    return config.model_copy(update={"queues": queues})


def run_simulation(
    config: RoutingConfig,
    plan: CallPlan,
    *,
    logins: Iterable[str],
    login_at: float,
    answer_delay_s: float,
    sink: Sink,
    progress: Progress | None = None,
    router: Router | None = None,
) -> RunStats:
    """Offer ``plan``'s calls to a fresh Router with ``logins`` logged in at ``login_at``; run until nothing is left to happen.

    ``router`` replaces the fresh ``Router(config)`` (the benchmark passes one that
    records its inputs, to time the router alone afterwards).
    """
    started = time.perf_counter()
    stats = RunStats(calls=len(plan))
    router = Router(codes_optional(config)) if router is None else router
    ignored_reasons = stats.ignored_reasons
    # A counting sink learns the same total from one addition at the end: handing it each
    # list would be a Python call per router call for nothing (``OutcomeCounter`` is what
    # the benchmark and the parallel runs use).
    counting = sink.__class__ is OutcomeCounter

    def note_ignored(outs: list[Outcome]) -> None:
        for outcome in outs:
            if outcome.__class__ is Ignored:
                stats.ignored += 1
                if len(ignored_reasons) < 10:
                    ignored_reasons.append(outcome.reason)  # type: ignore[attr-defined]

    router_calls = outcomes_seen = 0
    for agent_id in logins:
        outs = router.agent_login(login_at, agent_id)
        router_calls += 1
        outcomes_seen += len(outs)
        if not counting:
            sink(outs)
        note_ignored(outs)

    times, queues, handles, patience = plan.times, plan.queues, plan.handle_s, plan.patience_s
    total = len(times)
    ids: list[str] = [""] * total
    state = bytearray(total)
    index_of: dict[str, int] = {}
    delayed = answer_delay_s > 0
    ring_agent: list[str] = [""] * total if delayed else []
    answer_due: list[float] = [-1.0] * total if delayed else []
    # A caller's hang-up is only put on the heap once they could actually be waiting:
    # most calls ring an agent on arrival and are answered long before their patience ends.
    armed = bytearray(total)
    # The event heap holds times; ``key_at[time]`` is the event's key, kind * total + index
    # (the same order as (kind, index)).  Events at one time (they clash, and only
    # constructed plans make them) move to ``clashed[time]``, their keys sorted, so the
    # order events come off the heap does not depend on the order they were pushed.
    heap: list[float] = []
    key_at: dict[float, int] = {}
    clashed: dict[float, list[int]] = {}
    complete_base, abandon_base = _COMPLETE * total, _ABANDON * total

    def clash(at: float, key: int) -> None:
        """After ``push(heap, at)`` found ``at`` taken or ``clashed`` not empty: file ``key`` right."""
        if key_at[at] != key:  # another event has this time: both move to ``clashed``
            clashed[at] = sorted((key_at.pop(at), key))
        elif at in clashed:  # more events at a time that already clashed
            del key_at[at]
            insort(clashed[at], key)

    def key_of(at: float) -> int:
        """The key of the event just popped at ``at`` while some times clash."""
        keys = clashed.get(at)
        if keys is None:
            return key_at.pop(at)
        key = keys.pop(0)
        if not keys:
            del clashed[at]
        return key

    # Answers due after a ring, as (due, index), in due order (ties by index, as the heap
    # would have them); ``answer_at`` is the first one's time.  Rings come in time order,
    # so an answer goes on the end (an insort keeps the order if one did not).
    pending_answers: deque[tuple[float, int]] = deque()
    answer_at = _INF
    push, pop = heappush, heappop
    popleft = pending_answers.popleft
    call_arrived, agent_answered = router.call_arrived, router.agent_answered
    call_completed, caller_abandoned = router.call_completed, router.caller_abandoned
    advance, next_deadline = router.advance, router.next_deadline
    # The router's deadline heap: while its first time is later than the next event, no
    # timer can be due before it, so ``next_deadline`` (which drops cancelled timers to
    # find the exact one) is only asked when one might be.
    timer_heap = router.deadline_heap
    answered = abandoned = timed_out = 0
    answers: list[tuple[float, str, str, int]] = []  # zero answer delay: rings to pick up at once
    ring_cls, cancel_cls, timed_out_cls, ignored_cls = RingAgent, CancelRing, CallTimedOut, Ignored
    # The outcomes the simulator acts on; the others (most of them) are only for the sink,
    # and one set test lets them by.
    acted_on = frozenset((RingAgent, CancelRing, CallTimedOut, Ignored))

    arrival = 0
    next_arrival = times[0] if total else _INF
    last = login_at
    progress_mask = _PROGRESS_EVERY - 1
    while True:
        # The next event: a router timer, else an arrival, else the first answer, else the
        # heap's first (at equal times timers, then arrivals, then answers, then the heap).
        if heap:
            event_at = heap[0]
            if answer_at <= event_at:
                event_at = answer_at
        else:
            event_at = answer_at
        now = next_arrival if next_arrival <= event_at else event_at
        arrived = -1
        if timer_heap and timer_heap[0][0] <= now and (deadline := next_deadline()) is not None and deadline <= now:
            now = deadline
            outs = advance(deadline)
        elif next_arrival <= event_at:
            if now == _INF:
                break  # no arrival, no event and no timer left
            arrived = index = arrival
            if progress is not None and not index & progress_mask:
                progress(index, total)
            call_id = ids[index] = f"c{index}"
            index_of[call_id] = index
            outs = call_arrived(now, call_id, queues[index])
            arrival += 1
            next_arrival = times[arrival] if arrival < total else _INF
        elif answer_at == event_at:  # an answer, after the answer delay
            due, index = popleft()
            answer_at = pending_answers[0][0] if pending_answers else _INF
            if state[index] != _ROUTING or answer_due[index] != due:
                continue  # the ring was cancelled (or the caller left) before the agent picked up
            answer_due[index] = -1.0
            outs = agent_answered(now, ring_agent[index], ids[index])
            router_calls += 1
            outcomes_seen += len(outs)
            if not counting:
                sink(outs)
            for outcome in outs:
                if outcome.__class__ is ignored_cls:
                    note_ignored([outcome])
            state[index] = _CONNECTED
            answered += 1
            due, key = now + handles[index], complete_base + index
            push(heap, due)
            if key_at.setdefault(due, key) != key or clashed:
                clash(due, key)
            last = now
            continue
        else:
            pop(heap)
            key = key_at.pop(now) if not clashed else key_of(now)
            if key >= abandon_base:
                index = key - abandon_base
                if state[index] != _ROUTING:
                    continue
                call_id = ids[index]
                state[index] = _GONE
                del index_of[call_id]  # a CancelRing for it below needs nothing: it is gone
                abandoned += 1
                outs = caller_abandoned(now, call_id)
            else:
                index = key - complete_base
                call_id = ids[index]
                state[index] = _GONE
                del index_of[call_id]
                outs = call_completed(now, call_id)
        # Log the router's outcomes, then carry out its decisions.
        router_calls += 1
        outcomes_seen += len(outs)
        if not counting:
            sink(outs)
        for outcome in outs:
            cls = outcome.__class__
            if cls not in acted_on:
                continue  # a plain notification: the sink has it
            if cls is ring_cls:
                if delayed:
                    index = index_of[outcome.call_id]  # type: ignore[attr-defined]
                    ring_agent[index] = outcome.agent_id  # type: ignore[attr-defined]
                    due = outcome.at + answer_delay_s  # type: ignore[attr-defined]
                    answer_due[index] = due
                    if not pending_answers:
                        pending_answers.append((due, index))
                        answer_at = due
                    elif due > pending_answers[-1][0]:
                        pending_answers.append((due, index))
                    else:  # a tie (or a ring earlier than the last one, never seen): keep (due, index) order
                        insort(pending_answers, (due, index))
                        answer_at = pending_answers[0][0]
                else:
                    answers.append((outcome.at, outcome.agent_id, outcome.call_id, index_of[outcome.call_id]))  # type: ignore[attr-defined]
            elif cls is cancel_cls:
                if delayed:
                    index = index_of.get(outcome.call_id, -1)  # type: ignore[attr-defined]
                    if index >= 0:  # not the caller who just hung up
                        answer_due[index] = -1.0
                        if patience is not None and not armed[index]:
                            armed[index] = 1
                            due, key = times[index] + patience[index], abandon_base + index
                            push(heap, due)
                            if key_at.setdefault(due, key) != key or clashed:
                                clash(due, key)
            elif cls is timed_out_cls:
                index = index_of.pop(outcome.call_id)  # type: ignore[attr-defined]
                state[index] = _GONE
                timed_out += 1
            else:
                note_ignored([outcome])
        if answers:  # zero answer delay: the agents whose phones rang pick up at once
            for at, agent_id, call_id, index in answers:
                picked_up = agent_answered(at, agent_id, call_id)
                router_calls += 1
                outcomes_seen += len(picked_up)
                if not counting:
                    sink(picked_up)
                for outcome in picked_up:
                    if outcome.__class__ is ignored_cls:
                        note_ignored([outcome])
                state[index] = _CONNECTED
                answered += 1
                due, key = at + handles[index], complete_base + index
                push(heap, due)
                if key_at.setdefault(due, key) != key or clashed:
                    clash(due, key)
            answers.clear()
        if arrived >= 0 and patience is not None and state[arrived] == _ROUTING:
            gives_up = now + patience[arrived]
            if not (delayed and 0.0 <= answer_due[arrived] <= gives_up):
                armed[arrived] = 1
                key = abandon_base + arrived
                push(heap, gives_up)
                if key_at.setdefault(gives_up, key) != key or clashed:
                    clash(gives_up, key)
        last = now

    stats.end_time = last
    if progress is not None:
        progress(total, total)
    if counting:
        sink.outcomes += outcomes_seen  # type: ignore[attr-defined]
    stats.answered, stats.abandoned, stats.timed_out = answered, abandoned, timed_out
    stats.router_calls, stats.outcomes = router_calls, outcomes_seen
    stats.wall_s = time.perf_counter() - started
    return stats
