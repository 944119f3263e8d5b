"""Who writes each ``ACD_*`` channel variable the dialplan (``dialplans/acd.conf``) reads.

One owner per variable.  When two components wrote the same variable the last one won:
the IVR runner used to copy its ``queue`` node's ``queue:`` into ``ACD_QUEUE`` *after* the
dispatcher had stored the queue it resolved, so a node naming only ``skills:`` parked the
caller with an empty queue name and nobody routed the call.

======================  ===========================  =========================================
variable                owner (only writer)          what it tells the dialplan
======================  ===========================  =========================================
ACD_ACTION              acd.ivr.runner               the flow's next step (queue/agent/transfer/
                                                     hangup; ``agent`` as the hand-off says)
ACD_TARGET              acd.ivr.runner               where ``transfer`` dials
ACD_SURVEY              acd.app (the IVR hand-off)   the flow whose after-call survey runs
ACD_CALL_ID             acd.dispatch.labels          the call's id (callers: at enqueue;
                                                     callback legs: through ``labels``)
ACD_QUEUE               acd.dispatch.labels          the queue the call waits in (resolved
                                                     from the node's queue or skills)
ACD_WAIT_ORIGIN         acd.dispatch.labels          when the wait began (kept on requeue)
ACD_PRIORITY            acd.dispatch.labels          the call's priority (at the hand-off: the
                                                     queue's when the flow names none)
ACD_ANNOUNCE_EVERY      acd.dispatch.labels          seconds between position announcements
ACD_RING                acd.dispatch.handoff_routing the ring extension of an agent chosen at
                                                     the IVR's hand-off (``agent``)
ACD_CALLBACK_GREETING   acd.dispatch.labels          customer first: what the customer hears
ACD_AGENT_ENDPOINT      acd.asterisk.call_control    the agent's device to Dial
ACD_AGENT_ID            acd.asterisk.call_control    the agent ringing (callback events)
ACD_RING_TIMEOUT        acd.asterisk.call_control    Dial's safety-net ring limit
ACD_RECORD_DIR          acd.asterisk.call_control    where MixMonitor records ("" = off)
ACD_CALLBACK_NUMBER     acd.asterisk.call_control    the customer's number (logged)
ACD_CUSTOMER_DIAL       acd.asterisk.call_control    agent first: the customer's dial string
ACD_CUSTOMER_RING       acd.asterisk.call_control    agent first: the customer's ring limit
ACD_CUSTOMER_CALLERID   acd.asterisk.call_control    agent first: the caller ID shown
ACD_ENGINE_WAIT_S       acd.features.engine_away (a global)   how long callers are held while the
                                                     engine is away
ACD_ENGINE_RETRY_S      acd.features.engine_away (a global)   how often the engine is tried again
ACD_FALLBACK_QUEUE      acd.features.engine_away (a global)   app_queue queue past that time
ACD_AWAY_MESSAGE        acd.features.engine_away (a global)   played once while the engine is away
======================  ===========================  =========================================

Globals ``acd.asterisk.call_control`` sets (AMI ``Setvar`` without a channel) in front of an
agent's first ring on each AMI connection, so a ring is one ``Redirect``: the family
``ACD_AGENT_ENDPOINT_<agent id>`` (that agent's device; ``acd-agent`` reads it for the
agent its extension names) and ``ACD_RECORD_DIR`` (the same owner's channel variable on
callback legs).  The ring's Dial limit and agent travel in the extension, not in variables.

Not per-call channel variables: ``ACD_AGI_KEY``, a *global* the engine sets over AMI at
each login (``acd.asterisk.agi_key``, one place); and, set by the dialplan or the site,
never by the engine: ``ACD_AGI`` and ``ACD_AGI_STANDBY`` (globals; the second: a hot-standby pair's other engine),
``ACD_DIAL_OPTIONS`` (optional site extra Dial options),
``ACD_ANSWERED_AT`` (``acd-agent-answered``: when the agent answered, read back by resync),
``ACD_AWAY_SINCE``/``ACD_AWAY_WAIT``/``ACD_AWAY_RETRY`` (``acd-engine-away``'s own bookkeeping).
``tests/test_channel_variables.py`` checks the source against this table.
"""

from __future__ import annotations

OWNERS: dict[str, str] = {
    "ACD_ACTION": "acd.ivr.runner",
    "ACD_TARGET": "acd.ivr.runner",
    "ACD_SURVEY": "acd.app",
    "ACD_RING": "acd.dispatch.handoff_routing",
    **dict.fromkeys(
        ("ACD_CALL_ID", "ACD_QUEUE", "ACD_WAIT_ORIGIN", "ACD_PRIORITY", "ACD_ANNOUNCE_EVERY", "ACD_CALLBACK_GREETING"),
        "acd.dispatch.labels",
    ),
    **dict.fromkeys(
        (
            "ACD_AGENT_ENDPOINT", "ACD_AGENT_ID", "ACD_RING_TIMEOUT", "ACD_RECORD_DIR",
            "ACD_CALLBACK_NUMBER", "ACD_CUSTOMER_DIAL", "ACD_CUSTOMER_RING", "ACD_CUSTOMER_CALLERID",
        ),
        "acd.asterisk.call_control",
    ),
    **dict.fromkeys(("ACD_ENGINE_WAIT_S", "ACD_ENGINE_RETRY_S", "ACD_FALLBACK_QUEUE", "ACD_AWAY_MESSAGE"), "acd.features.engine_away"),
}  # fmt: skip

#: Families of globals named ``<prefix><agent id>`` -> their only writer.
GLOBAL_FAMILIES: dict[str, str] = {"ACD_AGENT_ENDPOINT_": "acd.asterisk.call_control"}

#: Read by the dialplan but not a per-call variable the engine writes: set by the dialplan
#: itself or the site's configuration, or (ACD_AGI_KEY) a global set by acd.asterisk.agi_key.
NOT_ENGINE_SET = (
    "ACD_AGI", "ACD_AGI_STANDBY", "ACD_DIAL_OPTIONS", "ACD_AGI_KEY", "ACD_ANSWERED_AT", "ACD_AWAY_SINCE", "ACD_AWAY_WAIT", "ACD_AWAY_RETRY",
)
