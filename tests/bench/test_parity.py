"""``acd bench parity``: the figures both sides are measured by, on hand-made sipp logs.

The lab test (tests/lab/test_parity_e2e.py) proves both sides run and are counted; these
prove the arithmetic: a dispatch sample needs a caller already waiting, a retransmitted
INVITE is one call, the ACD's queue gets app_queue's wrap-up and ring time-out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.bench.parity import ParityOptions, order, summarise, table
from acd.bench.parity_lab import PeerQueue, peer_queue, routing_text
from acd.bench.parity_views import AgentCall, agent_calls, answered_per_second, dispatch_latencies, waits

REPO = Path(__file__).resolve().parents[2]


def entry(clock: str, direction: str, first_line: str, call_id: str, cseq: str, caller: str = "56901000000") -> str:
    return (
        f"----------------------------------------------- 2026-12-02 {clock}\n"
        f"UDP message {direction} [100] bytes :\n\n"
        f"{first_line}\nVia: SIP/2.0/UDP 127.0.0.1:16060\nFrom: <sip:{caller}@127.0.0.1>;tag=x\nTo: <sip:agent1@127.0.0.1>\n"
        f"Call-ID: {call_id}\nCSeq: {cseq}\nContent-Length: 0\n\n"
    )


def test_agent_timeline_from_sipp_log_counts_a_retransmitted_invite_once() -> None:
    log = "".join([
        entry("10:00:00.000000", "received", "INVITE sip:agent1@127.0.0.1 SIP/2.0", "c1", "5 INVITE"),
        entry("10:00:00.500000", "received", "INVITE sip:agent1@127.0.0.1 SIP/2.0", "c1", "5 INVITE"),  # retransmission
        entry("10:00:00.600000", "sent", "SIP/2.0 200 OK", "c1", "5 INVITE"),
        entry("10:00:01.000000", "received", "OPTIONS sip:agent1@127.0.0.1 SIP/2.0", "q1", "7 OPTIONS"),
        entry("10:00:01.600000", "sent", "BYE sip:asterisk@127.0.0.1 SIP/2.0", "c1", "2 BYE"),
        entry("10:00:01.700000", "received", "INVITE sip:agent1@127.0.0.1 SIP/2.0", "c2", "9 INVITE", caller="56901000001"),
    ])
    calls = agent_calls("agent1", log)
    assert [call.caller for call in calls] == ["56901000000", "56901000001"]
    first, second = calls
    assert first.answer_ts is not None and first.end_ts is not None
    assert round(first.answer_ts - first.invite_ts, 3) == 0.6 and round(first.end_ts - first.invite_ts, 3) == 1.6
    assert second.answer_ts is None and second.end_ts is None


def test_dispatch_sample_only_when_a_caller_was_already_waiting() -> None:
    calls = [
        AgentCall("agent1", "a", invite_ts=0.0, answer_ts=0.1, end_ts=1.0),
        AgentCall("agent1", "b", invite_ts=1.25, answer_ts=1.3, end_ts=2.0),  # b waited since 0.5: 0.25 - wrap-up 0.1
        AgentCall("agent1", "c", invite_ts=5.0, answer_ts=5.1, end_ts=6.0),  # c came at 4.9: the agent was idle, no sample
        AgentCall("agent2", "d", invite_ts=0.2, answer_ts=0.3, end_ts=None),  # never ended: nothing follows from it
    ]
    joined = {"a": 0.0, "b": 0.5, "c": 4.9, "d": 0.2}
    samples = dispatch_latencies(calls, joined, wrap_up_s=0.1)
    assert [round(sample, 3) for sample in samples] == [0.15]
    assert sorted(round(wait, 3) for wait in waits(calls, joined)) == [0.1, 0.1, 0.2, 0.8]
    assert answered_per_second(calls, first_invite_ts=0.0) == pytest.approx(4 / 5.1)
    assert answered_per_second([], first_invite_ts=0.0) is None


def test_acd_queue_gets_app_queues_wrap_up_and_ring_timeout_from_the_labs_queues_conf() -> None:
    queue = peer_queue((REPO / "deploy" / "asterisk" / "etc" / "queues.conf").read_text())
    assert queue.strategy == "leastrecent" and queue.ringinuse is False
    text = routing_text(3, queue)
    assert f"wrap_up_s: {queue.wrap_up_s:g}" in text and f"ring_timeout_s: {queue.ring_timeout_s:g}" in text
    assert text.count("endpoint: PJSIP/agent") == 3
    with pytest.raises(ValueError, match=r"no \[acd-parity\]"):
        peer_queue("[other]\nstrategy = ringall\n")
    with pytest.raises(ValueError, match="lacks wrapuptime"):
        peer_queue("[acd-parity]\nstrategy = leastrecent\nringinuse = no\ntimeout = 5 ; ring\n")


def test_runs_alternate_and_each_side_goes_first_as_often() -> None:
    assert order(2) == [(0, "app_queue"), (0, "acd"), (1, "acd"), (1, "app_queue")]
    assert ParityOptions(rates=(), agents=99, repeats=0).problems(16) == [
        "--rates: one or more calls-per-second figures, each in (0, 1000)", "--agents: between 1 and 16 for this lab", "--repeats: between 1 and 20",
    ]


def test_summary_takes_medians_per_side_and_ratios_acd_over_app_queue() -> None:
    def run(side: str, asterisk: float, engine: float, p99: float, lost: int) -> dict:
        return {
            "side": side, "rate_cps": 10.0, "lost": lost, "failed": 0, "asterisk_cpu_ms_per_call": asterisk, "engine_cpu_ms_per_call": engine,
            "total_cpu_ms_per_call": asterisk + engine, "dispatch_ms": {"p50": p99 / 2, "p99": p99}, "wait_s": {"p50": 1.0},
            "answered_cps": 8.0, "engine_idle_cpu_pct": 0.2 if side == "acd" else None, "load_average": asterisk / 2,
            "ami_events_per_call": 30.0 if side == "acd" else 40.0,
        }

    runs = [run("app_queue", 10, 0, 700, 0), run("acd", 9, 2, 20, 0), run("acd", 11, 2, 30, 1), run("app_queue", 12, 0, 720, 0)]
    from acd.bench.cps_lab import CpsLab

    lab = CpsLab("t", 1, 2, 3, 4, 8, "s", {})
    result = summarise(runs, ParityOptions(rates=(10.0,)), PeerQueue("leastrecent", False, 10, 0), lab)
    row = result["rates"][0]
    assert row["acd"]["total_cpu_ms_per_call"] == 12 and row["app_queue"]["total_cpu_ms_per_call"] == 11
    assert row["acd"]["lost"] == 1 and row["app_queue"]["lost"] == 0
    assert row["acd_over_app_queue"]["total_cpu_ms_per_call"] == round(12 / 11, 2)
    assert row["acd_over_app_queue"]["dispatch_p99_ms"] == round(25 / 710, 2)
    assert row["acd_over_app_queue"]["engine_cpu_ms_per_call"] is None  # app_queue has no engine
    assert row["acd_over_app_queue"]["ami_events_per_call"] == 0.75
    assert "AMI ev/call" in table(result)
    assert result["machine"]["cores"] >= 1
    assert "load average (1 min) at the end of each run: 4.5–6 on" in table(result)


def test_one_side_alone_runs_only_that_side_and_reports_no_ratio() -> None:
    assert order(3, ("acd",)) == [(0, "acd"), (1, "acd"), (2, "acd")]
    assert ParityOptions(sides=("acd", "acd")).problems(16) == ["--sides: any of app_queue, acd, wire, each once"]
    assert ParityOptions(sides=("asterisk",)).problems(16) == ["--sides: any of app_queue, acd, wire, each once"]
    assert ParityOptions(sides=()).problems(16) == ["--sides: any of app_queue, acd, wire, each once"]
    assert ParityOptions(sides=("acd",)).problems(16) == []
    run = {
        "side": "acd", "rate_cps": 20.0, "lost": 0, "failed": 0, "asterisk_cpu_ms_per_call": 16.0, "engine_cpu_ms_per_call": 4.0,
        "total_cpu_ms_per_call": 20.0, "dispatch_ms": {"p50": None, "p99": None}, "wait_s": {"p50": 0.1}, "answered_cps": 18.0,
        "engine_idle_cpu_pct": 0.1, "load_average": 1.0, "ami_events_per_call": 12.0,
    }
    from acd.bench.cps_lab import CpsLab

    lab = CpsLab("t", 1, 2, 3, 4, 8, "s", {})
    result = summarise([run, {**run, "engine_cpu_ms_per_call": 3.0}], ParityOptions(rates=(20.0,), sides=("acd",)), PeerQueue("leastrecent", False, 10, 0), lab)
    row = result["rates"][0]
    assert set(row) == {"rate_cps", "acd"} and row["acd"]["engine_cpu_ms_per_call"] == 3.5
    shown = table(result)
    assert " acd " in shown and "app_queue" not in shown.split("\n", 3)[3] and "acd/aq" not in shown
    assert "engine idle CPU (no calls): 0.1 %" in shown


def test_the_wire_side_is_compared_with_app_queue_beside_acd_and_both_idle_figures_show() -> None:
    assert order(2, ("wire", "app_queue", "acd")) == [
        (0, "app_queue"), (0, "acd"), (0, "wire"), (1, "wire"), (1, "acd"), (1, "app_queue"),
    ]
    assert ParityOptions(sides=("app_queue", "wire")).problems(16) == []

    def run(side: str, asterisk: float, engine: float) -> dict:
        return {
            "side": side, "rate_cps": 20.0, "lost": 0, "failed": 0, "asterisk_cpu_ms_per_call": asterisk, "engine_cpu_ms_per_call": engine,
            "total_cpu_ms_per_call": asterisk + engine, "dispatch_ms": {"p50": None, "p99": None}, "wait_s": {"p50": 0.1},
            "answered_cps": 18.0, "engine_idle_cpu_pct": {"acd": 0.1, "wire": 0.0}.get(side), "load_average": 1.0,
            "ami_events_per_call": 12.0 if side != "app_queue" else 17.0,
        }

    from acd.bench.cps_lab import CpsLab

    lab = CpsLab("t", 1, 2, 3, 4, 8, "s", {})
    runs = [run("app_queue", 14.0, 0.0), run("acd", 14.0, 3.5), run("wire", 14.0, 0.7)]
    result = summarise(runs, ParityOptions(rates=(20.0,), sides=("app_queue", "acd", "wire")), PeerQueue("leastrecent", False, 10, 0), lab)
    row = result["rates"][0]
    assert row["acd_over_app_queue"]["total_cpu_ms_per_call"] == 1.25
    assert row["wire_over_app_queue"]["total_cpu_ms_per_call"] == 1.05
    shown = table(result)
    assert " wire " in shown and "wire/aq" in shown and "acd/aq" in shown
    assert "engine idle CPU (no calls): 0.1 %, 0 % of one core" in shown


def test_wake_ups_count_the_sleeps_of_every_live_thread_and_none_for_no_process() -> None:
    import os
    import threading
    import time

    from acd.bench.cps_lab import wake_ups

    napped, release = threading.Event(), threading.Event()

    def napper() -> None:
        for _ in range(30):
            time.sleep(0.001)  # each sleep is one voluntary context switch
        napped.set()
        release.wait()  # stay alive, so its count is still there to read

    before = wake_ups(os.getpid())
    thread = threading.Thread(target=napper)
    thread.start()
    napped.wait(5)
    try:
        assert before is not None and wake_ups(os.getpid()) >= before + 30
    finally:
        release.set()
        thread.join()
    assert wake_ups(None) is None and wake_ups(2**22 + 12345) is None
