"""The ACD service: feeds the pure router from call-control facts and carries out its decisions.

Where each part lives:

=================  ===========================================================================
``dispatcher``     :class:`Dispatcher`: IVR hand-off, agents, supervisor moves, one handler
                   per fact (a table), decisions carried out in order per call, the timer
``control``        :class:`CallControl`, the interface the dispatcher drives (AMI adapter:
                   ``acd.asterisk.call_control``; in memory: ``testing``)
``resync``         suspend/resume of the router's clock and the rebuild after (re)connecting
``callback_calls`` callbacks as calls: joining the queue, placing, answers and failures
``callback_legs``  which ``Originate`` leg is the current attempt; hanging up cancelled ones
``devices``        what an agent's phone state means for the agent (pause/unpause rules)
``labels``         the channel variables that label a call for the holding context
``testing``        :class:`FakeCallControl`, the one in-memory call control of tests and replays
=================  ===========================================================================

Outcomes become events in :mod:`acd.routing.outcome_events` (below the planning tools,
which use it too); ``outcome_to_event`` is re-exported here for existing importers.
"""

from acd.dispatch.callback_calls import CALLBACK_NOT_ANSWERED, CUSTOMER_FIRST_MARGIN_S, ORIGINATE_REASONS
from acd.dispatch.callback_legs import LEG_HANGUP_RETRY_S, LEG_HANGUP_WAIT_S, CallbackLeg, CallbackLegs
from acd.dispatch.control import AgentLeg, CallControl, History
from acd.dispatch.devices import (
    BUSY_DEVICE_STATES,
    DEVICE_PAUSES,
    PHONE_BUSY_REASON,
    UNREACHABLE_DEVICE_STATES,
    UNREACHABLE_REASON,
)
from acd.dispatch.dispatcher import UNSAFE_CALL_DATA, Dispatcher, DispatchStats
from acd.dispatch.resync import HISTORY_WINDOW_S, SUSPEND_LIMIT_S
from acd.routing.outcome_events import outcome_to_event

__all__ = [
    "BUSY_DEVICE_STATES",
    "CALLBACK_NOT_ANSWERED",
    "CUSTOMER_FIRST_MARGIN_S",
    "DEVICE_PAUSES",
    "HISTORY_WINDOW_S",
    "LEG_HANGUP_RETRY_S",
    "LEG_HANGUP_WAIT_S",
    "ORIGINATE_REASONS",
    "PHONE_BUSY_REASON",
    "SUSPEND_LIMIT_S",
    "UNREACHABLE_DEVICE_STATES",
    "UNREACHABLE_REASON",
    "UNSAFE_CALL_DATA",
    "AgentLeg",
    "CallControl",
    "CallbackLeg",
    "CallbackLegs",
    "DispatchStats",
    "Dispatcher",
    "History",
    "outcome_to_event",
]
