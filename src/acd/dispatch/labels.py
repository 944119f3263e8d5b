"""The channel variables that label a call for the holding context: the only writer of them.

A caller's channel gets them at the IVR hand-off (``Dispatcher.enqueue``), a customer-first
customer's channel in its ``Originate``; resync reads them back to find the call again
after a reconnect or a restart.  One module writes them (``acd.channel_variables``), so two
writers can never disagree on a call's queue or wait.
"""

from __future__ import annotations

import math


def hold_labels(call_id: str, queue: str, wait_origin: float, priority: int | None, announce_every_s: float | None) -> dict[str, str]:
    """``ACD_CALL_ID``, ``ACD_QUEUE``, ``ACD_WAIT_ORIGIN``, ``ACD_PRIORITY`` ("": the queue's)
    and, when the queue announces positions, ``ACD_ANNOUNCE_EVERY`` (whole seconds), in that order."""
    labels = {
        "ACD_CALL_ID": call_id,
        "ACD_QUEUE": queue,
        "ACD_WAIT_ORIGIN": f"{wait_origin:.3f}",
        "ACD_PRIORITY": "" if priority is None else str(priority),
    }
    if announce_every_s:
        labels["ACD_ANNOUNCE_EVERY"] = str(int(math.ceil(announce_every_s)))
    return labels


def customer_first_labels(call_id: str, queue: str, wait_origin: float, announce_every_s: float | None, greeting: str) -> dict[str, str]:
    """A customer-first customer's channel: a caller's labels plus what the customer hears first."""
    labels = hold_labels(call_id, queue, wait_origin, None, None)
    labels["ACD_CALLBACK_GREETING"] = greeting
    if announce_every_s:
        labels["ACD_ANNOUNCE_EVERY"] = str(int(math.ceil(announce_every_s)))
    return labels


def agent_first_labels(call_id: str) -> dict[str, str]:
    """An agent-first callback leg: only the call it belongs to."""
    return {"ACD_CALL_ID": call_id}
