"""The one event model every part of ``acd`` writes and every report reads.

The event log is the single source of truth: live figures, reports, SLA penalties and
the MQTT stream are all derived from these records, so a report recomputed from the log
gives exactly the live numbers.  Events are pydantic models because they cross edges
(SQLite rows, MQTT JSON); the routing core keeps its own plain dataclasses and the
engine maps them to events.

Timestamps are UNIX seconds (float, UTC).  ``data`` holds the type-specific fields
listed in ``EVENT_FIELDS``; keeping them in one documented table (rather than one class
per type) keeps the store schema stable while the product grows.

No event holds personal data in clear (``acd.privacy``): a caller's or callback number is
masked but for its last 4 digits, next to a pseudonym (``caller_ref``/``number_ref``) that
stays the same for the same number; collected digits and attached fields a flow fills
from them are masked but for their last character.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

EventType = Literal[
    # call lifecycle
    "call.started",  # data: caller (masked), caller_ref (pseudonym), dialed, channel
    "call.ended",  # data: cause ("caller-hangup" | "agent-hangup" | "transferred" | "ivr-hangup" | "engine-shutdown" | ...)
    "ivr.node",  # data: flow, flow_version, node, node_type
    "ivr.input",  # data: flow, flow_version, node, kind ("digits" | "timeout" | "invalid" | "valid"), digits
    "ivr.error",  # data: flow, flow_version, node, message
    "call.transferred",  # data: target (masked when made from personal data)
    "survey.answer",  # data: flow, question, score (1-5)
    # ACD
    # several Asterisk servers (acd.multinode): every event about a call or an agent also has
    # data.asterisk_node (the call's server, else the agent's) and data.agent_asterisk_node
    # (the agent's phone's server, when another); ami.connected/ami.disconnected name theirs
    "call.queued",  # queue; data: priority, skills, attached (personal fields masked), wait_origin (ts the wait started)
    "call.requeued",  # queue; data: reason ("ring-no-answer" | "ami-resync" | "engine-restart"), wait_origin
    "call.overflowed",  # queue (from); data: to_queue, waited_s
    "call.agent_ringing",  # queue, agent_id; data: waited_s
    "call.ring_no_answer",  # queue, agent_id; data: rang_s
    "call.answered",  # queue, agent_id; data: waited_s (from wait_origin to agent answer)
    "call.abandoned",  # queue; data: waited_s
    "call.completed",  # queue, agent_id; data: talk_s, hold_s
    "call.timed_out",  # queue; data: waited_s (max_wait_s reached with no overflow queue)
    "call.priority_changed",  # queue; data: priority, previous
    "agent.state",  # agent_id; data: state, previous, reason
    "call.disposition",  # queue, agent_id, call_id; data: code, result (the code's outcome group, or None), by ("agent" | "phone" | an account)
    "supervisor.monitor",  # agent_id, call_id; data: mode (listen | whisper | barge), supervisor (endpoint rung), by (account or "api-token")
    # waiting experience
    "wait.announcement",  # queue; data: position, estimate_s
    "callback.requested",  # queue; data: number (masked), number_ref, position_origin
    "callback.attempt",  # queue; data: number, number_ref, attempt, outcome ("answered" | "busy" | "no-answer" | "failed" | "deferred", with due | "cancelled", with reason)
    "callback.completed",  # queue, agent_id; data: number, number_ref
    "callback.failed",  # queue; data: number, number_ref, attempts
    "recording.started",  # agent_id; data: path
    "recording.finished",  # data: path (stored file), duration_s, bytes, wav_bytes, codec, sha256, empty, talk_s, truncated (acd.features.recordings)
    # platform
    "engine.started",
    "engine.stopped",
    "engine.heartbeat",  # every heartbeat_s while running: after a crash, downtime starts at the last one
    "engine.takeover",  # hot standby (acd.ha): this node took the lease; data: node, epoch, previous, previous_expired, evicted, standby_s, start_s
    "ami.connected",
    "ami.disconnected",  # data: reason
    "console.started",  # the web console (acd web) began serving; data: period_s (its heartbeat period)
    "console.heartbeat",  # every period_s while the console serves: report availability (acd sla) is read from these
    "console.stopped",  # the console stopped serving (a clean stop; a crash just stops the heartbeats)
    "routing.reloaded",  # data: file, version, changes (agents/queues/skills added, removed, changed)
    "routing.rejected",  # data: file, problems (FILE:LINE:COL lines): the previous routing keeps serving
]

EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


def _new_process_tag() -> None:
    global _PROCESS_TAG, _ids_made
    _PROCESS_TAG = os.urandom(5).hex()
    _ids_made = itertools.count()


_PROCESS_TAG = ""
_ids_made = itertools.count()
_new_process_tag()
os.register_at_fork(after_in_child=_new_process_tag)  # a forked child must not repeat its parent's ids


def new_event_id() -> str:
    """32 hex digits: the wall clock in microseconds (14), this process's random tag (40
    bits, 10) and its count of ids so far (8).

    Time first, so that ids written one after another sit side by side in the event log's
    ``UNIQUE`` index: an insert appends to its last pages instead of landing on a random
    page of a month-long index (measured: 40 -> 23 us of CPU per stored event with 150k
    events; the gap widens as the log outgrows the page cache).  Within a process the
    count keeps ids apart; between processes (several nodes, a restart, a fork) the random
    tag does.  One ``os.urandom`` per process, not per event: that system call was ~2 % of
    the engine's CPU under call traffic."""
    return f"{time.time_ns() // 1000:014x}{_PROCESS_TAG}{next(_ids_made) & 0xFFFFFFFF:08x}"


class Event(BaseModel):
    """One thing that happened, as stored in SQLite and published over MQTT."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: EventType
    ts: float = Field(description="UNIX time in seconds, UTC")
    call_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    id: str = Field(default_factory=lambda: new_event_id())
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Event":
        return cls.model_validate_json(text)

    @classmethod
    def trusted(
        cls, type: str, ts: float, call_id: str | None, agent_id: str | None, queue: str | None, data: dict[str, Any], id: str
    ) -> "Event":
        """An event from values already checked (the router's typed outcomes), every field given.

        What ``model_construct`` makes, without its per-field loop over aliases and
        defaults: the dispatcher builds several of these per call.  Not for anything read
        from outside (SQLite, JSON, the API): those are validated."""
        event = cls.__new__(cls)
        _set = object.__setattr__
        _set(event, "__dict__", {
            "type": type, "ts": ts, "call_id": call_id, "agent_id": agent_id, "queue": queue,
            "data": data, "id": id, "schema_version": SCHEMA_VERSION,
        })
        _set(event, "__pydantic_fields_set__", set(_ALL_FIELDS))
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event


_ALL_FIELDS = frozenset(Event.model_fields)
_KNOWN_TYPES = frozenset(EVENT_TYPES)


def engine_event(
    type: str, ts: float, *, call_id: str | None = None, agent_id: str | None = None, queue: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """An event the engine states itself (``Engine.emit``: a call's start, a connection, a
    supervisor's action): fields by name only, the type checked, the rest trusted as
    :meth:`Event.trusted` does (validating it cost a call more than the event's use)."""
    if type not in _KNOWN_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    return Event.trusted(type, float(ts), call_id, agent_id, queue, data if data is not None else {}, new_event_id())


def internal_event(type: str, ts: float, call_id: str | None, data: dict[str, Any]) -> Event:
    """An event the engine makes about a call from values it holds (the IVR runner's, several
    a call): the type is checked, the rest is trusted as :meth:`Event.trusted` does."""
    return engine_event(type, ts, call_id=call_id, data=data)
