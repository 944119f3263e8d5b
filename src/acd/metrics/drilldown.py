"""The calls behind one report interval: the ledger's own episodes, not a second reading.

A drill-down must list exactly the calls a report row counted, so it replays the events
through the same :class:`~acd.metrics.ledger.Ledger` and lists the episodes it
attributed to ``[start, end)`` (offered there; for a queue, ended in that queue).  The
caller is shown as the log holds it (masked but for the last digits, with a pseudonym;
``acd.privacy``), and only to viewers allowed personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from acd.base.events import Event
from acd.metrics.ledger import Ledger, Rules, in_order
from acd.metrics.reports import RowBuckets
from acd.metrics.timeutil import Bucket

MAX_CALLS = 2000  # a drill-down is one interval; more is a day, for which the report is the tool


@dataclass(frozen=True, slots=True)
class CallLine:
    call_id: str
    offered: float
    queue: str | None
    skills: tuple[str, ...]
    outcome: str | None  # answered | abandoned | timed_out | None (still waiting, or gone another way)
    waited_s: float | None
    within: bool | None
    agent_id: str | None
    talk_s: float
    hold_s: float
    wrap_s: float
    caller: str | None  # masked by the engine (last digits)
    caller_ref: str | None  # pseudonym


def interval_calls(events: Sequence[Event], start: float, end: float, *, rules: Rules, queue: str | None = None) -> list[CallLine]:
    """Episodes offered in ``[start, end)`` (of ``queue`` if given), oldest first, at most ``MAX_CALLS``."""
    from datetime import datetime, timezone

    ordered = in_order(events)
    ledger = Ledger([RowBuckets([Bucket(start, end, datetime.fromtimestamp(start, timezone.utc))], end)], rules=rules, agent_time=False)
    ledger.feed_all(ordered)
    ledger.flush()
    callers: dict[str, tuple[str | None, str | None]] = {}
    for event in ordered:
        if event.type == "call.started" and event.call_id is not None:
            callers[event.call_id] = (event.data.get("caller"), event.data.get("caller_ref"))
    lines = []
    for episode in ledger.episodes:
        if not start <= episode.offered_ts < end or (queue is not None and episode.queue != queue):
            continue
        waited = episode.waited_s
        caller, ref = callers.get(episode.call_id, (None, None))
        lines.append(
            CallLine(
                call_id=episode.call_id, offered=episode.offered_ts, queue=episode.queue, skills=episode.skills,
                outcome=episode.outcome, waited_s=waited,
                within=None if waited is None else waited <= rules.of(episode.queue).threshold_s,
                agent_id=episode.agent_id, talk_s=episode.talk_s, hold_s=episode.hold_s, wrap_s=episode.wrap_s,
                caller=caller, caller_ref=ref,
            )
        )
        if len(lines) >= MAX_CALLS:
            break
    return lines


__all__ = ["CallLine", "MAX_CALLS", "interval_calls"]
