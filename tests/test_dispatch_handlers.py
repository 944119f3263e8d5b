"""The dispatcher's handler table: every call-control fact has exactly one handler, and only facts do."""

from __future__ import annotations

import typing

from acd.asterisk.call_control import ControlEvent
from acd.dispatch import Dispatcher
from acd.routing import Router, load_routing_text
from acd.dispatch.testing import FakeCallControl as FakeControl

ROUTING = """
skills: [general]
agents: [{id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}]
queues: [{name: general, skills: [general]}]
"""


def test_every_fact_type_has_one_handler_and_nothing_else_does() -> None:
    facts = set(typing.get_args(ControlEvent))
    assert len(facts) >= 10  # the Union was read
    assert set(Dispatcher.HANDLERS) == facts
    for kind, name in Dispatcher.HANDLERS.items():
        assert callable(getattr(Dispatcher, name, None)), f"{kind.__name__}: no method {name}"


def test_a_value_that_is_no_fact_is_ignored_without_touching_the_router() -> None:
    config, problems = load_routing_text(ROUTING)
    assert config is not None, problems
    dispatcher = Dispatcher(router=Router(config), control=FakeControl(), emit=lambda event: None, clock=lambda: 1000.0)
    assert dispatcher.handle("Event: Hangup") == []  # type: ignore[arg-type]
    assert dispatcher.counters.ignored_events == 0
