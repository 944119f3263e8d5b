"""``acd bench ami-ingest`` plumbing on a tiny recording: JSON shape, every fact handled (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd.asterisk.ami import AmiMessage
from acd.bench.ami_ingest import expected_facts, percentile_ms
from acd.bench.ami_recording import read_recording
from acd.bench.ami_replay import SENT_HEADER, prepare
from acd.cli import main

PHASE_KEYS = {
    "mode", "offered_rate", "events", "facts", "expected_facts", "seconds", "events_per_s", "facts_per_s",
    "latency_ms", "parsed_events", "dropped_events", "ignored_by_dispatcher", "router_events_emitted",
    "client_cpu_s", "events_per_client_cpu_s",
}


def test_only_the_events_the_acd_reads_are_stamped(mini_recording: Path) -> None:
    recording = read_recording(mini_recording)
    prepared = prepare(zip(recording.events, recording.offsets))
    stamped = [head for head, needs in prepared if needs]
    assert len(stamped) == 10  # per call: AcdParked, DialBegin, DialEnd and two Hangups
    assert all(head.endswith(SENT_HEADER + b": ") for head in stamped)
    plain = [head for head, needs in prepared if not needs]
    untouched = [block + b"\r\n\r\n" for block in recording.events if not block.startswith((b"Event: UserEvent", b"Event: Dial", b"Event: Hangup"))]
    assert plain == untouched and len(plain) == 7  # FullyBooted, Newchannel, VarSet, Newexten: byte for byte


def test_expected_facts_counts_what_translate_turns_into_facts(mini_recording: Path) -> None:
    assert expected_facts(read_recording(mini_recording)) == 10  # 5 per call: parked, leg, answer, 2 hang-ups


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    samples = [i * 1_000_000 for i in range(1, 101)]
    assert percentile_ms(samples, 0.5) == 50.0 and percentile_ms(samples, 0.99) == 99.0 and percentile_ms(samples, 1.0) == 100.0
    assert percentile_ms([], 0.5) is None


def test_bench_replays_into_the_real_path_and_prints_json(capsys: pytest.CaptureFixture[str], mini_recording: Path) -> None:
    code = main(["bench", "ami-ingest", "--recording", str(mini_recording), "--burst-events", "100", "--rates", "400",
                 "--phase-seconds", "0.2", "--what-if"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert set(data) == {"recording", "burst", "paced", "goal", "machine", "what_if_panoramisk_parser"}
    assert set(data["machine"]) == {"platform", "python", "cpu", "cores"}
    assert data["recording"]["events_per_pass"] == 17 and data["recording"]["facts_per_pass"] == 10
    burst = data["burst"]
    assert set(burst) == PHASE_KEYS and burst["mode"] == "burst"
    assert burst["events"] == 17 * 6  # whole passes: 100 events -> 6 passes
    assert burst["parsed_events"] == burst["events"] and burst["dropped_events"] == 0
    assert burst["facts"] == burst["expected_facts"] == 60
    assert burst["latency_ms"]["samples"] == 60
    assert burst["ignored_by_dispatcher"] == 0
    assert burst["router_events_emitted"] > 6 * 2 * 4  # queued, ringing, answered, completed per call at least
    [paced] = data["paced"]
    assert paced["mode"] == "paced" and paced["offered_rate"] == 400 and paced["facts"] == paced["expected_facts"]
    assert burst["client_cpu_s"] > 0 and burst["events_per_client_cpu_s"] > 0
    what_if = data["what_if_panoramisk_parser"]  # the old parser feeds the same facts
    assert what_if["burst"]["facts"] == 60 and what_if["burst"]["parsed_events"] == burst["events"]
    assert set(data["goal"]) == {"events_per_s", "p99_ms", "burst_events_per_s", "p99_ms_at_goal_rate", "events_per_s_met", "p99_met"}
    assert "ami-ingest: burst" in captured.err


def test_a_missing_recording_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["bench", "ami-ingest", "--recording", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no such file" in err


def test_bad_rates_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], mini_recording: Path) -> None:
    code = main(["bench", "ami-ingest", "--recording", str(mini_recording), "--rates", "fast"])
    err = capsys.readouterr().err
    assert code == 2 and "--rates" in err and err.count("\n") == 1


def test_a_parked_event_becomes_a_fact_through_translate() -> None:
    from acd.asterisk.call_control import Parked, translate

    fact = translate(AmiMessage({"Event": "UserEvent", "UserEvent": "AcdParked", "CallId": "1.2", "Queue": "ventas", "Channel": "X", "WaitOrigin": "5.0", "Priority": ""}))
    assert isinstance(fact, Parked) and fact.queue == "ventas" and fact.wait_origin == 5.0


def test_router_timers_follow_the_recorded_timeline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Call B parks while the only agent wraps up call A; live, the wrap-up timer fires and
    rings her before Asterisk reports the dial.  The replay must do the same, or the
    answer for B would be ignored."""
    from acd.bench.ami_recording import write_recording
    from tests.bench.conftest import T0, call

    routing = (
        "timezone: America/Santiago\nskills: [ventas]\nqueues:\n  - {name: ventas, skills: [ventas], wrap_up_s: 1, ring_timeout_s: 10}\n"
        "agents:\n  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {ventas: 9}}\n"
    )
    items = call(f"{T0:.0f}.11", f"{T0:.0f}.12", "PJSIP/caller-01", T0 + 1.0)  # agent leg ends at 10.0: wrap-up to 11.0
    items += call(f"{T0:.0f}.21", f"{T0:.0f}.22", "PJSIP/caller-02", T0 + 10.6)  # parks at 10.9, dial at 11.1
    raw = b"".join(block + b"\r\n\r\n" for block, _ in items)
    write_recording(tmp_path, "wrap", raw, [at - T0 for _, at in items], {"started_at": T0}, routing)
    code = main(["bench", "ami-ingest", "--recording", str(tmp_path / "wrap"), "--burst-events", "16", "--rates", "200", "--phase-seconds", "0.05"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    for phase in [data["burst"], *data["paced"]]:
        assert phase["facts"] == 10 and phase["ignored_by_dispatcher"] == 0
