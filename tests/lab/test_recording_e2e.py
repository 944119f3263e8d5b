"""Recording on the real lab: a connected call leaves a recording named by call id with real audio,
compressed to Ogg Opus after the call with its checksum, found by call and number (CLI) and by
number and agent in the console, which serves it with HTTP Range and audits the play."""

from __future__ import annotations

import array
import asyncio
import hashlib
import json
import math
import subprocess
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
    wav = lab.recordings_dir / f"{finished.call_id}.wav"
    path = lab.recordings_dir / f"{finished.call_id}.opus"
    assert started.data["path"] == str(wav) and finished.data["path"] == str(path)
    assert path.exists() and not wav.exists()  # compressed after the call, the WAV removed
    assert finished.data["codec"] == "opus" and finished.data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert finished.data["bytes"] < finished.data["wav_bytes"] / 4 and finished.data["empty"] is False
    assert 3.0 <= finished.data["duration_s"] <= 6.0
    decoded = tmp_path / "decoded.wav"
    subprocess.run(["opusdec", "--quiet", "--rate", "8000", str(path), str(decoded)], check=True)
    peak, rms = peak_and_rms(decoded)
    assert peak > 1000 and rms > 100, (peak, rms)  # speech survived the compression, not silence
    assert all(r.ok for r in results), [r.describe() for r in results]

    for selector in (["--call", finished.call_id], ["--number", "56977770000"]):
        code = await asyncio.to_thread(
            main, ["recordings", "find", *selector, "--db", str(tmp_path / "acd.sqlite"), "--settings", str(tmp_path / "acd.yaml"), "--json"]
        )
        rows = json.loads(capsys.readouterr().out)
        assert code == 0
        assert [(r["call_id"], r["caller"], r["exists"]) for r in rows] == [(finished.call_id, "*******0000", True)]  # the number masked

    await asyncio.to_thread(_console_finds_and_serves, tmp_path, finished.call_id, path.read_bytes())


def _console_finds_and_serves(folder, call_id: str, stored: bytes) -> None:  # noqa: ANN001
    """The console on the same settings: found by number and agent, played with Range, audited."""
    from fastapi.testclient import TestClient

    from acd.accounts.store import AccountStore
    from acd.settings import load_settings
    from acd.web.app import create_app
    from tests.recording_data import around_now

    settings = load_settings(folder / "acd.yaml", environ={})
    store = AccountStore(folder / "accounts.sqlite")
    store.add("vera", "Vera", "viewer", "una-clave-larga-1")
    _t, token = store.issue_token("vera", "lab")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, accounts=store), base_url="http://127.0.0.1") as client:
        page = client.get("/recordings", params={"number": "+56 9 7777 0000", "agent": "ana", **around_now()}, headers=auth).text
        assert f'data-call="{call_id}" data-flags=""' in page
        part = client.get(f"/recordings/{call_id}/audio", headers={**auth, "Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == stored[:100] and part.headers["content-type"] == "audio/ogg"
    assert [(e.who, e.target) for e in store.audit_entries(action="recordings.play")] == [("vera", call_id)]
