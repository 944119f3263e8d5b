"""What the control API needs of a running engine: the one interface it is served through.

Why a protocol and not :class:`acd.app.App`: the application assembly builds the API
(``attach_api``), so the API importing the assembly back was an import cycle, and it let
any route reach into any part.  The API sees only what is listed here; ``App`` satisfies
it structurally, and a test may hand in anything else that does.

Reads go to the router's views, the live statistics and the event store; actions go
through the dispatcher (never the router directly), so the API cannot change routing
state by a path the AMI side does not also take.
"""

from __future__ import annotations

from typing import Callable, Protocol

from acd.dispatch import Dispatcher
from acd.engine import Engine
from acd.metrics.live import LiveStats
from acd.metrics.store import EventStore
from acd.routing import Router
from acd.routing_reload import RoutingReloader


class ServedEngine(Protocol):
    """The engine as the API serves it (``acd.app.App`` is one)."""

    engine: Engine  # lifecycle hooks, the bus, AMI/FastAGI health, the clock, settings.site
    dispatcher: Dispatcher  # agent and call actions
    router: Router  # read-only views: agents, calls, queues, configuration
    stats: LiveStats  # live figures
    store: EventStore | None  # the day's events, to seed the counters at start
    routing_reload: RoutingReloader | None  # `acd routing check`
    caller_number: Callable[[str, str], None] | None  # set by the API: the live calls view's clear numbers
    node_connections: Callable[[], dict[str, bool]] | None  # several Asterisk servers: each one's AMI up or not


def ami_state(app: ServedEngine) -> tuple[bool, dict[str, bool] | None]:
    """AMI up (every node's, with several Asterisk servers: routing waits for all) and, then, per node."""
    connections = getattr(app, "node_connections", None)  # test doubles of the engine may not have it
    nodes = connections() if connections is not None else None
    if nodes is None:
        return app.engine.ami.connected, None
    return all(nodes.values()), nodes
