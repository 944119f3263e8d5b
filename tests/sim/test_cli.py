"""``acd simulate``: the acd report table (or JSON) for a scenario; bad input is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd.cli import main
from tests.sim.conftest import MULTI_SKILL_YAML, fcfs_yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def routing(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(MULTI_SKILL_YAML)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["simulate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_acd_report_table_for_the_simulated_day(capsys: pytest.CaptureFixture[str], routing: Path) -> None:
    code, out, err = run(
        capsys, "--routing", str(routing), "--hours", "3", "--calls-per-hour", "billing=60", "--calls-per-hour", "tech=30",
        "--aht", "150", "--aht", "tech=200", "--patience", "90", "--interval", "30", "--by", "queue",
    )
    assert code == 0, err
    assert err == ""  # no progress bar when stderr is not a terminal
    lines = out.splitlines()
    assert lines[0].startswith(f"acd simulate {routing}: seed 1, 2026-01-05T08:00:00-03:00 .. 2026-01-05T11:00:00-03:00")
    assert "billing 60 calls/h AHT 150 s; tech 30 calls/h AHT 200 s" in lines[1]
    assert any(line.startswith("acd report 2026-01-05T08:00:00-03:00 .. 2026-01-05T11:00:00-03:00") for line in lines)
    rows = [line for line in lines if line.startswith("2026-01-05 ")]
    assert len(rows) == 6  # six half hours
    assert any(line.startswith("TOTAL") for line in lines)


def test_json_holds_the_scenario_and_the_report(capsys: pytest.CaptureFixture[str], routing: Path) -> None:
    code, out, _ = run(capsys, "--routing", str(routing), "--hours", "2", "--calls-per-hour", "billing=80", "--aht", "120", "--seed", "4", "--json")
    assert code == 0
    data = json.loads(out)
    simulation, report = data["simulation"], data["report"]
    assert simulation["seed"] == 4 and simulation["queues"]["billing"]["calls_per_hour"] == 80
    assert simulation["ignored_by_router"] == 0
    assert report["total"]["offered"] == simulation["calls_simulated"] > 100
    assert report["interval"] == "60" and len(report["intervals"]) == 2
    assert set(report["total"]) >= {"service_level", "abandonment_rate", "asa_s", "aht_s", "occupancy"}


def test_same_seed_prints_the_same_bytes(capsys: pytest.CaptureFixture[str], routing: Path) -> None:
    argv = ["--routing", str(routing), "--hours", "2", "--calls-per-hour", "billing=90", "--aht", "100", "--patience", "60", "--seed", "3"]
    first = run(capsys, *argv)
    second = run(capsys, *argv)
    other = run(capsys, *argv[:-1], "4")
    assert first == second
    assert other[1] != first[1]


def test_forecast_drives_the_rate_per_interval(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(fcfs_yaml(30))
    forecast = tmp_path / "monday.csv"
    forecast.write_text("interval_start,calls,aht\n2026-03-02T09:00,400,120\n2026-03-02T09:30,0,120\n2026-03-02T10:00,100,240\n")
    code, out, err = run(capsys, "--routing", str(tmp_path / "one.yaml"), "--forecast", str(forecast), "--interval", "30", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["report"]["from"] == "2026-03-02T09:00:00-03:00" and data["report"]["to"] == "2026-03-02T10:30:00-03:00"
    offered = [row["offered"] for row in data["report"]["intervals"]]
    assert abs(offered[0] - 400) < 100 and offered[1] == 0 and abs(offered[2] - 100) < 50
    assert data["simulation"]["queues"]["q"]["source"] == f"forecast {forecast}"


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str], routing: Path) -> None:
    code, _, err = run(capsys, "--routing", str(routing), "--hours", "1", "--calls-per-hour", "billing=60", "--aht", "100", "--progress")
    assert code == 0
    assert "simulating [" in err and "100.0%" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hours", "1", "--calls-per-hour", "billing=-5", "--aht", "100"], "--calls-per-hour billing must be a number >= 0"),
        (["--hours", "1", "--calls-per-hour", "nosuch=5", "--aht", "100"], "unknown queue 'nosuch'"),
        (["--hours", "1", "--calls-per-hour", "5", "--aht", "100"], "must name its queue as QUEUE=5"),
        (["--hours", "1", "--calls-per-hour", "billing=5"], "queue 'billing' has calls but no handle time"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "0"], "--aht must be a number > 0"),
        (["--hours", "x", "--calls-per-hour", "billing=5", "--aht", "9"], "--hours 'x' is not a number"),
        (["--calls-per-hour", "billing=5", "--aht", "9"], "--hours H is required"),
        (["--hours", "1"], "no traffic"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--aht-dist", "lognormal"], "needs --aht-sd"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--answer-delay", "10"], "ring_timeout_s"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--login", "ghost"], "unknown agent 'ghost'"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--seed", "-1"], "--seed must be a whole number"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--interval", "7"], "--interval '7'"),
        (["--hours", "1", "--calls-per-hour", "billing=5", "--aht", "9", "--patience", "nan"], "--patience must be a number > 0"),
        (["--forecast", "billing=/nonexistent.csv"], "/nonexistent.csv: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], routing: Path, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "--routing", str(routing), *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("acd simulate: error: ")
    assert message in err
    assert "Traceback" not in err


def test_a_bad_routing_file_is_one_line_with_its_position(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("skills: [s]\nqueues:\n  - {name: q, skills: [s], ring_timeout_s: 0}\n  - {name: r, skills: [s], wrap_up_s: -1}\n")
    code, _, err = run(capsys, "--routing", str(bad), "--hours", "1", "--calls-per-hour", "q=5", "--aht", "9")
    assert code == 2 and err.count("\n") == 1
    assert f"{bad}:" in err and "more problem" in err
    code, _, err = run(capsys, "--routing", str(tmp_path / "missing.yaml"), "--hours", "1", "--calls-per-hour", "q=5", "--aht", "9")
    assert code == 2 and "file not found" in err and err.count("\n") == 1


def test_the_shipped_routing_file_simulates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--routing", str(REPO / "deploy" / "routing.yaml"), "--hours", "1",
        "--calls-per-hour", "compradores=40", "--calls-per-hour", "proveedores=20", "--aht", "200", "--answer-delay", "3",
    )
    assert code == 0, err
    assert "TOTAL" in out


def test_without_routing_the_settings_routing_file_is_simulated(capsys: pytest.CaptureFixture[str], routing: Path, tmp_path: Path) -> None:
    settings = tmp_path / "acd.yaml"
    settings.write_text(f"routing: {{config: {routing.name}}}\n")
    code, out, err = run(capsys, "--settings", str(settings), "--hours", "1", "--calls-per-hour", "billing=30", "--aht", "100")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"acd simulate {routing}: seed 1")
    settings.write_text("routing: {config: 3, bogus: 1}\n")
    code, _, err = run(capsys, "--settings", str(settings), "--hours", "1", "--calls-per-hour", "9", "--aht", "100")
    assert code == 2 and "acd.yaml:1:" in err and "bogus" in err and "Traceback" not in err
