"""``acd bench parity`` on the real lab: every side runs, every call is counted on each.

A short overload (one agent phone, calls arriving faster than it can take them), so
callers wait on both sides and dispatch latency has samples.  It proves the plumbing and
the counting (app_queue's Queue() and the engine as its own process, the same callers),
not the figures: those are printed by ``acd bench parity``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.bench.cps_lab import CpsLab
from acd.bench.parity import ParityOptions, run_parity


@pytest.mark.lab
async def test_short_parity_run_counts_both_sides_with_none_lost(lab, tmp_path: Path) -> None:  # noqa: ANN001
    cps_lab = CpsLab(
        name=lab.name, sip_port=lab.sip_port, ami_port=lab.ami_port, agi_port=lab.agi_port,
        agent_port_base=lab.agent_port_base, agents=8, secret=lab.secret, env=lab.env,
    )
    options = ParityOptions(rates=(3.0,), hold_s=2.0, agents=1, talk_s=0.3, repeats=1, idle_s=1.0, sides=("app_queue", "acd", "wire"))
    result = await run_parity(cps_lab, tmp_path / "parity", options)

    runs = {run["side"]: run for run in result["runs"]}
    assert set(runs) == {"acd", "app_queue", "wire"}  # wire: the acd side's conversation alone, parking and redirecting too
    for side, run in runs.items():
        where = f"{side} (logs {run['logs']})"
        assert run["planned"] == run["placed"] == run["completed"] == run["queued"] == 6, where
        assert run["lost"] == 0 and run["failed"] == 0, where
        assert run["asterisk_cpu_ms_per_call"] is not None and run["asterisk_cpu_ms_per_call"] > 0, where
        assert run["ami_events_per_call"] is not None and run["ami_events_per_call"] > 0, where
        assert run["dispatch_ms"]["samples"] >= 3, where  # the single agent freed while callers waited
        assert run["wait_s"]["p50"] is not None and run["answered_cps"] is not None, where
    assert runs["acd"]["engine_cpu_ms_per_call"] > 0 and runs["app_queue"]["engine_cpu_ms_per_call"] == 0
    # the same dialplan path, so about the same work asked of Asterisk
    assert runs["wire"]["engine_cpu_ms_per_call"] is not None and abs(runs["wire"]["ami_events_per_call"] - runs["acd"]["ami_events_per_call"]) <= 1.5
    assert runs["acd"]["engine_idle_cpu_pct"] is not None
    # each call wakes the engine at least for its FastAGI session and its AMI events
    assert runs["acd"]["engine_wakeups_per_call"] >= 3 and runs["app_queue"]["engine_wakeups_per_call"] is None
    row = result["rates"][0]
    assert row["acd_over_app_queue"]["total_cpu_ms_per_call"] is not None
    assert row["wire_over_app_queue"]["total_cpu_ms_per_call"] is not None
    assert result["machine"]["cores"] >= 1
