"""Calls Asterisk held or served alone while the engine was away are counted (acd.dispatch.away_calls).

The CEL file has the schema ``deploy/asterisk/etc/cel_sqlite3_custom.conf`` gives Asterisk;
``tests/lab/test_engine_away_e2e.py`` reads the one Asterisk writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from acd.base.events import Event
from acd.dispatch.away_calls import AWAY_CONTEXT, AwayCallsReader, away_events, read_away_calls
from acd.dispatch.reconcile import CEL_TABLE

T0 = 1_750_000_000.0
AWAY = AWAY_CONTEXT


def cel_file(tmp_path: Path, rows: list[tuple[str, float, str, str, str, str]]) -> Path:
    path = tmp_path / "cel.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {CEL_TABLE} (eventtype, eventtime, uniqueid, channame, peer, context, userfield)")
        # as cel_sqlite3_custom writes them: every value text, eventtime too
        db.executemany(f"INSERT INTO {CEL_TABLE} VALUES (?, ?, ?, ?, ?, ?, '')", [(kind, f"{at:.6f}", *rest) for kind, at, *rest in rows])
    return path


ROWS = [
    # served by the fallback queue: held at +1, Queue at +61, bridged by the agent at +70, ended at +100
    ("ANSWER", T0, "served", "PJSIP/caller-1", "", "acd-ivr"),
    ("APP_START", T0 + 1, "served", "PJSIP/caller-1", "", AWAY),
    ("APP_START", T0 + 61, "served", "PJSIP/caller-1", "", AWAY),
    ("BRIDGE_ENTER", T0 + 70, "served", "PJSIP/caller-1", "", AWAY),  # first into the bridge: no peer yet
    ("BRIDGE_ENTER", T0 + 70, "leg", "PJSIP/agent1-0000002a", "PJSIP/caller-1", "acd-fallback-agent"),
    ("HANGUP", T0 + 100, "served", "PJSIP/caller-1", "", AWAY),
    # hung up while held with music: abandoned after 40 s
    ("APP_START", T0 + 5, "gave-up", "PJSIP/caller-2", "", AWAY),
    ("HANGUP", T0 + 45, "gave-up", "PJSIP/caller-2", "", AWAY),
    # taken back by the returning engine, hung up in its IVR: the engine's own record has it
    ("APP_START", T0 + 6, "taken-back", "PJSIP/caller-3", "", AWAY),
    ("HANGUP", T0 + 20, "taken-back", "PJSIP/caller-3", "", "acd-ivr"),
    # still in the fallback queue: not yet
    ("APP_START", T0 + 8, "still", "PJSIP/caller-4", "", AWAY),
    # never away: an ordinary call
    ("BRIDGE_ENTER", T0 + 9, "ordinary", "PJSIP/caller-5", "PJSIP/agent2-01", "acd-agent"),
    ("HANGUP", T0 + 19, "ordinary", "PJSIP/caller-5", "", "acd-agent"),
]


def test_the_record_reads_held_bridged_and_hung_up_times(tmp_path: Path) -> None:
    calls = read_away_calls(cel_file(tmp_path, ROWS), since=T0 - 60)
    assert sorted(calls) == ["gave-up", "served", "still", "taken-back"]
    served = calls["served"]
    assert (served.held_at, served.bridged_at, served.peer, served.hung_up_at, served.hung_up_away) == (
        T0 + 1, T0 + 70, "PJSIP/agent1-0000002a", T0 + 100, True
    )
    assert calls["taken-back"].hung_up_away is False and calls["still"].hung_up_at is None
    (tmp_path / "empty").mkdir()
    assert read_away_calls(cel_file(tmp_path / "empty", []), since=0) == {}
    assert read_away_calls(tmp_path / "missing.sqlite", since=0) == {}


def test_ended_away_calls_become_queued_answered_completed_or_abandoned(tmp_path: Path) -> None:
    calls = read_away_calls(cel_file(tmp_path, ROWS), since=T0 - 60)
    events = away_events(calls.values(), "acd-fallback", {"PJSIP/agent1": "ana"}.get)
    got = [(e.type, e.call_id, e.ts - T0, e.agent_id) for e in events]
    assert got == [
        ("call.queued", "served", 1, None),
        ("call.answered", "served", 70, "ana"),
        ("call.completed", "served", 100, "ana"),
        ("call.queued", "gave-up", 5, None),
        ("call.abandoned", "gave-up", 45, None),
    ]
    assert {e.queue for e in events} == {"acd-fallback"} and all(e.data["reconciled"] == "away" for e in events)
    answered = next(e for e in events if e.type == "call.answered")
    assert answered.data["waited_s"] == 69 and next(e for e in events if e.type == "call.completed").data["talk_s"] == 30
    again = away_events(calls.values(), "acd-fallback", {"PJSIP/agent1": "ana"}.get)
    assert [e.id for e in again] == [e.id for e in events]  # read twice, stored once


async def test_the_reader_logs_each_call_once_and_never_one_an_engine_queued(tmp_path: Path) -> None:
    path = cel_file(tmp_path, ROWS)
    log: list[Event] = []
    queued = {"gave-up": {"call.queued"}}  # an earlier pass (or an engine) already logged it

    async def recorded(ids: list[str], types: tuple[str, ...], since: float) -> dict[str, set[str]]:
        return {call_id: queued[call_id] for call_id in ids if call_id in queued}

    reader = AwayCallsReader(path, "acd-fallback", {"PJSIP/agent1": "ana"}.get, recorded, log.append, clock=lambda: T0 + 200)
    assert await reader.scan() == 1
    assert {e.call_id for e in log} == {"served"}
    assert await reader.scan() == 0 and len(log) == 3


async def test_calls_from_before_the_event_log_began_are_not_taken_in(tmp_path: Path) -> None:
    """A new log (or a lab's CEL file shared by many runs) starts counting from its own beginning."""
    log: list[Event] = []

    async def recorded(ids: list[str], types: tuple[str, ...], since: float) -> dict[str, set[str]]:
        return {}

    async def began() -> float:
        return T0 + 3  # after "served" was first held (+1), before "gave-up" (+5)

    reader = AwayCallsReader(cel_file(tmp_path, ROWS), "acd-fallback", {}.get, recorded, log.append, clock=lambda: T0 + 200, first_recorded=began)
    assert await reader.scan() == 1 and {e.call_id for e in log} == {"gave-up"}


async def test_an_empty_event_log_begins_now(tmp_path: Path) -> None:
    log: list[Event] = []

    async def recorded(ids: list[str], types: tuple[str, ...], since: float) -> dict[str, set[str]]:
        return {}

    async def nothing_yet() -> None:
        return None

    reader = AwayCallsReader(cel_file(tmp_path, ROWS), "acd-fallback", {}.get, recorded, log.append, clock=lambda: T0 + 200, first_recorded=nothing_yet)
    assert await reader.scan() == 0 and log == []
