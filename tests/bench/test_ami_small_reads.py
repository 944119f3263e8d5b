"""``acd bench ami-small-reads``: prints JSON with MB/s per piece size and the scaling ratio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd.cli import main


def test_bench_frames_every_event_at_every_piece_size_and_prints_json(capsys: pytest.CaptureFixture[str], mini_recording: Path) -> None:
    code = main(["bench", "ami-small-reads", "--recording", str(mini_recording), "--repeat", "1"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    events = result["stream_events"]
    assert [item["piece_bytes"] for item in result["by_piece"]] == [1, 7, 64, 1460, 65536]
    assert all(item["blocks"] == events and item["mb_per_s"] > 0 for item in result["by_piece"])
    scaling = result["scaling"]
    assert [size["message_bytes"] > 0 for size in scaling["sizes"]] == [True, True]
    assert scaling["largest_to_smallest_time_per_byte"] > 0
    assert set(result["machine"]) >= {"cpu", "cores", "python"}


def test_a_missing_recording_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["bench", "ami-small-reads", "--recording", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nope" in err
