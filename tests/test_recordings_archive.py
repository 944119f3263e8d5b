"""End of contract on a scratch folder: export -> verify -> erase, with the evidence report."""

from __future__ import annotations

import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from acd.cli import main
from tests.recording_data import Recorded, seed, write_wav

NOW = time.time()
CALLS = [
    Recorded("1720000001.1", "56911110001", "ana", "soporte", NOW - 7200, seconds=3.0),
    Recorded("1720000002.2", "56911110002", "bruno", "ventas", NOW - 3600, seconds=2.0),
    Recorded("1720000003.3", "56911110003", "carla", "soporte", NOW - 60, seconds=0.0),
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    seed(tmp_path, CALLS)
    write_wav(tmp_path / "recordings" / "orphan-1.wav", 1.0)  # a file the event log does not know
    (tmp_path / "recordings" / "9.9.opus.part").write_bytes(b"OggS" + bytes(500))  # an interrupted compression: audio too
    (tmp_path / "acd.yaml").write_text("site: lab\nmetrics: {database: acd.sqlite}\nrecording: {local_dir: recordings}\n")
    return tmp_path


def run(*args: str) -> int:
    return main(["recordings", *args])


def test_export_verify_erase_round_trip(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = str(site / "acd.yaml")
    folder = site / "recordings"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"1720000001.1.opus", "1720000002.2.opus", "1720000003.3.wav", "orphan-1.wav", "9.9.opus.part"}
    archive = site / "out" / "handover.tar"
    archive.parent.mkdir()
    assert run("export", "--settings", settings, "--to", str(archive)) == 0
    out = capsys.readouterr().out
    assert "5 recordings" in out and "2 not in the event log" in out and "verified" in out
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert sorted(tar.getnames()) == ["manifest.json", *sorted(f"recordings/{n}" for n in before)]
    entry = next(e for e in manifest["entries"] if e["file"] == "1720000001.1.opus")
    assert (entry["call"], entry["agent"], entry["queue"], entry["caller"]) == ("1720000001.1", "ana", "soporte", "*******0001")
    assert entry["checksum_at_call_end"] == entry["sha256"] and entry["changed_since_call"] is False
    assert next(e for e in manifest["entries"] if e["file"] == "orphan-1.wav")["call"] is None
    assert run("export", "--verify", str(archive)) == 0
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the recordings: owner-only
    assert run("export", "--settings", settings, "--to", str(archive)) == 1  # never overwrites
    capsys.readouterr()

    # a dry run erases nothing
    assert run("erase", "--settings", settings, "--archive", str(archive)) == 0
    assert "would erase 5 of 5" in capsys.readouterr().out and len(list(folder.iterdir())) == 5

    # a file changed after the export is kept; a hard link shows the others were overwritten before unlinking
    (folder / "orphan-1.wav").write_bytes(b"changed")
    os.link(folder / "1720000001.1.opus", site / "witness")
    assert run("erase", "--settings", settings, "--archive", str(archive), "--yes", "--report-dir", str(site / "evidence")) == 0
    out = capsys.readouterr().out
    assert "erased 4 recordings" in out and "orphan-1.wav: kept: changed since the export" in out
    assert sorted(p.name for p in folder.iterdir()) == ["orphan-1.wav"]
    witness = (site / "witness").read_bytes()
    assert len(witness) == len(before["1720000001.1.opus"]) and witness != before["1720000001.1.opus"]
    [report_path] = (site / "evidence").glob("erase-report-*.json")
    report = json.loads(report_path.read_text())
    assert report["erased"] == 4 and report["archive_sha256"] in (archive.parent / "handover.tar.sha256").read_text()
    assert report["recordings_left_in_folder"] == ["orphan-1.wav"] and "random bytes" in report["method"]
    assert {f["file"]: f["result"] for f in report["files"]}["1720000002.2.opus"] == "erased"


def test_a_tampered_archive_does_not_verify_and_erases_nothing(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = str(site / "acd.yaml")
    archive = site / "handover.tar"
    assert run("export", "--settings", settings, "--to", str(archive)) == 0
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = tar.getmember("recordings/1720000001.1.opus")
    data[member.offset_data + 100] ^= 0xFF  # one byte of one recording
    archive.write_bytes(bytes(data))
    capsys.readouterr()
    assert run("export", "--verify", str(archive)) == 1
    out = capsys.readouterr().out
    assert "recordings/1720000001.1.opus: SHA-256" in out and "differs from handover.tar.sha256" in out
    assert run("erase", "--settings", settings, "--archive", str(archive), "--yes") == 1
    assert "does not verify; nothing erased" in capsys.readouterr().err
    assert len(list((site / "recordings").iterdir())) == 5


def test_verify_of_a_missing_or_foreign_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("export", "--verify", str(tmp_path / "none.tar")) == 1
    assert capsys.readouterr().err.strip() == f"acd recordings export: {tmp_path / 'none.tar'}: no such archive"
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    assert run("export", "--verify", str(tmp_path / "junk.tar")) == 1
    assert "unreadable" in capsys.readouterr().err


def test_usage_reports_files_and_days_left(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("usage", "--settings", str(site / "acd.yaml"), "--json") == 0
    found = json.loads(capsys.readouterr().out)
    sizes = sum(p.stat().st_size for p in (site / "recordings").iterdir())
    sizes -= (site / "recordings" / "9.9.opus.part").stat().st_size  # not a recording (yet): not counted
    assert found["files"] == 4 and found["bytes"] == sizes and found["daily_bytes"] == round(sizes / 7)
    assert found["days_left"] == pytest.approx(found["free_bytes"] / (sizes / 7), rel=0.01)
