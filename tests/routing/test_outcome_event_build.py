"""Events built from router outcomes on the hot path (``Event.trusted``) are the events
pydantic would build and validate from the same values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acd.base.events import SCHEMA_VERSION, Event
from acd.routing.decisions import RingAgent
from acd.routing.outcome_events import outcome_to_event


def test_trusted_event_equals_the_validated_one() -> None:
    values = dict(type="call.queued", ts=12.5, call_id="17.1", agent_id=None, queue="ventas", data={"skills": ["a"], "wait_origin": 3.0}, id="ab" * 16)
    trusted = Event.trusted(**values)  # type: ignore[arg-type]
    validated = Event(**values, schema_version=SCHEMA_VERSION)  # type: ignore[arg-type]
    assert trusted == validated
    assert trusted.model_dump(mode="json") == validated.model_dump(mode="json")
    assert trusted.to_json() == validated.to_json()
    assert trusted.model_fields_set == validated.model_fields_set
    assert Event.from_json(trusted.to_json()) == validated


def test_trusted_event_is_frozen_like_any_other() -> None:
    event = Event.trusted("call.queued", 1.0, "c", None, "q", {}, "id1")
    with pytest.raises(ValidationError, match="frozen"):
        event.ts = 2.0  # type: ignore[misc]


def test_outcome_event_is_a_valid_event_with_the_outcome_fields() -> None:
    ring = RingAgent(call_id="17.1", agent_id="a1", endpoint="PJSIP/a1", queue="ventas", waited_s=4.0, timeout_s=15.0, at=5.0)
    event = outcome_to_event(ring)
    assert event is not None
    assert (event.type, event.call_id, event.agent_id, event.queue, event.ts) == ("call.agent_ringing", "17.1", "a1", "ventas", 5.0)
    assert event.data == {"endpoint": "PJSIP/a1", "waited_s": 4.0, "timeout_s": 15.0}
    assert Event.model_validate(event.model_dump()) == event
