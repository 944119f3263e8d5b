"""``acd bench cps``: its accounting, proved on the real lab and on hand-made call records.

The lab test runs a short, low-rate benchmark (two small steps) and checks that every
call is in exactly one bucket and that sipp, the engine's SQLite event log and Asterisk
(its own AMI connection and CLI counters) agree call by call.  It proves the counting,
not the speed: the figures themselves are printed by ``acd bench cps``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from acd.bench.call_views import AstChannel, EngineCall, SippCall, sipp_calls
from acd.bench.cps_accounting import LOSS_STAGES, StepRun, account
from acd.bench.cps_bench import run_cps, summarise
from acd.bench.cps_lab import CpsLab, CpsOptions, caller_number


@pytest.mark.lab
async def test_short_cps_run_accounts_for_every_call_three_ways_with_none_lost(lab, tmp_path: Path) -> None:  # noqa: ANN001
    cps_lab = CpsLab(
        name=lab.name, sip_port=lab.sip_port, ami_port=lab.ami_port, agi_port=lab.agi_port,
        agent_port_base=lab.agent_port_base, agents=8, secret=lab.secret, env=lab.env,
    )
    options = CpsOptions(rates=(1.0, 2.0), hold_s=3.0, agents=4, talk_s=0.3)
    result = await run_cps(cps_lab, tmp_path / "cps", options)

    steps = result["steps"]
    assert [step["rate_cps"] for step in steps] == [1.0, 2.0], result.get("broke_at")
    for step in steps:
        planned = options.calls_in_step(step["rate_cps"])
        where = f"step {step['rate_cps']} cps (logs {step['sipp']['logs']})"
        # sipp: every planned call placed, every placed call completed, its own counters agree.
        assert step["planned"] == step["offered"] == step["completed"] == planned, where
        assert step["lost"] == 0 and step["failed_clearly"] == 0, where
        assert step["sipp"]["created"] == planned and step["sipp"]["successful"] == planned and step["sipp"]["failed"] == 0, where
        # The engine's event log: each call reached the IVR, was queued, answered and completed.
        engine = step["engine"]
        assert engine["reached_ivr"] == engine["queued"] == engine["answered"] == engine["completed"] == planned, where
        assert engine["abandoned"] == 0 and engine["ivr_errors"] == 0, where
        # Asterisk: one caller channel per call, queued (parked, or rung straight from the
        # IVR), answered by an agent, cleared normally, none left.
        asterisk = step["asterisk"]
        assert asterisk["calls_with_channel"] == asterisk["queued"] == asterisk["agent_answered"] == planned, where
        assert asterisk["calls_processed"] == planned, where
        assert asterisk["hangup_causes"] == {"16 Normal Clearing": planned}, where
        assert asterisk["active_channels_after"] == 0, where
        assert step["consistent"], step["disagreements"]
        assert step["sustained"], where
    assert result["sustained_cps"] == 2.0 and result["broke_at"] is None
    assert result["machine"]["cores"] >= 1


def _run(planned: list[str], sipp: dict[str, SippCall], successful: int, processed: int) -> StepRun:
    return StepRun(
        index=1, rate=2.0, planned=planned, sipp=sipp, sipp_successful=successful, sipp_failed=len(planned) - successful,
        sipp_created=len(planned), sipp_exit=1, sipp_logs="-", wall_s=4.0, engine_cpu_s=0.1, asterisk_cpu_s=0.1,
        sipp_callers_cpu_s=0.0, sipp_agents_cpu_s=0.0, calls_processed=processed, active_after=0,
    )


def _engine(*stages: str, start: float = 0.6, answered: float | None = None) -> EngineCall:
    return EngineCall(started_ts=start, seen=Counter(stages), waited_s=0.1 if answered else None, answered_ts=answered)


def test_a_call_neither_completed_nor_refused_is_lost_and_shows_how_far_it_got() -> None:
    numbers = [caller_number(1, index) for index in range(4)]
    sipp = {
        "1": SippCall(caller=numbers[0], invite_ts=0.0, invites_sent=1, final_code=200, bye_received=True),
        "2": SippCall(caller=numbers[1], invite_ts=0.5, invites_sent=1, final_code=503),
        "3": SippCall(caller=numbers[2], invite_ts=1.0, invites_sent=1, final_code=200),  # never got its BYE
        "4": SippCall(caller=numbers[3], invite_ts=1.5, invites_sent=3),  # Asterisk never answered
    }
    engine = {
        numbers[0]: _engine("call.started", "call.queued", "call.agent_ringing", "call.answered", "call.completed", answered=0.8),
        numbers[2]: _engine("call.started", "call.queued", start=1.6),
    }
    asterisk = {
        numbers[0]: [AstChannel(caller=numbers[0], parked=1, agent_answered=1, hangup_cause="16 Normal Clearing")],
        numbers[2]: [AstChannel(caller=numbers[2], parked=1, hangup_cause="16 Normal Clearing")],
    }
    step = account(_run(numbers, sipp, successful=1, processed=2), engine, asterisk, processed_before=0)

    assert (step["offered"], step["completed"], step["failed_clearly"], step["lost"]) == (4, 1, 1, 2)
    assert step["failures"] == {"SIP 503": 1}
    assert step["lost_at"] == {LOSS_STAGES[3]: 1, LOSS_STAGES[0]: 1}
    assert step["sipp"]["invite_retransmissions"] == 2
    assert step["engine"]["completed"] == 1 and step["asterisk"]["agent_answered"] == 1
    assert step["consistent"] and not step["sustained"]  # the views agree; the step still lost calls


def test_views_that_disagree_on_a_completed_call_make_the_step_inconsistent() -> None:
    number = caller_number(1, 0)
    sipp = {"1": SippCall(caller=number, invite_ts=0.0, invites_sent=1, final_code=200, bye_received=True)}
    engine = {number: _engine("call.started", "call.queued", "call.answered", answered=0.3)}  # no call.completed
    asterisk = {number: [AstChannel(caller=number, parked=1, agent_answered=1, hangup_cause="16 Normal Clearing")]}
    step = account(_run([number], sipp, successful=1, processed=1), engine, asterisk, processed_before=0)

    assert step["lost"] == 0 and step["completed"] == 1
    assert not step["consistent"] and "engine completed=False" in step["disagreements"][0]
    assert not step["sustained"]


def test_the_figure_is_the_last_rate_before_the_first_step_that_broke() -> None:
    def step(rate: float, sustained: bool, lost: int = 0) -> dict:  # type: ignore[type-arg]
        return {"rate_cps": rate, "sustained": sustained, "lost": lost, "failed_clearly": 0, "offered": 10, "planned": 10,
                "keeps_up": sustained, "answered_cps": None, "offered_cps_achieved": rate, "queue_wait_s": {"p99": None},
                "failures": {}, "lost_at": {}, "sipp": {"failed": 0, "invite_retransmissions": 0},
                "asterisk": {"hangup_causes": {}, "log_warnings": {}}, "engine": {"ivr_errors": 0}, "disagreements": []}

    lab = CpsLab(name="x", sip_port=1, ami_port=2, agi_port=3, agent_port_base=4, agents=8, secret="s", env={})
    result = summarise([step(2, True), step(4, False), step(8, False, lost=3)], CpsOptions(), lab, Path("/tmp"), 0)
    assert result["sustained_cps"] == 2 and result["broke_at"]["rate_cps"] == 4
    assert result["zero_lost_max_cps"] == 4  # 4 cps lost nothing (it only fell behind); 8 cps lost calls


def test_sipp_message_log_is_read_per_dialog() -> None:
    log = (
        "----------------------------------------------- 2026-11-21 15:44:17.724763\nUDP message sent (627 bytes):\n\n"
        'INVITE sip:300@127.0.0.1:16060 SIP/2.0\nFrom: "56901000000" <sip:caller@127.0.0.1:40602>;tag=1\n'
        "Call-ID: 1-20894@127.0.0.1\nCSeq: 1 INVITE\n\n"
        "----------------------------------------------- 2026-11-21 15:44:18.224763\nUDP message sent (627 bytes):\n\n"
        'INVITE sip:300@127.0.0.1:16060 SIP/2.0\nFrom: "56901000000" <sip:caller@127.0.0.1:40602>;tag=1\n'
        "Call-ID: 1-20894@127.0.0.1\nCSeq: 1 INVITE\n\n"
        "----------------------------------------------- 2026-11-21 15:44:18.727237\nUDP message received [743] bytes :\n\n"
        "SIP/2.0 200 OK\nCall-ID: 1-20894@127.0.0.1\nCSeq: 1 INVITE\n\n"
        "----------------------------------------------- 2026-11-21 15:44:20.000000\nUDP message received [400] bytes :\n\n"
        "BYE sip:caller@127.0.0.1:40602 SIP/2.0\nCall-ID: 1-20894@127.0.0.1\nCSeq: 2 BYE\n\n"
    )
    calls = sipp_calls(log)
    assert list(calls) == ["1-20894@127.0.0.1"]
    call = calls["1-20894@127.0.0.1"]
    assert (call.caller, call.invites_sent, call.final_code, call.completed) == ("56901000000", 2, 200, True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rates", "8,4"], "rates must increase"),
        (["--rates", "8,fast"], "expected numbers separated by commas"),
        (["--hold", "0"], "--hold"),
        (["--slot", "3", "--agents", "9"], "--agents: between 1 and 8"),
    ],
)
def test_bad_cps_options_are_refused_with_one_clear_line(arguments: list[str], message: str, capsys, monkeypatch) -> None:  # noqa: ANN001
    from acd.cli import main

    monkeypatch.delenv("ACD_TEST_LAB_SLOT", raising=False)
    assert main(["bench", "cps", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
