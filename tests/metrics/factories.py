"""Call and agent descriptions, and the events the engine would log for them.

Tests describe *what happened* (a ``CallSpec``: offered at t in queue q, overflowed,
waited 24.5 s, answered, talked 90 s, wrapped up 20 s, scored 5) and the reference in
``reference.py`` computes figures straight from these descriptions, while ``acd``
computes them from the events generated here — so the event interpretation is tested
too, not only the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from acd.base.events import Event

SANTIAGO = ZoneInfo("America/Santiago")
QUEUES = ("ventas", "soporte", "reclamos")
SKILLS = ("es", "en", "pagos")
AGENT_STATES = ("logged_out", "available", "reserved", "on_call", "wrap_up", "paused")

# Windows worth testing: an ordinary morning, the night Chile turns clocks back
# (2026-04-04 24:00 -03 → 23:00 -04, so 23:00 happens twice), the night it turns them
# forward (2026-09-05 24:00 -04 → 01:00 -03, so 00:00 never happens), and a month end.
ANCHORS = {
    "morning": datetime(2026, 3, 2, 9, 0, tzinfo=SANTIAGO).timestamp(),
    "fall-back": datetime(2026, 4, 4, 21, 0, tzinfo=SANTIAGO).timestamp(),
    "spring-forward": datetime(2026, 9, 5, 22, 0, tzinfo=SANTIAGO).timestamp(),
    "month-end": datetime(2026, 3, 31, 22, 0, tzinfo=SANTIAGO).timestamp(),
}
WINDOW_S = 4 * 3600

Outcome = Literal["answered", "abandoned", "timed_out", "waiting"]
Overflow = Literal["none", "overflow-only", "overflow-and-queued"]


@dataclass(frozen=True)
class CallSpec:
    call_id: str
    offered_ts: float
    queue: str
    skills: tuple[str, ...]
    outcome: Outcome
    wait_s: float
    overflow: Overflow = "none"
    final_queue: str = ""
    final_skills: tuple[str, ...] = ()
    ring_no_answer: bool = False
    completed: bool = True
    talk_s: float = 60.0
    hold_s: float = 0.0
    wrap_s: float | None = 0.0  # None: the agent is still in wrap-up at the end of the data
    scores: tuple[int, ...] = ()
    callback: bool = False
    callback_done: bool = False

    @property
    def ended_queue(self) -> str:
        return self.final_queue if self.overflow != "none" else self.queue

    @property
    def ended_skills(self) -> tuple[str, ...]:
        return self.final_skills if self.overflow == "overflow-and-queued" else self.skills

    @property
    def agent_id(self) -> str:
        return f"agent-{self.call_id}"

    @property
    def outcome_ts(self) -> float:
        return self.offered_ts + self.wait_s

    @property
    def completed_ts(self) -> float:
        return self.outcome_ts + self.talk_s + self.hold_s

    def survey_ts(self, index: int) -> float:
        return self.completed_ts + (self.wrap_s or 0.0) + 5.0 + index

    @property
    def callback_ts(self) -> float:
        return self.offered_ts + self.wait_s / 3

    @property
    def callback_done_ts(self) -> float:
        return self.offered_ts + self.wait_s + 1800.0


def call_events(spec: CallSpec) -> list[Event]:
    """The events of one call, in the order the engine would log them."""
    cid, q = spec.call_id, spec.queue
    t0 = spec.offered_ts
    out = [Event(type="call.queued", ts=t0, call_id=cid, queue=q, data={"skills": list(spec.skills), "wait_origin": t0})]
    if spec.callback:
        out.append(Event(type="callback.requested", ts=spec.callback_ts, call_id=cid, queue=q, data={"number": "2"}))
    if spec.ring_no_answer and spec.wait_s >= 2:
        # ringing and requeue happen in the first quarter of the wait, before any overflow
        ring, back = t0 + spec.wait_s / 8, t0 + spec.wait_s / 4
        out.append(Event(type="call.agent_ringing", ts=ring, call_id=cid, queue=q, agent_id="ghost", data={"waited_s": ring - t0}))
        out.append(Event(type="call.ring_no_answer", ts=back, call_id=cid, queue=q, agent_id="ghost", data={"rang_s": back - ring}))
        out.append(Event(type="call.requeued", ts=back, call_id=cid, queue=q, data={"reason": "ring-no-answer", "wait_origin": t0}))
    current = q
    if spec.overflow != "none":
        at = t0 + spec.wait_s * 3 / 4
        out.append(Event(type="call.overflowed", ts=at, call_id=cid, queue=q, data={"to_queue": spec.final_queue, "waited_s": at - t0}))
        if spec.overflow == "overflow-and-queued":
            out.append(
                Event(type="call.queued", ts=at, call_id=cid, queue=spec.final_queue, data={"skills": list(spec.final_skills), "wait_origin": t0})
            )
        current = spec.final_queue
    if spec.outcome == "abandoned":
        out.append(Event(type="call.abandoned", ts=spec.outcome_ts, call_id=cid, queue=current, data={"waited_s": spec.wait_s}))
    elif spec.outcome == "timed_out":
        out.append(Event(type="call.timed_out", ts=spec.outcome_ts, call_id=cid, queue=current, data={"waited_s": spec.wait_s}))
    elif spec.outcome == "answered":
        agent = spec.agent_id
        out.append(Event(type="agent.state", ts=spec.outcome_ts, agent_id=agent, data={"state": "on_call", "previous": "reserved"}))
        out.append(Event(type="call.answered", ts=spec.outcome_ts, call_id=cid, queue=current, agent_id=agent, data={"waited_s": spec.wait_s}))
        if spec.completed:
            done = spec.completed_ts
            out.append(
                Event(type="call.completed", ts=done, call_id=cid, queue=current, agent_id=agent, data={"talk_s": spec.talk_s, "hold_s": spec.hold_s})
            )
            if spec.wrap_s is None:
                out.append(Event(type="agent.state", ts=done, agent_id=agent, data={"state": "wrap_up"}))
            elif spec.wrap_s > 0:
                out.append(Event(type="agent.state", ts=done, agent_id=agent, data={"state": "wrap_up"}))
                out.append(Event(type="agent.state", ts=done + spec.wrap_s, agent_id=agent, data={"state": "available"}))
            else:
                out.append(Event(type="agent.state", ts=done, agent_id=agent, data={"state": "available"}))
            for index, score in enumerate(spec.scores):
                out.append(Event(type="survey.answer", ts=spec.survey_ts(index), call_id=cid, data={"question": f"q{index}", "score": score}))
    if spec.callback and spec.callback_done:
        out.append(Event(type="callback.completed", ts=spec.callback_done_ts, call_id=cid, queue=q, data={"number": "2"}))
    return out


def log_of(specs: list[CallSpec], extra: list[Event] | None = None) -> list[Event]:
    """All events as the engine would append them: by time, each call in causal order."""
    events = [e for spec in specs for e in call_events(spec)] + list(extra or [])
    return sorted(events, key=lambda e: e.ts)


def half_seconds(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(int(low * 2), int(high * 2)).map(lambda n: n / 2)


@st.composite
def call_specs(draw: st.DrawFn, anchor: float, index: int) -> CallSpec:
    queue = draw(st.sampled_from(QUEUES))
    outcome = draw(st.sampled_from(("answered", "answered", "abandoned", "timed_out", "waiting")))
    # waits cluster on the 5 s and 25 s boundaries, where off-by-one mistakes hide
    wait = draw(st.one_of(st.sampled_from((0.0, 4.5, 5.0, 5.5, 24.5, 25.0, 25.5)), half_seconds(0, 150)))
    overflow = draw(st.sampled_from(("none", "none", "overflow-only", "overflow-and-queued"))) if wait >= 1 else "none"
    wrap = draw(st.one_of(st.just(0.0), half_seconds(0.5, 60), st.none()))
    return CallSpec(
        call_id=f"c{index}",
        offered_ts=anchor + draw(half_seconds(-900, WINDOW_S + 900)),
        queue=queue,
        skills=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
        outcome=outcome,
        wait_s=wait,
        overflow=overflow,
        final_queue=draw(st.sampled_from([q for q in QUEUES if q != queue])),
        final_skills=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True))),
        ring_no_answer=draw(st.booleans()),
        completed=draw(st.booleans()) or outcome != "answered",
        talk_s=draw(half_seconds(1, 600)),
        hold_s=draw(st.sampled_from((0.0, 0.0, 15.5, 42.0))),
        wrap_s=wrap,
        scores=tuple(draw(st.lists(st.integers(1, 5), max_size=2))),
        callback=draw(st.booleans()) and outcome == "waiting",
        callback_done=draw(st.booleans()),
    )


@st.composite
def call_sets(draw: st.DrawFn, max_calls: int = 25) -> tuple[float, list[CallSpec]]:
    anchor = ANCHORS[draw(st.sampled_from(sorted(ANCHORS)))]
    count = draw(st.integers(0, max_calls))
    return anchor, [draw(call_specs(anchor, i)) for i in range(count)]


@dataclass
class AgentLog:
    """Agent state changes and engine stops at whole seconds (for per-second sampling)."""

    anchor: float
    events: list[Event] = field(default_factory=list)


@st.composite
def agent_logs(draw: st.DrawFn) -> AgentLog:
    anchor = ANCHORS[draw(st.sampled_from(sorted(ANCHORS)))]
    events: list[Event] = []
    for agent in range(draw(st.integers(1, 3))):
        times = sorted(draw(st.sets(st.integers(-1800, 2 * 3600 + 600), max_size=8)))
        for t in times:
            state = draw(st.sampled_from(AGENT_STATES))
            events.append(Event(type="agent.state", ts=anchor + t, agent_id=f"a{agent}", data={"state": state}))
    for t in draw(st.sets(st.integers(0, 2 * 3600), max_size=2)):
        events.append(Event(type="engine.stopped", ts=anchor + t))
        events.append(Event(type="engine.started", ts=anchor + t + draw(st.integers(1, 600))))
    return AgentLog(anchor, sorted(events, key=lambda e: e.ts))
