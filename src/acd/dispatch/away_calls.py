"""Calls Asterisk handled alone while the engine was away, brought into the record.

While no engine answers, ``acd-engine-away`` (``dialplans/acd.conf``) holds callers with
music and, past ``continuity.hold_callers_s``, hands them to Asterisk's own ``Queue()``
(the degraded mode).  The engine never saw those calls, so without this they were missing
from every figure — and the contract counts them: a caller held for two minutes who hung
up is an abandoned call, one served by the fallback queue an answered one.

Asterisk's CEL record (``continuity.cel_database``, ``deploy/asterisk/etc/cel.conf``)
has, per channel, ``APP_START`` of ``MusicOnHold`` and ``Queue`` in ``acd-engine-away``,
``BRIDGE_ENTER`` with the agent's channel as peer, and ``HANGUP``.  A channel with a row in
that context and no queue event of its own in the event log (it was never queued by an
engine: arrived while it was away, or was in the IVR when it died and was not taken back)
is an *away call*, logged once it has hung up — if it ended there (bridged by the fallback
queue, or hung up while held): a caller the returning engine took back is in its own
record — in the fallback queue's name:

* ``call.queued`` at its first hold in ``acd-engine-away`` (its wait starts there);
* bridged to an agent → ``call.answered`` at the bridge, then ``call.completed`` at the
  hang-up;
* never bridged → ``call.abandoned`` at the hang-up.

Only calls since the event log began count (a new log, or a lab's CEL file shared by many
runs, takes in nothing from before it).  Every event carries ``data.reconciled = "away"`` and an id derived from the channel and
the event type, so reading the same record twice (a later restart) stores nothing twice.
Reading is read-only and bounded (``limit`` channels per pass).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from acd.base.events import Event
from acd.dispatch.reconcile import CEL_TABLE, _device, _time, name_bridge_peers

log = logging.getLogger("acd.dispatch.away_calls")

AWAY_CONTEXT = "acd-engine-away"
#: Longer than any caller stays in acd-engine-away (continuity.hold_callers_s is at most an hour, plus the fallback queue).
HELD_MARGIN_S = 3 * 3600.0


@dataclass(frozen=True)
class AwayCall:
    """What CEL recorded of one channel that went through ``acd-engine-away``."""

    call_id: str
    held_at: float
    bridged_at: float | None = None  # bridged to an agent by the fallback queue (in acd-engine-away)
    peer: str = ""
    hung_up_at: float | None = None
    hung_up_away: bool = False  # the hang-up happened in acd-engine-away (not after the engine took it back)


def read_away_calls(path: Path, since: float, limit: int = 10_000) -> dict[str, AwayCall]:
    """Channels held in ``acd-engine-away`` since ``since``, with their bridge and hang-up (read-only)."""
    if not path.is_file():
        return {}
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        log.warning("%s: cannot open the CEL record (%s)", path, exc)
        return {}
    found: dict[str, dict[str, object]] = {}
    try:
        # A call counts from its first hold, which must be at or after ``since``: rows are read
        # from a margin earlier so a call held just before ``since`` is seen (and left out) whole.
        held = connection.execute(
            # eventtime is stored as text by cel_sqlite3_custom: compared as text, every row would be "later"
            f"SELECT uniqueid, MIN(CAST(eventtime AS REAL)) AS first FROM {CEL_TABLE} "
            "WHERE context = ? AND CAST(eventtime AS REAL) >= ? GROUP BY uniqueid HAVING first >= ? ORDER BY first LIMIT ?",
            (AWAY_CONTEXT, since - HELD_MARGIN_S, since, limit),
        ).fetchall()
        for uniqueid, at in held:
            when = _time(at)
            if uniqueid and when is not None:
                found[str(uniqueid)] = {"held_at": when}
        ids = sorted(found)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = connection.execute(
                f"SELECT uniqueid, eventtype, eventtime, peer, channame, context FROM {CEL_TABLE} WHERE eventtype IN ('BRIDGE_ENTER', 'HANGUP') "
                f"AND uniqueid IN ({', '.join('?' for _ in chunk)}) ORDER BY CAST(eventtime AS REAL)",
                chunk,
            ).fetchall()
            for uniqueid, kind, at, peer, channame, context in rows:
                seen, when = found[str(uniqueid)], _time(at)
                if when is None:
                    continue
                if kind == "BRIDGE_ENTER" and context == AWAY_CONTEXT and "bridged_at" not in seen:
                    seen["bridged_at"], seen["peer"], seen["channel"] = when, str(peer or ""), str(channame or "")
                elif kind == "HANGUP":
                    seen["hung_up_at"], seen["hung_up_away"] = when, context == AWAY_CONTEXT
        name_bridge_peers(connection, found)  # the caller entered the bridge first: the agent's entry names it
    except sqlite3.Error as exc:
        log.warning("%s: cannot read the CEL record (%s)", path, exc)
    finally:
        connection.close()
    return {
        uid: AwayCall(uid, float(seen["held_at"]), seen.get("bridged_at"), str(seen.get("peer", "")),  # type: ignore[arg-type]
                      seen.get("hung_up_at"), bool(seen.get("hung_up_away")))  # type: ignore[arg-type]
        for uid, seen in found.items()
    }


def _event_id(call_id: str, kind: str) -> str:
    return hashlib.sha256(f"away|{call_id}|{kind}".encode()).hexdigest()[:32]


def away_events(calls: Iterable[AwayCall], queue: str, agent_of_device: Callable[[str], str | None]) -> list[Event]:
    """The events of the away calls that have ended (see the module docstring), oldest first."""
    events: list[Event] = []
    for call in sorted(calls, key=lambda c: c.held_at):
        if call.hung_up_at is None:
            continue  # still held or talking: logged once it has ended
        if call.bridged_at is None and not call.hung_up_away:
            continue  # taken back by the engine (its IVR ran again): the engine's own record has it
        origin = call.held_at
        ended = max(call.hung_up_at, origin)

        def event(kind: str, ts: float, agent_id: str | None = None, call_id: str = call.call_id, **data: object) -> Event:
            return Event(type=kind, ts=ts, call_id=call_id, agent_id=agent_id, queue=queue,
                         data={**data, "reconciled": "away"}, id=_event_id(call_id, kind))

        events.append(event("call.queued", origin, wait_origin=origin, fallback=True))
        if call.bridged_at is not None and call.bridged_at <= ended:
            agent_id = agent_of_device(_device(call.peer))
            answered = max(call.bridged_at, origin)
            events.append(event("call.answered", answered, agent_id, waited_s=answered - origin))
            events.append(event("call.completed", ended, agent_id, talk_s=ended - answered, hold_s=0.0))
        else:
            events.append(event("call.abandoned", ended, waited_s=ended - origin))
    return events


class AwayCallsReader:
    """Brings away calls into the record: once after a (re)start, then every ``period_s``.

    A call is left out while the event log has a queue event for it (an engine queued it,
    or an earlier pass logged it), so passes may overlap freely.
    """

    def __init__(
        self,
        cel_path: Path,
        queue: str,
        agent_of_device: Callable[[str], str | None],
        recorded: Callable[[list[str], tuple[str, ...], float], Awaitable[dict[str, set[str]]]],
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        window_s: float = 86_400.0,
        first_recorded: Callable[[], Awaitable[float | None]] | None = None,
    ) -> None:
        self.cel_path, self.queue, self.agent_of_device = cel_path, queue, agent_of_device
        self.recorded, self.emit, self.clock, self.window_s = recorded, emit, clock, window_s
        self.first_recorded = first_recorded
        self.record_began: float | None = None
        self.logged: set[str] = set()  # call ids this process logged (bounded by the window's calls)

    async def scan(self) -> int:
        since = self.clock() - self.window_s
        if self.record_began is None and self.first_recorded is not None:
            # an empty log (its first events not yet written) begins now
            self.record_began = await self.first_recorded() or self.clock()
        if self.record_began is not None:
            since = max(since, self.record_began)  # a new event log does not take in calls from before it began
        calls = await asyncio.to_thread(read_away_calls, self.cel_path, since)
        pending = [call_id for call_id in calls if call_id not in self.logged]
        if not pending:
            return 0
        known = await self.recorded(pending, ("call.queued", "call.requeued"), since)
        fresh = [calls[call_id] for call_id in pending if not known.get(call_id)]
        events = away_events(fresh, self.queue, self.agent_of_device)
        logged = {event.call_id for event in events if event.call_id}
        for event in events:
            self.emit(event)
        self.logged |= logged
        if len(self.logged) > 100_000:  # a day of the help line is ~2,000; keep memory bounded regardless
            self.logged.clear()
        if logged:
            log.warning("ACD: %d call(s) Asterisk handled alone while the engine was away logged from CEL (queue %s)", len(logged), self.queue)
        return len(logged)

    async def run(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.scan()
            except Exception:
                log.exception("ACD: reading calls handled while the engine was away failed")
