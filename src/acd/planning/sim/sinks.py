"""Where the router's outcomes go during a simulation.

:class:`EventLog` is the production path: each outcome becomes an
:class:`acd.base.events.Event` through the engine's own ``outcome_to_event``, so the
simulated log is what the event store of a live engine would hold, and the report
computed from it is the report ``acd report`` would print.  :class:`OutcomeCounter`
only counts, for the benchmark's "simulation alone" figure.
"""

from __future__ import annotations

from acd.routing.outcome_events import outcome_to_event
from acd.base.events import Event
from acd.routing.decisions import Outcome


class EventLog:
    """Collects the events a live engine would have written, in the order it would have."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, outcomes: list[Outcome]) -> None:
        append = self.events.append
        for outcome in outcomes:
            event = outcome_to_event(outcome)
            if event is not None:
                append(event)


class OutcomeCounter:
    """Counts outcomes and keeps nothing.

    ``run_simulation`` recognises it and adds its total once at the end instead of
    calling it for every list (a Python call per router call, for a sum).
    """

    __slots__ = ("outcomes",)

    def __init__(self) -> None:
        self.outcomes = 0

    def __call__(self, outcomes: list[Outcome]) -> None:
        self.outcomes += len(outcomes)
