"""``acd bench soak`` prints the CPU the engine spent per call (with its in-process fake
Asterisk), counted only while calls play: sampling and garbage collection are left out."""

from __future__ import annotations

from pathlib import Path

from acd.bench.soak import Traffic, describe, run_soak


async def test_soak_reports_cpu_per_call_while_calls_play(tmp_path: Path) -> None:
    result = await run_soak(0.1, Traffic(cps=2.0, talk_s=(5.0, 25.0)), warmup_hours=0.05, sample_every_h=0.02, trace=False, work=tmp_path)
    assert result.calls > 500
    # some CPU per call, and less than the whole run's wall time spread over the calls
    assert 0 < result.cpu_ms_per_call < result.wall_s * 1000 / result.calls
    assert 0 < result.cpu_s < result.wall_s
    assert result.as_dict()["cpu_ms_per_call"] == round(result.cpu_ms_per_call, 3)
    assert f"CPU per call: {result.cpu_ms_per_call:.2f} ms" in describe(result)
