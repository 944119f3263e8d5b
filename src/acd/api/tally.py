"""An event-bus sink that keeps what neither the router nor the live figures keep.

* Monotonic per-queue counters (offered, answered, abandoned, ...) since the engine
  started, for Prometheus: the live figures reset every quarter hour and every day, and a
  Prometheus counter must only ever go up (a restart is the one reset it understands).
* Calls handled per agent since local midnight (the routing time zone), for
  ``acd agents``.  At start-up it is seeded from the event log, so a restart during the day
  does not zero the wallboard.

It counts the same events the event log stores, so ``/metrics`` agrees with reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from acd.base.events import Event
from acd.routing.intervals import IntervalClock

#: event type → counter name; ``call.overflowed`` also counts as offered to ``to_queue``.
QUEUE_COUNTERS = {
    "call.queued": "offered",
    "call.answered": "answered",
    "call.abandoned": "abandoned",
    "call.overflowed": "overflowed_out",
    "call.timed_out": "timed_out",
    "call.completed": "completed",
    "call.ring_no_answer": "ring_no_answer",
}


class EventTally:
    """``append(event)`` is called by the event bus for every event; it never raises."""

    def __init__(self, clock: IntervalClock) -> None:
        self.clock = clock
        self.queues: dict[str, Counter[str]] = defaultdict(Counter)
        self.priority_changes = 0
        self._day_start = float("-inf")
        self._handled: Counter[str] = Counter()

    def append(self, event: Event) -> None:
        counter = QUEUE_COUNTERS.get(event.type)
        if counter is not None and event.queue:
            self.queues[event.queue][counter] += 1
        if event.type == "call.overflowed":
            to_queue = event.data.get("to_queue")
            if isinstance(to_queue, str) and to_queue:
                self.queues[to_queue]["offered"] += 1
        elif event.type == "call.completed" and event.agent_id:
            self._count_handled(event.agent_id, event.ts)
        elif event.type == "call.priority_changed":
            self.priority_changes += 1

    def seed_handled(self, events: Iterable[Event]) -> None:
        """Today's ``call.completed`` events from the event log (before any new one arrives)."""
        for event in events:
            if event.type == "call.completed" and event.agent_id:
                self._count_handled(event.agent_id, event.ts)

    def handled_today(self, agent_id: str, now: float) -> int:
        day_start, _ = self.clock.day(now)
        if day_start > self._day_start:
            return 0  # nothing completed yet today (the counts are yesterday's)
        return self._handled.get(agent_id, 0)

    def counter(self, queue: str, name: str) -> int:
        return self.queues.get(queue, Counter()).get(name, 0)

    def _count_handled(self, agent_id: str, ts: float) -> None:
        day_start, _ = self.clock.day(ts)
        if day_start > self._day_start:
            self._day_start = day_start
            self._handled.clear()
        elif day_start < self._day_start:
            return  # an event from an earlier day (log replay): not today's
        self._handled[agent_id] += 1
