"""Recordings: expiry by age with a log line, duration of WAV files, find's error paths."""

from __future__ import annotations

import logging
import os
import time
import wave
from contextlib import closing
from pathlib import Path

import pytest

from acd.cli import main
from acd.features.recordings import purge_expired, wav_duration_s


def write_wav(path: Path, seconds: float) -> None:
    with closing(wave.open(str(path), "wb")) as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x10" * int(8000 * seconds))


def test_expired_recordings_are_removed_with_a_log_line_and_recent_ones_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old, recent = tmp_path / "1.1.wav", tmp_path / "2.2.wav"
    write_wav(old, 1)
    write_wav(recent, 1)
    now = time.time()
    os.utime(old, (now - 40 * 86400, now - 40 * 86400))
    os.utime(recent, (now - 5 * 86400, now - 5 * 86400))
    with caplog.at_level(logging.INFO, logger="acd.recordings"):
        removed = purge_expired(tmp_path, retention_days=30, now=now)
    assert removed == [old]
    assert not old.exists() and recent.exists()
    assert "recording 1.1.wav removed: older than 30 days" in caplog.text


def test_wav_duration_is_read_from_the_header_and_missing_files_are_none(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 2.5)
    assert wav_duration_s(tmp_path / "a.wav") == pytest.approx(2.5)
    assert wav_duration_s(tmp_path / "missing.wav") is None
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    assert wav_duration_s(tmp_path / "junk.wav") is None


def test_find_without_a_database_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recordings", "find", "--call", "1.1", "--db", str(tmp_path / "none.sqlite")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "none.sqlite" in err[0]


def test_find_rejects_a_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recordings", "find", "--number", "569", "--from", "yesterday", "--db", str(tmp_path / "x.sqlite")])
    assert code == 2 and "'yesterday' is not a date/time" in capsys.readouterr().err


def test_store_finished_compresses_to_opus_with_the_checksum_of_the_stored_file(tmp_path: Path) -> None:
    import hashlib

    from acd.features.recordings.storage import store_finished

    wav = tmp_path / "9.9.wav"
    write_wav(wav, 3)
    size = wav.stat().st_size
    data = store_finished(wav, 3.0, "opus")
    opus = tmp_path / "9.9.opus"
    assert not wav.exists() and opus.read_bytes()[:4] == b"OggS"
    assert data["codec"] == "opus" and data["wav_bytes"] == size and data["bytes"] == opus.stat().st_size < size / 4
    assert data["sha256"] == hashlib.sha256(opus.read_bytes()).hexdigest() and data["empty"] is False


def test_without_the_encoder_the_wav_is_kept_and_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from acd.features.recordings.storage import store_finished

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    wav = tmp_path / "9.8.wav"
    write_wav(wav, 1)
    with caplog.at_level(logging.WARNING, logger="acd.recordings"):
        data = store_finished(wav, 1.0, "opus")
    assert wav.exists() and data["codec"] == "wav" and "9.8.wav kept as WAV: opusenc failed" in caplog.text


async def test_a_header_only_recording_is_flagged_at_the_end_of_the_call(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from acd.base.events import Event
    from acd.features.recordings import RecordingTracker

    emitted: list[Event] = []
    tracker = RecordingTracker(folder=tmp_path, emit=emitted.append, settle_s=0.01, attempts=2, codec="opus")
    write_wav(tmp_path / "7.7.wav", 0)
    with caplog.at_level(logging.WARNING, logger="acd.recordings"):
        tracker.append(Event(type="call.completed", ts=1.0, call_id="7.7", agent_id="ana"))
        await tracker.close()
    [finished] = emitted
    assert finished.type == "recording.finished" and finished.data["empty"] is True and finished.data["duration_s"] == 0
    assert finished.data["codec"] == "wav"  # nothing to compress
    assert "recording 7.7.wav is empty" in caplog.text


def test_find_flags_a_header_only_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.recording_data import Recorded, seed

    seed(tmp_path, [Recorded("5.1", "56933330000", "ana", "q", time.time() - 60, seconds=2.0),
                    Recorded("5.2", "56933330000", "ana", "q", time.time() - 30, seconds=0.0)])
    (tmp_path / "acd.yaml").write_text("metrics: {database: acd.sqlite}\nrecording: {local_dir: recordings}\n")
    assert main(["recordings", "find", "--settings", str(tmp_path / "acd.yaml"), "--number", "56933330000"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith("5.2 ") and lines[0].endswith("5.2.wav  (empty)")
    assert lines[1].startswith("5.1 ") and lines[1].endswith("5.1.opus")
    assert "warning: 1 of 2 recording(s) are empty (no audio)" in err


async def test_a_recording_much_shorter_than_the_talk_is_flagged_truncated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from acd.base.events import Event
    from acd.features.recordings import RecordingTracker
    from acd.features.recordings.catalog import Search, rows_from

    emitted: list[Event] = []
    tracker = RecordingTracker(folder=tmp_path, emit=emitted.append, settle_s=0.01, attempts=2, codec="wav")
    write_wav(tmp_path / "8.1.wav", 2)  # 2 s of a 30 s conversation
    write_wav(tmp_path / "8.2.wav", 29)  # a whole one
    with caplog.at_level(logging.WARNING, logger="acd.recordings"):
        for call_id in ("8.1", "8.2"):
            tracker.append(Event(type="call.answered", ts=100.0, call_id=call_id, agent_id="ana", queue="q"))
            tracker.append(Event(type="call.completed", ts=130.0, call_id=call_id, agent_id="ana"))
        await tracker.close()
    finished = {e.call_id: e.data for e in emitted if e.type == "recording.finished"}
    assert finished["8.1"]["truncated"] is True and finished["8.1"]["talk_s"] == 30.0
    assert "truncated" not in finished["8.2"]
    assert "recording for call 8.1 is truncated: 2.0 s of a 30.0 s conversation" in caplog.text
    rows = {r.call_id: r.flags for r in rows_from(emitted, tmp_path, Search())}
    assert rows == {"8.1": ["truncated"], "8.2": []}


def test_purge_without_a_retention_keeps_everything_until_the_contract_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "rec" / "1.1.opus"
    old.parent.mkdir()
    old.write_bytes(b"OggS")
    os.utime(old, (time.time() - 4000 * 86400,) * 2)
    (tmp_path / "acd.yaml").write_text("recording: {local_dir: rec}\n")
    assert main(["recordings", "purge", "--settings", str(tmp_path / "acd.yaml")]) == 0
    assert "kept until the contract ends" in capsys.readouterr().out and old.exists()
    (tmp_path / "acd.yaml").write_text("recording: {local_dir: rec, retention_days: 30}\n")
    assert main(["recordings", "purge", "--settings", str(tmp_path / "acd.yaml")]) == 0
    assert "removed 1 recording(s) older than 30 days" in capsys.readouterr().out and not old.exists()
