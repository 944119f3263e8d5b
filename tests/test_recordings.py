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
