"""Rebuild queue episodes and agent state timelines from the raw event log.

Reports never trust pre-aggregated counters: they replay events, so a figure can always
be recomputed and audited from the log.  This module is the replay; ``reports`` turns
its output into figures.

A **queue episode** is one stay of a call in the ACD, from the ``call.queued`` that finds
the call not already waiting until ``call.answered`` or ``call.abandoned``.  While it is
open, ``call.requeued`` (e.g. ring-no-answer), ``call.overflowed`` and further
``call.queued`` events only move it to another queue; they are not new offers.  A call
transferred back into a queue after being answered starts a new episode.  A
``call.requeued`` for a call with no open episode (its ``call.queued`` was lost, e.g. in
the last batch window before a crash) opens one, so the call is not invisible.

An **agent timeline** is the sequence of ``agent.state`` periods.  ``engine.stopped``
ends every period: while the engine is down nobody is available, and after a restart an
agent counts again from their next ``agent.state`` event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Literal

from acd.metrics.events import Event

Outcome = Literal["answered", "abandoned"]


def in_order(events: Iterable[Event]) -> list[Event]:
    """Events by time; equal times keep their log (append) order, so replays are deterministic."""
    return sorted(events, key=lambda e: e.ts)


def _skills(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, str) and value:
        return (value,)
    return ()


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(slots=True)
class Episode:
    """One queue stay of a call (see module docstring)."""

    call_id: str
    offered_ts: float
    queue: str | None
    skills: tuple[str, ...]
    outcome: Outcome | None = None
    outcome_ts: float | None = None
    waited_s: float | None = None
    agent_id: str | None = None
    talk_s: float | None = None
    hold_s: float | None = None
    completed: bool = False
    wrap_s: float | None = None  # None: wrap-up not finished yet (or call not completed)

    @property
    def handled(self) -> bool:
        """Answered, completed and wrap-up over: its handle time is final."""
        return self.outcome == "answered" and self.completed and self.wrap_s is not None

    @property
    def handle_s(self) -> float:
        return (self.talk_s or 0.0) + (self.hold_s or 0.0) + (self.wrap_s or 0.0)


@dataclass(frozen=True, slots=True)
class Segment:
    """An agent in one state from ``start`` to ``end`` (None: still in it at the end of the data)."""

    agent_id: str
    state: str
    start: float
    end: float | None


def _close(episode: Episode, event: Event, outcome: Outcome) -> None:
    episode.outcome = outcome
    episode.outcome_ts = event.ts
    if event.queue is not None:
        episode.queue = event.queue
    waited = _seconds(event.data.get("waited_s"))
    episode.waited_s = waited if waited is not None else event.ts - episode.offered_ts
    episode.agent_id = event.agent_id


def build_episodes(events: list[Event]) -> list[Episode]:
    """Queue episodes from time-ordered events (``in_order``), oldest offer first."""
    episodes: list[Episode] = []
    open_by_call: dict[str, Episode] = {}
    last_answered: dict[str, Episode] = {}
    for event in events:
        call_id = event.call_id
        if call_id is None:
            continue
        current = open_by_call.get(call_id)
        kind = event.type
        if kind in ("call.queued", "call.requeued"):
            if current is None:
                current = Episode(call_id, event.ts, event.queue, _skills(event.data.get("skills")))
                open_by_call[call_id] = current
                episodes.append(current)
            else:
                if event.queue is not None:
                    current.queue = event.queue
                if kind == "call.queued" and "skills" in event.data:
                    current.skills = _skills(event.data.get("skills"))
        elif kind == "call.overflowed":
            if current is not None and event.data.get("to_queue") is not None:
                current.queue = str(event.data["to_queue"])
        elif kind in ("call.answered", "call.abandoned"):
            if current is None:
                continue  # not offered through the ACD (e.g. a direct transfer): not a queue figure
            _close(current, event, "answered" if kind == "call.answered" else "abandoned")
            del open_by_call[call_id]
            if kind == "call.answered":
                last_answered[call_id] = current
        elif kind == "call.completed":
            answered = last_answered.pop(call_id, None)
            if answered is not None:
                answered.completed = True
                answered.talk_s = _seconds(event.data.get("talk_s")) or 0.0
                answered.hold_s = _seconds(event.data.get("hold_s")) or 0.0
    return episodes


def build_timelines(events: list[Event]) -> dict[str, list[Segment]]:
    """Agent state periods from time-ordered events, per agent, in time order."""
    timelines: dict[str, list[Segment]] = {}
    current: dict[str, tuple[str, float]] = {}

    def end(agent_id: str, at: float) -> None:
        state, since = current.pop(agent_id)
        timelines.setdefault(agent_id, []).append(Segment(agent_id, state, since, at))

    for event in events:
        if event.type == "agent.state" and event.agent_id is not None:
            if event.agent_id in current:
                end(event.agent_id, event.ts)
            current[event.agent_id] = (str(event.data.get("state", "unknown")), event.ts)
        elif event.type == "engine.stopped":
            for agent_id in list(current):
                end(agent_id, event.ts)
    for agent_id, (state, since) in current.items():
        timelines.setdefault(agent_id, []).append(Segment(agent_id, state, since, None))
    for segments in timelines.values():
        segments.sort(key=lambda s: s.start)
    return timelines


def answer_times(events: list[Event]) -> dict[str, list[float]]:
    """When each agent answered a call (any call, queued or not), in order."""
    answers: dict[str, list[float]] = {}
    for event in events:
        if event.type == "call.answered" and event.agent_id is not None:
            answers.setdefault(event.agent_id, []).append(event.ts)
    for times in answers.values():
        times.sort()
    return answers


def attach_wrap_up(
    episodes: list[Episode], timelines: dict[str, list[Segment]], answers: dict[str, list[float]]
) -> None:
    """Set ``wrap_s`` of each completed call from its agent's wrap-up period.

    The wrap-up of a call is the first ``wrap_up`` period of the answering agent that
    starts after the call was answered and before that agent answers another call; no
    such period means no wrap-up (0 s); a period still open means "not known yet".
    Matching on answer times rather than on event order makes it indifferent to whether
    the engine logs ``agent.state wrap_up`` just before or just after ``call.completed``.
    """
    wraps: dict[str, list[Segment]] = {
        agent: [s for s in segments if s.state == "wrap_up"] for agent, segments in timelines.items()
    }
    for episode in episodes:
        if not (episode.outcome == "answered" and episode.completed):
            continue
        if episode.agent_id is None:
            episode.wrap_s = 0.0
            continue
        answered_at = episode.outcome_ts or 0.0
        times = answers.get(episode.agent_id, [])
        following = bisect.bisect_right(times, answered_at)
        next_answer = times[following] if following < len(times) else float("inf")
        episode.wrap_s = 0.0
        for segment in wraps.get(episode.agent_id, []):
            if answered_at <= segment.start < next_answer:
                episode.wrap_s = None if segment.end is None else segment.end - segment.start
                break


@dataclass(slots=True)
class Replay:
    """Everything reports need from one pass over the events."""

    events: list[Event]
    episodes: list[Episode] = field(default_factory=list)
    timelines: dict[str, list[Segment]] = field(default_factory=dict)
    episodes_by_call: dict[str, list[Episode]] = field(default_factory=dict)

    def episode_at(self, call_id: str | None, ts: float) -> Episode | None:
        """The call's latest episode offered at or before ``ts`` (for surveys and callbacks)."""
        if call_id is None:
            return None
        found = None
        for episode in self.episodes_by_call.get(call_id, []):
            if episode.offered_ts <= ts:
                found = episode
        return found


def replay(events: Iterable[Event]) -> Replay:
    ordered = in_order(events)
    result = Replay(ordered, build_episodes(ordered), build_timelines(ordered))
    attach_wrap_up(result.episodes, result.timelines, answer_times(ordered))
    for episode in result.episodes:
        result.episodes_by_call.setdefault(episode.call_id, []).append(episode)
    return result


__all__ = [
    "Episode",
    "Replay",
    "Segment",
    "answer_times",
    "attach_wrap_up",
    "build_episodes",
    "build_timelines",
    "in_order",
    "replay",
]
