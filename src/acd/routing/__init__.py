"""The pure ACD core: which agent gets which call, and how the queues are doing.

Nothing here does I/O or reads the clock.  The engine feeds :class:`Router` the events
it sees on AMI (with the time), carries out the :class:`Decision` objects it gets back
(ring an agent, stop ringing, take a call out) and turns the :class:`Notification`
objects into :class:`acd.base.events.Event` records; the live figures are computed
from those events (``acd.metrics.live``), by the same code as reports::

    config, problems = load_routing_config("deploy/routing.yaml")
    router = Router(config)
    outcomes = router.call_arrived(now, "call-1", "billing")
    timer_at = router.next_deadline()   # arm one timer; on expiry: router.advance(t)
"""

from acd.routing.config import (
    DEFAULT_SL_FORMULA,
    SL_FORMULAS,
    AgentConfig,
    ExpansionRule,
    QueueConfig,
    RoutingConfig,
    ServiceLevel,
    load_routing_config,
    load_routing_text,
    validate_routing_data,
)
from acd.routing.decisions import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOverflowed,
    CallQueued,
    CallRequeued,
    CallTimedOut,
    CancelRing,
    Decision,
    Ignored,
    Notification,
    Outcome,
    RingAgent,
    RingNoAnswer,
)
from acd.routing.model import AgentState, CallState
from acd.routing.router import AgentView, CallView, Router

__all__ = [
    "DEFAULT_SL_FORMULA",
    "SL_FORMULAS",
    "AgentConfig",
    "AgentState",
    "AgentStateChanged",
    "AgentView",
    "CallAbandoned",
    "CallAnswered",
    "CallCompleted",
    "CallOverflowed",
    "CallQueued",
    "CallRequeued",
    "CallState",
    "CallTimedOut",
    "CallView",
    "CancelRing",
    "Decision",
    "ExpansionRule",
    "Ignored",
    "Notification",
    "Outcome",
    "QueueConfig",
    "RingAgent",
    "RingNoAnswer",
    "Router",
    "RoutingConfig",
    "ServiceLevel",
    "load_routing_config",
    "load_routing_text",
    "validate_routing_data",
]
