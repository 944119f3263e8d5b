"""The pure ACD core: which agent gets which call, and how the queues are doing.

Nothing here does I/O or reads the clock.  The engine feeds :class:`Router` the events
it sees on AMI (with the time), carries out the :class:`Decision` objects it gets back
(ring an agent, stop ringing, take a call out), turns the :class:`Notification` objects
into :class:`acd.metrics.events.Event` records, and passes every outcome to
:class:`LiveStats` for the wallboard::

    config, problems = load_routing_config("deploy/routing.yaml")
    router, stats = Router(config), LiveStats(config)
    outcomes = router.call_arrived(now, "call-1", "billing")
    stats.apply(outcomes)
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
from acd.routing.stats import AgentCounts, Figures, LiveStats, QueueStats, RoutingSnapshot, SkillStats

__all__ = [
    "DEFAULT_SL_FORMULA",
    "SL_FORMULAS",
    "AgentConfig",
    "AgentCounts",
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
    "Figures",
    "Ignored",
    "LiveStats",
    "Notification",
    "Outcome",
    "QueueConfig",
    "QueueStats",
    "RingAgent",
    "RingNoAnswer",
    "Router",
    "RoutingConfig",
    "RoutingSnapshot",
    "ServiceLevel",
    "SkillStats",
    "load_routing_config",
    "load_routing_text",
    "validate_routing_data",
]
