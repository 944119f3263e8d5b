"""Calls the previous engine left open are closed from Asterisk's CEL record (acd.dispatch.reconcile).

The CEL file here has the schema ``deploy/asterisk/etc/cel_sqlite3_custom.conf`` gives
Asterisk; the lab test (tests/lab/test_faults_e2e.py, kill9) reads the one Asterisk writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from acd.base.events import Event
from acd.dispatch.reconcile import CEL_EVENTS_READ, CEL_TABLE, ChannelRecord, closing_events, open_calls, queued_events, queueings_lost, read_cel, recovered_calls

T0 = 1_750_000_000.0
REPO = Path(__file__).resolve().parents[1]


def ev(type_: str, ts: float, call_id: str, **data: object) -> Event:
    agent = data.pop("agent", None)
    return Event(type=type_, ts=ts, call_id=call_id, agent_id=agent, queue="general", data=data)  # type: ignore[arg-type]


def cel_file(tmp_path: Path, rows: list[tuple]) -> Path:
    """Rows of (eventtype, eventtime, uniqueid, channame, peer[, userfield])."""
    path = tmp_path / "cel.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {CEL_TABLE} (eventtype, eventtime, uniqueid, channame, peer, context, userfield)")
        # as cel_sqlite3_custom writes them: every value text, eventtime too
        db.executemany(f"INSERT INTO {CEL_TABLE} VALUES (?, ?, ?, ?, ?, 'x', ?)", [(row[0], f"{row[1]:.6f}" if isinstance(row[1], float) else row[1], *row[2:], "")[:6] for row in rows])
    return path


def test_open_calls_are_those_queued_and_not_ended() -> None:
    events = [
        ev("call.queued", T0, "a", wait_origin=T0 - 3),
        ev("call.queued", T0, "b", wait_origin=T0),
        ev("call.answered", T0 + 5, "b", agent="ana"),
        ev("call.queued", T0, "c", wait_origin=T0),
        ev("call.abandoned", T0 + 9, "c"),
        ev("call.queued", T0, "d", wait_origin=T0),
        ev("call.answered", T0 + 2, "d", agent="ana"),
        ev("call.completed", T0 + 9, "d", agent="ana"),
    ]
    calls = open_calls(events)
    assert sorted(calls) == ["a", "b"]
    assert calls["a"].wait_origin == T0 - 3 and calls["a"].answered_at is None
    assert (calls["b"].answered_at, calls["b"].agent_id) == (T0 + 5, "ana")


def test_cel_closes_answered_completed_and_abandoned_calls_at_their_real_times(tmp_path: Path) -> None:
    path = cel_file(
        tmp_path,
        [
            ("BRIDGE_ENTER", T0 + 4, "a", "PJSIP/caller-1", ""),  # answered while the engine was down; first into the bridge
            ("BRIDGE_ENTER", T0 + 4, "leg-a", "PJSIP/agent1-0000002a", "PJSIP/caller-1"),  # the agent's entry names the caller
            ("HANGUP", T0 + 30, "a", "PJSIP/caller-1", ""),
            ("HANGUP", T0 + 20, "b", "PJSIP/caller-2", ""),  # answered before the kill, ended after it
            ("HANGUP", T0 + 7, "c", "PJSIP/caller-3", ""),  # hung up waiting
            ("BRIDGE_ENTER", T0 + 3, "e", "PJSIP/caller-5", "PJSIP/agent1-0000003a"),  # still talking
        ],
    )
    events = [ev("call.queued", T0, call_id, wait_origin=T0) for call_id in "abcdeg"] + [ev("call.answered", T0 + 5, "b", agent="bruno")]
    calls = open_calls(events)
    records = read_cel(path, calls)
    assert records["e"] == ChannelRecord(T0 + 3, "PJSIP/agent1-0000003a", None)
    closing = closing_events(calls, records, {"PJSIP/agent1": "ana"}.get, now=T0 + 100)
    got = [(e.type, e.call_id, e.ts, e.agent_id, e.data.get("reconciled")) for e in closing]
    assert ("call.answered", "a", T0 + 4, "ana", "cel") in got
    assert ("call.completed", "a", T0 + 30, "ana", "cel") in got
    assert ("call.completed", "b", T0 + 20, "bruno", "cel") in got
    assert ("call.abandoned", "c", T0 + 7, None, "cel") in got
    assert ("call.abandoned", "d", T0 + 100, None, "no-record") in got  # no trace: closed as of now
    assert not [g for g in got if g[1] == "e"]  # still bridged: not over
    [completed] = [e for e in closing if e.type == "call.completed" and e.call_id == "a"]
    assert completed.data["talk_s"] == 26
    [answered] = [e for e in closing if e.type == "call.answered"]
    assert answered.data["waited_s"] == 4


def test_a_missing_or_broken_cel_file_reads_as_no_record(tmp_path: Path) -> None:
    assert read_cel(tmp_path / "none.sqlite", ["a"]) == {}
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all" * 100)
    assert read_cel(broken, ["a"]) == {}
    odd = cel_file(tmp_path, [("HANGUP", "inf", "a", "x", ""), ("HANGUP", "soon", "b", "x", "")])  # type: ignore[list-item]
    assert read_cel(odd, ["a", "b"]) == {"a": ChannelRecord(None, "", None), "b": ChannelRecord(None, "", None)}


def test_a_call_whose_queueing_was_never_written_is_recovered_from_the_hold_mark(tmp_path: Path) -> None:
    """Killed in its last batch: the log has only call.started; acd-hold's CEL userfield says it waited."""
    path = cel_file(
        tmp_path,
        [
            ("BRIDGE_ENTER", T0 + 9, "lost", "PJSIP/caller-1", "", f"general|{T0 + 2}"),  # answered while no engine ran
            ("BRIDGE_ENTER", T0 + 9, "leg", "PJSIP/agent1-0000002a", "PJSIP/caller-1"),
            ("HANGUP", T0 + 20, "lost", "PJSIP/caller-1", "", f"general|{T0 + 2}"),
            ("HANGUP", T0 + 4, "ivr-only", "PJSIP/caller-2", ""),  # hung up in the IVR: never waited
        ],
    )
    events = [ev("call.started", T0, "lost"), ev("call.started", T0, "ivr-only"), ev("call.started", T0, "held"),
              ev("call.started", T0, "done"), ev("call.queued", T0 + 1, "done", wait_origin=T0 + 1)]
    lost = queueings_lost(events, held=lambda call_id: call_id == "held")
    assert lost == {"lost", "ivr-only"}
    records = read_cel(path, lost)
    assert (records["lost"].queue, records["lost"].wait_origin) == ("general", T0 + 2)
    recovered = recovered_calls(records, lost)
    assert list(recovered) == ["lost"]
    closing = queued_events(recovered) + closing_events(recovered, records, {"PJSIP/agent1": "ana"}.get, T0 + 100)
    assert [(e.type, e.ts - T0, e.agent_id, e.queue) for e in closing] == [
        ("call.queued", 2, None, "general"), ("call.answered", 9, "ana", "general"), ("call.completed", 20, "ana", "general"),
    ]
    assert closing[1].data["waited_s"] == 7 and all(e.data["reconciled"] == "cel" for e in closing)


def test_asterisk_logs_exactly_the_cel_events_the_engine_reads() -> None:
    # Every CEL event costs Asterisk a SQLite row (journal, fsyncs) on every call: one
    # nobody reads is pure cost, one missing breaks reconcile or the away calls.
    settings = {
        key.strip(): value.strip() for key, _, value in (
            line.partition("=") for line in (REPO / "deploy" / "asterisk" / "etc" / "cel.conf").read_text().splitlines()
            if "=" in line and not line.lstrip().startswith(";")
        )
    }
    assert {name.strip() for name in settings["events"].split(",")} == CEL_EVENTS_READ
    sources = "".join((REPO / "src" / "acd" / "dispatch" / name).read_text() for name in ("reconcile.py", "away_calls.py"))
    assert all(f"'{name}'" in sources or f"``{name}``" in sources for name in CEL_EVENTS_READ)
