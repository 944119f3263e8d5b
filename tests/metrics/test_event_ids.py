"""Event ids: 32 hex digits, unique, and in the order they were made (time first), so the
event log's UNIQUE index grows at its end instead of at random pages."""

from __future__ import annotations

import re

from acd.base.events import Event, new_event_id
from acd.routing.decisions import CallQueued
from acd.routing.outcome_events import outcome_to_event


def test_ids_are_32_hex_digits_and_unique() -> None:
    ids = [new_event_id() for _ in range(20000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_ids_made_later_sort_later() -> None:
    first = new_event_id()
    later = [new_event_id() for _ in range(1000)]
    assert all(first[:14] <= i[:14] for i in later)
    assert later[-1] > first


def test_a_forked_child_makes_ids_its_parent_does_not() -> None:
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids, then out without running the test session's exit
        os.write(write, " ".join(new_event_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    parent = {new_event_id() for _ in range(100)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(child) == 100 and not child & parent
    assert {i[14:24] for i in child} != {i[14:24] for i in parent}  # another process tag


def test_every_event_gets_such_an_id() -> None:
    built = Event(type="call.queued", ts=1.0)
    from_router = outcome_to_event(CallQueued(call_id="17.1", queue="ventas", priority=0, skills=("ventas",), wait_origin=1.0, at=2.0))
    assert from_router is not None
    for event in (built, from_router):
        assert re.fullmatch(r"[0-9a-f]{32}", event.id)


def test_an_internal_event_is_the_same_event_as_a_validated_one_and_refuses_unknown_types() -> None:
    import pytest

    from acd.base.events import internal_event

    made = internal_event("ivr.node", 5, "c1", {"flow": "f", "node": "n"})
    checked = Event.model_validate_json(made.to_json())
    assert checked == made and isinstance(made.ts, float)
    with pytest.raises(ValueError, match="unknown event type 'ivr.nodo'"):
        internal_event("ivr.nodo", 5, "c1", {})
