"""Recording on the real lab: a connected call leaves a WAV named by call id with real audio."""

from __future__ import annotations

import array
import asyncio
import json
import math
import wave
from contextlib import closing

import pytest

from acd.cli import main
from acd.lab.sipp import Audio, AwaitHangup
from tests.lab.acd_fixtures import running_app, wait_for

pytestmark = pytest.mark.lab


def peak_and_rms(path) -> tuple[int, float]:  # noqa: ANN001
    """Loudness of a 16-bit WAV: speech has a high peak and RMS, silence has neither."""
    with closing(wave.open(str(path), "rb")) as handle:
        assert handle.getsampwidth() == 2
        samples = array.array("h", handle.readframes(handle.getnframes()))
    peak = max((abs(s) for s in samples), default=0)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return peak, rms


async def test_connected_call_is_recorded_with_audio_and_found_by_call_and_number(lab, sipp, tmp_path, capsys) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=4, audio=True)
        caller = await sipp.start_callers("caller", [Audio(), AwaitHangup(30)], calls=[("300", "56977770000")])
        finished = await wait_for(sink, lambda e: e.type == "recording.finished", 30)
        started = next(e for e in sink.events if e.type == "recording.started")
        results = [await ana.wait(10), await caller.wait(10)]
    path = lab.recordings_dir / f"{finished.call_id}.wav"
    assert finished.data["path"] == started.data["path"] == str(path)
    assert path.exists()
    assert 3.0 <= finished.data["duration_s"] <= 6.0
    peak, rms = peak_and_rms(path)
    assert peak > 1000 and rms > 100, (peak, rms)  # speech, not silence
    assert all(r.ok for r in results), [r.describe() for r in results]

    for selector in (["--call", finished.call_id], ["--number", "56977770000"]):
        code = await asyncio.to_thread(
            main, ["recordings", "find", *selector, "--db", str(tmp_path / "acd.sqlite"), "--settings", str(tmp_path / "acd.yaml"), "--json"]
        )
        rows = json.loads(capsys.readouterr().out)
        assert code == 0
        assert [(r["call_id"], r["caller"], r["exists"]) for r in rows] == [(finished.call_id, "*******0000", True)]  # the number masked
