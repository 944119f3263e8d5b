"""Router outcomes as events of the record (:class:`acd.base.events.Event`).

Here, next to the outcomes it reads, so that every writer of the record uses one mapping
without reaching anything above the routing core: the dispatcher (live calls), the
simulator (``acd.planning.sim.sinks``, which must not import the AMI side) and tests.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from acd.base.events import Event, new_event_id
from acd.privacy import masked_data
from acd.routing.decisions import CallTimedOut, Notification, Outcome, RingAgent

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
    router's own typed dataclasses already guarantee (:meth:`Event.trusted`).
    """
    shape = _event_shape(type(outcome))
    if shape is None:
        return None
    event_type, names, queue_field = shape
    values = {name: getattr(outcome, name) for name in names}
    return Event.trusted(
        event_type,
        float(values["at"]),
        values.get("call_id"),
        values.get("agent_id"),
        values.get(queue_field),
        {key: _plain(value) for key, value in values.items() if key not in _ENVELOPE},
        new_event_id(),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return masked_data(value) if value else {}  # attached data: the router keeps it clear, events never do
    return value
