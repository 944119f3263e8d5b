"""The fault harness's counting (acd.bench.fault_views), fed made-up sipp, AMI and engine records.

Each done-when figure must count the failure it names, and only that: a fault that
loses nothing must come out all zero, and each kind of damage must show with its caller,
its agent and the fault it followed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from acd.bench.call_views import EngineCall, SippCall
from acd.bench.fault_views import (
    AgentDialog,
    AmiLedger,
    Injection,
    KindRun,
    account,
    agent_dialogs,
    endpoint_of,
    totals,
)

T0 = 1_000_000.0


class Script:
    """A small Asterisk: writes AMI events into a ledger with readable calls."""

    def __init__(self) -> None:
        self.ledger = AmiLedger()
        self.count = 0

    def event(self, ts: float, **fields: str) -> None:
        self.ledger.handle(fields, T0 + ts)

    def caller(self, ts: float, number: str) -> str:
        uid = f"c-{number}"
        self.event(ts, Event="Newchannel", Channel=f"PJSIP/caller-{number}", Uniqueid=uid, CallerIDNum=number)
        return uid

    def park(self, ts: float, uid: str) -> None:
        self.event(ts, Event="UserEvent", UserEvent="AcdParked", Uniqueid=uid)

    def ring(self, ts: float, uid: str, agent: int) -> str:
        self.count += 1
        dest = f"a-{self.count}"
        channel = f"PJSIP/agent{agent}-{self.count:08x}"
        self.event(ts, Event="Newchannel", Channel=channel, Uniqueid=dest, CallerIDNum=str(agent))
        self.event(ts, Event="DialBegin", Uniqueid=uid, DestChannel=channel, DestUniqueid=dest)
        return dest

    def answer(self, ts: float, uid: str, dest: str, agent: int) -> None:
        self.event(ts, Event="Newstate", Uniqueid=dest, ChannelState="6")
        self.event(ts, Event="DialEnd", Uniqueid=uid, DestChannel=f"PJSIP/agent{agent}-x", DestUniqueid=dest, DialStatus="ANSWER")

    def hangup(self, ts: float, uid: str, cause: str = "16") -> None:
        self.event(ts, Event="Hangup", Uniqueid=uid, Cause=cause, **{"Cause-txt": "Normal Clearing"})


def served(number: str) -> EngineCall:
    return EngineCall(seen=Counter({"call.started": 1, "call.queued": 1, "call.agent_ringing": 1, "call.answered": 1, "call.completed": 1}))


def make_run(script: Script, calls: dict[str, tuple[float, int | None]], dialogs: list[AgentDialog], engine: dict[str, EngineCall],
             agents: list[dict[str, Any]] | None = None, report: dict[str, Any] | None = None, injections: list[Injection] | None = None) -> KindRun:
    sipp = {f"id-{number}": SippCall(caller=number, invite_ts=T0 + at, invites_sent=1, final_code=code, bye_received=True)
            for number, (at, code) in calls.items()}
    return KindRun(
        kind="kill9", planned=list(calls), sipp=sipp, dialogs=dialogs, ledger=script.ledger, engine=engine,
        agents=agents if agents is not None else [{"id": "a1", "endpoint": "PJSIP/agent1", "state": "available"}],
        report_total=report, injections=injections if injections is not None else [Injection(1, "kill9", T0 + 5)], started_ts=T0,
    )


def clean_call(script: Script, number: str, start: float, agent: int) -> AgentDialog:
    uid = script.caller(start, number)
    script.park(start + 1, uid)
    dest = script.ring(start + 1.5, uid, agent)
    script.answer(start + 2, uid, dest, agent)
    script.hangup(start + 5, dest)
    script.hangup(start + 5, uid)
    return AgentDialog(f"agent{agent}", f"d-{number}", number, T0 + start + 1.5, T0 + start + 2, T0 + start + 5)


def test_a_fault_that_harmed_nothing_counts_all_zero() -> None:
    script = Script()
    dialogs = [clean_call(script, "56901000000", 0, 1), clean_call(script, "56901000001", 6, 1)]
    report = {"offered": 2, "answered": 2, "abandoned": 0, "waiting": 0}
    run = make_run(script, {"56901000000": (0, 200), "56901000001": (6, 200)}, dialogs,
                   {n: served(n) for n in ("56901000000", "56901000001")}, report=report)
    figures = account(run)
    assert (figures["lost"], figures["double_rings"], figures["connected_twice"], figures["wrong_states"]) == (0, 0, 0, 0)
    assert figures["report_drift"]["drift"] == {"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0}
    assert figures["ok"] and figures["placed"] == 2
    assert figures["details"]["engine_record_mismatches"] == []


def test_a_caller_hung_up_by_the_dialplan_while_the_engine_was_away_is_lost_after_that_fault() -> None:
    script = Script()
    uid = script.caller(6, "56901000009")
    script.hangup(9, uid)
    run = make_run(script, {"56901000009": (6, 200)}, [], {}, report={"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0})
    figures = account(run)
    assert figures["lost"] == 1 and not figures["ok"]
    lost = figures["details"]["lost"][0]
    assert lost["caller"] == "56901000009" and lost["after_fault"] == 1
    assert "without reaching the engine" in lost["why"]
    # sipp: one caller entered and left without an agent; the report never saw it.
    assert figures["report_drift"]["drift"] == {"offered": -1, "answered": 0, "abandoned": -1, "waiting": 0}


def test_a_clear_sip_failure_is_not_a_lost_caller() -> None:
    run = make_run(Script(), {"56901000003": (1, 503)}, [], {}, report={"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0})
    assert account(run)["lost"] == 0


def test_ringing_an_agent_who_is_talking_is_a_double_ring_seen_by_ami_and_the_phone() -> None:
    script = Script()
    talking = script.caller(0, "56901000001")
    busy = script.ring(1.5, talking, 3)
    script.answer(2, talking, busy, 3)  # agent3 talks from t=2 to t=5
    uid = script.caller(1, "56901000002")
    script.park(2, uid)
    dest = script.ring(3, uid, 3)  # rung while talking
    script.hangup(5, busy)
    script.hangup(5, talking)
    script.answer(6, uid, dest, 3)
    script.hangup(8, uid)
    first = AgentDialog("agent3", "d1", "56901000001", T0 + 1.5, T0 + 2, T0 + 5)
    second = AgentDialog("agent3", "d2", "56901000002", T0 + 3, T0 + 6, T0 + 8)
    run = make_run(script, {"56901000001": (0, 200), "56901000002": (1, 200)}, [first, second],
                   {n: served(n) for n in ("56901000001", "56901000002")}, injections=[Injection(1, "restart", T0 + 2.5)])
    figures = account(run)
    assert figures["double_rings"] == 1 and figures["double_rings_phone_view"] == 1
    ring = figures["details"]["double_rings"][0]
    assert ring == {"agent": "PJSIP/agent3", "caller": "56901000002", "at": "t+3.00s", "after_fault": 1,
                    "agent_talking_with": "56901000001", "talking_since": "t+2.00s", "phone_log_agrees": True}
    assert figures["connected_twice"] == 0


def test_ringing_an_agent_again_after_the_call_ended_is_not_a_double_ring() -> None:
    script = Script()
    dialogs = [clean_call(script, "56901000001", 0, 2), clean_call(script, "56901000002", 4, 2)]  # second rings at 5.5, first hung up at 5
    run = make_run(script, {"56901000001": (0, 200), "56901000002": (4, 200)}, dialogs, {n: served(n) for n in ("56901000001", "56901000002")})
    figures = account(run)
    assert figures["double_rings"] == 0 and figures["double_rings_phone_view"] == 0


def test_a_caller_answered_by_two_agents_is_connected_twice() -> None:
    script = Script()
    uid = script.caller(0, "56901000004")
    dest = script.ring(1, uid, 1)
    script.answer(2, uid, dest, 1)
    dest2 = script.ring(8, uid, 2)  # pulled out of the conversation after a missed answer
    script.answer(9, uid, dest2, 2)
    script.hangup(12, uid)
    dialogs = [AgentDialog("agent1", "d1", "56901000004", T0 + 1, T0 + 2, T0 + 8), AgentDialog("agent2", "d2", "56901000004", T0 + 8, T0 + 9, T0 + 12)]
    run = make_run(script, {"56901000004": (0, 200)}, dialogs, {"56901000004": served("56901000004")})
    figures = account(run)
    assert figures["connected_twice"] == 1
    twice = figures["details"]["connected_twice"][0]
    assert twice["caller"] == "56901000004" and twice["view"] == "AMI" and twice["after_fault"] == 1
    assert twice["answers"] == ["PJSIP/agent1 at t+2.00s", "PJSIP/agent2 at t+9.00s"]


def test_agents_not_available_at_the_end_are_in_a_wrong_state() -> None:
    script = Script()
    agents = [
        {"id": "a1", "endpoint": "PJSIP/agent1", "state": "available"},
        {"id": "a2", "endpoint": "PJSIP/agent2", "state": "paused", "reason": "no-answer", "call_id": None},
        {"id": "a3", "endpoint": "PJSIP/agent3", "state": "on_call", "reason": "", "call_id": "c-9"},
    ]
    figures = account(make_run(script, {}, [], {}, agents=agents, report={"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0}))
    assert figures["wrong_states"] == 2
    assert [(item["agent"], item["state"], item["phone_channel_up"]) for item in figures["details"]["wrong_states"]] == [
        ("a2", "paused", False), ("a3", "on_call", False)]
    silent = replace(make_run(script, {}, [], {}, report={}), agents=None)
    assert account(silent)["wrong_states"] == 1  # the API did not answer: not a pass


def test_an_answer_the_engine_missed_shows_as_report_drift_and_names_the_call() -> None:
    script = Script()
    dialog = clean_call(script, "56901000005", 0, 1)
    engine = {"56901000005": EngineCall(seen=Counter({"call.started": 1, "call.queued": 1, "call.agent_ringing": 1, "call.abandoned": 1}))}
    run = make_run(script, {"56901000005": (0, 200)}, [dialog], engine, report={"offered": 1, "answered": 0, "abandoned": 1, "waiting": 0})
    figures = account(run)
    assert figures["report_drift"]["drift"] == {"offered": 0, "answered": -1, "abandoned": 1, "waiting": 0}
    assert not figures["ok"] and figures["lost"] == 0
    mismatch = figures["details"]["engine_record_mismatches"][0]
    assert mismatch["caller"] == "56901000005"
    assert mismatch["problems"] == ["answered by an agent, no call.answered in the engine's log", "answered by an agent, logged call.abandoned"]


def test_a_failed_report_is_drift_not_a_pass() -> None:
    script = Script()
    dialog = clean_call(script, "56901000006", 0, 1)
    figures = account(make_run(script, {"56901000006": (0, 200)}, [dialog], {"56901000006": served("56901000006")}, report=None))
    assert figures["report_drift"]["drift"] is None and not figures["ok"]
    assert totals([figures])["drifted_kinds"] == 1


def test_ledger_states_follow_a_caller_from_ivr_to_talking() -> None:
    script = Script()
    uid = script.caller(0, "56901000007")
    assert script.ledger.states() == {"ivr": 1, "hold": 0, "ringing": 0, "talking": 0}
    script.park(1, uid)
    assert script.ledger.states()["hold"] == 1
    dest = script.ring(2, uid, 4)
    assert script.ledger.states()["ringing"] == 1
    script.answer(3, uid, dest, 4)
    assert script.ledger.states()["talking"] == 1
    script.hangup(4, uid)
    assert script.ledger.active_callers() == 0
    assert endpoint_of("PJSIP/agent12-0000001a") == "PJSIP/agent12"


AGENT_LOG = """\
----------------------------------------------- 2026-03-02 10:00:00.100000
UDP message received [500] bytes :

INVITE sip:agent2@127.0.0.1:15082 SIP/2.0
From: "56901000008" <sip:56901000008@127.0.0.1>;tag=abc
Call-ID: d-8
CSeq: 102 INVITE

----------------------------------------------- 2026-03-02 10:00:01.100000
UDP message sent (300 bytes):

SIP/2.0 200 OK
Call-ID: d-8
CSeq: 102 INVITE

----------------------------------------------- 2026-03-02 10:00:04.100000
UDP message sent (300 bytes):

BYE sip:x@127.0.0.1 SIP/2.0
Call-ID: d-8
CSeq: 2 BYE

----------------------------------------------- 2026-03-02 10:00:05.000000
UDP message received [300] bytes :

OPTIONS sip:agent2@127.0.0.1:15082 SIP/2.0
Call-ID: opt-1
CSeq: 5 OPTIONS

"""


def test_agent_phone_log_gives_caller_answer_and_end_times() -> None:
    dialogs = agent_dialogs("agent2", AGENT_LOG)
    assert len(dialogs) == 1  # the OPTIONS is not a call
    dialog = dialogs[0]
    assert (dialog.agent, dialog.call_id, dialog.caller) == ("agent2", "d-8", "56901000008")
    assert dialog.answered_ts is not None and dialog.invite_ts is not None and dialog.ended_ts is not None
    assert round(dialog.answered_ts - dialog.invite_ts, 3) == 1.0 and round(dialog.ended_ts - dialog.invite_ts, 3) == 4.0


def test_bad_options_are_one_clear_line_and_exit_2_before_any_lab_starts(capsys) -> None:  # noqa: ANN001
    from acd.cli import main

    assert main(["bench", "faults", "--kinds", "ami-drop,reboot"]) == 2
    assert "--kinds: choose among ami-drop, freeze, kill9, restart (got reboot)" in capsys.readouterr().err
    assert main(["bench", "faults", "--slot", "12"]) == 2
    assert "--slot must be between 0 and 9" in capsys.readouterr().err
