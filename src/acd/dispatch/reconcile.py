"""After a restart, close in the record every call the previous engine left open.

An engine killed (or stopped) while calls were ringing, talking or waiting never logs how
they ended: answered or hung up while no engine ran, or in its last unwritten batch.
Without this the report shows them "waiting" for ever and under-counts answered calls.
Asterisk keeps its own durable record, CEL (Channel Event Logging) written by
``cel_sqlite3_custom`` to a local SQLite file (``continuity.cel_database``): for each
channel, ``BRIDGE_ENTER`` (with the peer: the agent's channel) and ``HANGUP``, with their
times.  Once the first resync has rebuilt what is still live, :func:`reconcile` takes
each call the event log shows open (queued, not answered-and-completed, abandoned nor
timed out, within a day) that the router does not hold, and logs what CEL says:

* bridged to an agent's phone and not logged answered → ``call.answered`` at the bridge;
* then hung up → ``call.completed`` (answered) or ``call.abandoned`` (never bridged) at
  the hang-up, with wait and talk times from those instants;
* no trace in CEL (no CEL file configured, or the call predates it) → closed at the
  engine's start as ``call.abandoned`` with ``data.reconciled = "no-record"``, so no call
  stays open; the count of such calls is logged, and is zero when CEL is on.

A call whose very queueing was in the killed engine's last batch (the log has its
``call.started`` and nothing after) is found too: ``acd-hold`` marks a waiting caller's
channel (CEL ``userfield`` = ``queue|wait origin``), so CEL says it waited, where and since
when; it gets its ``call.queued`` and is closed as above.

Every reconciled event carries ``data.reconciled`` ("cel" or "no-record"). The CEL file
is opened read-only; the engine never writes it.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from acd.base.events import Event

log = logging.getLogger("acd.dispatch.reconcile")

OPENING = ("call.queued", "call.requeued")
ENDING = ("call.abandoned", "call.timed_out", "call.completed")
WINDOW_S = 86_400.0
#: The table ``deploy/asterisk/etc/cel_sqlite3_custom.conf`` has Asterisk write (with the
#: ``userfield`` column: ``acd-hold`` sets it to ``queue|wait origin`` for a waiting caller).
CEL_TABLE = "acd_cel"
#: The CEL event types the engine reads (here and in :mod:`acd.dispatch.away_calls`:
#: ``APP_START`` of the hold music marks when an away caller was first held).  Asterisk
#: writes a SQLite row, with a journal and its fsyncs, for every event of a type listed in
#: ``cel.conf``, so the lab's lists exactly these (``tests/test_reconcile.py``).
CEL_EVENTS_READ = frozenset({"BRIDGE_ENTER", "HANGUP", "APP_START"})


@dataclass
class OpenCall:
    """A call the event log has not closed: what it knows of it."""

    call_id: str
    queue: str | None
    wait_origin: float
    answered_at: float | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class ChannelRecord:
    """What CEL recorded of one channel: when it was bridged (and to whom), when it hung up."""

    bridged_at: float | None
    peer: str
    hung_up_at: float | None
    queue: str | None = None  # from the channel's userfield, set when it reached acd-hold
    wait_origin: float | None = None


def open_calls(events: Iterable[Event]) -> dict[str, OpenCall]:
    """Calls opened and not closed by ``events`` (oldest first)."""
    calls: dict[str, OpenCall] = {}
    for event in events:
        call_id = event.call_id
        if not call_id:
            continue
        if event.type in OPENING:
            call = calls.get(call_id)
            if call is None:
                origin = event.data.get("wait_origin")
                calls[call_id] = OpenCall(call_id, event.queue, float(origin) if isinstance(origin, (int, float)) else event.ts)
            else:
                call.queue = event.queue or call.queue
        elif event.type == "call.answered" and call_id in calls:
            calls[call_id].answered_at = event.ts
            calls[call_id].agent_id = event.agent_id
        elif event.type in ENDING:
            calls.pop(call_id, None)
    return calls


def read_cel(path: Path, uniqueids: Iterable[str]) -> dict[str, ChannelRecord]:
    """CEL's record of these channels (read-only; a missing or unreadable file reads as nothing)."""
    ids = sorted(set(uniqueids))
    if not ids or not path.is_file():
        return {}
    found: dict[str, dict[str, object]] = {}
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        log.warning("%s: cannot open the CEL record (%s)", path, exc)
        return {}
    try:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = connection.execute(
                f"SELECT uniqueid, eventtype, eventtime, peer, channame, userfield FROM {CEL_TABLE} WHERE eventtype IN ('BRIDGE_ENTER', 'HANGUP') "
                f"AND uniqueid IN ({', '.join('?' for _ in chunk)}) ORDER BY CAST(eventtime AS REAL)",
                chunk,
            ).fetchall()
            for uniqueid, kind, at, peer, channame, userfield in rows:
                seen = found.setdefault(uniqueid, {})
                queue, origin = _waiting_mark(userfield)
                if queue is not None:
                    seen["queue"], seen["wait_origin"] = queue, origin
                when = _time(at)
                if when is None:
                    continue
                if kind == "BRIDGE_ENTER" and "bridged_at" not in seen:
                    # The first channel into a bridge has no peer yet: the agent's own
                    # BRIDGE_ENTER names the caller as its peer (looked up below).
                    seen["bridged_at"], seen["peer"], seen["channel"] = when, str(peer or ""), str(channame or "")
                elif kind == "HANGUP":
                    seen["hung_up_at"] = when
        name_bridge_peers(connection, found)
    except sqlite3.Error as exc:
        log.warning("%s: cannot read the CEL record (%s)", path, exc)
    finally:
        connection.close()
    return {
        uid: ChannelRecord(seen.get("bridged_at"), str(seen.get("peer", "")), seen.get("hung_up_at"),  # type: ignore[arg-type]
                           seen.get("queue"), seen.get("wait_origin"))  # type: ignore[arg-type]
        for uid, seen in found.items()
    }


def name_bridge_peers(connection: sqlite3.Connection, found: Mapping[str, dict[str, object]]) -> None:
    """Fill ``peer`` where a channel entered its bridge first (CEL gives it no peer then):
    the other channel's own ``BRIDGE_ENTER`` names it as *its* peer."""
    alone = {str(seen["channel"]): uid for uid, seen in found.items() if seen.get("bridged_at") is not None and not seen.get("peer")}
    names = sorted(name for name in alone if name)
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        rows = connection.execute(
            f"SELECT peer, channame FROM {CEL_TABLE} WHERE eventtype = 'BRIDGE_ENTER' AND peer IN ({', '.join('?' for _ in chunk)})", chunk
        ).fetchall()
        for peer, channame in rows:
            seen = found[alone[str(peer)]]
            if not seen.get("peer") and channame:
                seen["peer"] = str(channame)


def _waiting_mark(userfield: object) -> tuple[str | None, float | None]:
    """``queue|wait origin`` (acd-hold's mark on the channel) -> (queue, origin); else (None, None)."""
    queue, bar, origin = str(userfield or "").partition("|")
    if not bar or not queue or len(queue) > 64:
        return None, None
    return queue, _time(origin)


def queueings_lost(events: Iterable[Event], held: Callable[[str], bool]) -> set[str]:
    """Calls the log saw start but never queued nor end (their queueing was in a killed
    engine's last batch), that the router does not hold: CEL may know they waited."""
    started: set[str] = set()
    seen: set[str] = set()
    for event in events:
        if not event.call_id:
            continue
        if event.type == "call.started":
            started.add(event.call_id)
        elif event.type in OPENING or event.type in ENDING or event.type == "call.ended":
            seen.add(event.call_id)
    return {call_id for call_id in started - seen if not held(call_id)}


def recovered_calls(records: Mapping[str, ChannelRecord], call_ids: Iterable[str]) -> dict[str, OpenCall]:
    """Of ``call_ids``, those CEL shows reached the holding context: open calls, with the
    queue and the wait origin acd-hold wrote on the channel."""
    calls = {}
    for call_id in call_ids:
        record = records.get(call_id)
        if record is None or record.queue is None:
            continue  # never waited for an agent (ended in the IVR): nothing to count
        origin = record.wait_origin
        if origin is None:
            origin = record.bridged_at if record.bridged_at is not None else record.hung_up_at
        if origin is not None:
            calls[call_id] = OpenCall(call_id, record.queue, origin)
    return calls


def queued_events(calls: Mapping[str, OpenCall]) -> list[Event]:
    """The ``call.queued`` a recovered call's record lacks (its wait counted from CEL's origin)."""
    return [
        Event(type="call.queued", ts=call.wait_origin, call_id=call.call_id, queue=call.queue,
              data={"wait_origin": call.wait_origin, "reconciled": "cel"})
        for call in sorted(calls.values(), key=lambda c: c.wait_origin)
    ]


def _time(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def closing_events(
    calls: Mapping[str, OpenCall], records: Mapping[str, ChannelRecord], agent_of_device: Callable[[str], str | None], now: float
) -> list[Event]:
    """The events that close ``calls`` from CEL's ``records`` (see the module docstring)."""
    events: list[Event] = []
    for call in sorted(calls.values(), key=lambda c: c.wait_origin):
        record = records.get(call.call_id)
        answered_at, agent_id = call.answered_at, call.agent_id
        if record is not None and record.hung_up_at is None and (record.bridged_at is not None or answered_at is not None):
            continue  # still bridged: not over (the router learns it from Asterisk)
        if record is not None and answered_at is None and record.bridged_at is not None:
            agent_id = agent_of_device(_device(record.peer))
            answered_at = max(record.bridged_at, call.wait_origin)
            events.append(Event(type="call.answered", ts=answered_at, call_id=call.call_id, agent_id=agent_id, queue=call.queue,
                                data={"waited_s": answered_at - call.wait_origin, "reconciled": "cel"}))
        if record is not None and record.hung_up_at is not None:
            ended = max(record.hung_up_at, answered_at or call.wait_origin)
            how = "cel"
        else:
            ended, how = now, "no-record"
        if answered_at is not None:
            events.append(Event(type="call.completed", ts=ended, call_id=call.call_id, agent_id=agent_id, queue=call.queue,
                                data={"talk_s": ended - answered_at, "hold_s": 0.0, "reconciled": how}))
        else:
            events.append(Event(type="call.abandoned", ts=ended, call_id=call.call_id, queue=call.queue,
                                data={"waited_s": max(0.0, ended - call.wait_origin), "reconciled": how}))
    return events


def _device(channel: str) -> str:
    """``PJSIP/agent1-0000002a`` → ``PJSIP/agent1`` (the endpoint the routing file names)."""
    name, dash, suffix = channel.rpartition("-")
    return name if dash and suffix else channel
