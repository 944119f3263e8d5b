"""``acd staffing`` end to end through ``acd.cli.main``."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

from acd.cli import main
from acd.planning.erlang import erlang_a, required_agents

BASE = ["staffing", "--calls", "100", "--interval-seconds", "1800", "--aht", "180"]
FORECAST = """interval_start,calls,aht
2024-05-06T08:00:00+02:00,40,180
2024-05-06T08:30:00+02:00,100,180
2024-05-06T09:00:00+02:00,164.5,205
2024-05-06T09:30:00+02:00,0,240
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def forecast_file(tmp_path: Path) -> Path:
    path = tmp_path / "monday.csv"
    path.write_text(FORECAST, encoding="utf-8")
    return path


def test_required_agents_as_json_has_exactly_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *BASE, "--threshold", "20", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert set(data) == {"agents", "service_level", "p_wait", "asa_seconds", "occupancy", "traffic_erlangs"}
    assert data["agents"] == 13
    assert data["traffic_erlangs"] == pytest.approx(10.0)
    assert data["p_wait"] == pytest.approx(0.2853, abs=5e-5)


def test_shrinkage_and_patience_add_their_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--patience", "120", "--shrinkage", "0.3", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "agents",
        "service_level",
        "p_wait",
        "asa_seconds",
        "occupancy",
        "traffic_erlangs",
        "abandonment_rate",
        "scheduled_agents",
    }
    expected = required_agents(100, 1800, 180, 25, 0.75, shrinkage=0.3, patience_s=120, max_abandonment=0.05)
    assert data["agents"] == expected.agents
    assert data["scheduled_agents"] == expected.scheduled_agents
    assert data["abandonment_rate"] == pytest.approx(expected.abandonment_rate, rel=1e-12)


def test_given_agents_reports_their_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--agents", "11", "--patience", "90", "--format", "json")
    assert code == 0
    data = json.loads(out)
    fig = erlang_a(11, 10.0, 180, 90, 25)
    assert data["agents"] == 11
    assert data["service_level"] == pytest.approx(fig.service_level, rel=1e-12)
    assert data["asa_seconds"] == pytest.approx(fig.asa_seconds, rel=1e-12)


def test_unstable_agents_give_null_asa_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--agents", "9", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["asa_seconds"] is None
    assert data["service_level"] == 0.0


def test_table_output_reads_like_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--threshold", "20", "--patience", "120", "--max-abandonment", "0.05", "--shrinkage", "0.3")
    assert code == 0
    assert "agents required        13" in out
    assert "agents scheduled       19" in out
    assert "abandonment" in out
    assert "Erlang C, same agents" in out


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--target", "1.5"], "--target"),
        (["--target", "0"], "--target"),
        (["--target", "-0.2"], "--target"),
        (["--target", "1"], "--target"),
        (["--calls", "-5"], "--calls"),
        (["--calls", "lots"], "--calls"),
        (["--calls", "nan"], "--calls"),
        (["--aht", "0"], "--aht"),
        (["--aht", "-180"], "--aht"),
        (["--interval-seconds", "0"], "--interval-seconds"),
        (["--threshold", "-1"], "--threshold"),
        (["--shrinkage", "1"], "--shrinkage"),
        (["--shrinkage", "-0.1"], "--shrinkage"),
        (["--max-occupancy", "0"], "--max-occupancy"),
        (["--max-occupancy", "1.01"], "--max-occupancy"),
        (["--patience", "0"], "--patience"),
        (["--agents", "0"], "--agents"),
        (["--agents", "2.5"], "--agents"),
        (["--max-abandonment", "0.05"], "--patience"),
        (["--json", "--format", "csv"], "--json"),
        (["--format", "xml"], "--format"),
        (["--agents", "5", "--patience", "1e9"], "patience"),
        (["--chart", "x.png"], "--chart"),
    ],
)
def test_bad_parameters_exit_2_with_one_clear_line(capsys: pytest.CaptureFixture[str], extra: list[str], option: str) -> None:
    # later occurrences of an option override the valid ones in BASE
    code, out, err = run(capsys, *BASE, *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("acd staffing: error: ")
    assert option in err
    assert "Traceback" not in err


def test_missing_inputs_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "staffing", "--calls", "100")
    assert code == 2
    assert "--interval-seconds" in err and "--aht" in err


def test_forecast_as_csv_has_one_row_per_interval(capsys: pytest.CaptureFixture[str], forecast_file: Path) -> None:
    code, out, err = run(capsys, "staffing", "--forecast", str(forecast_file), "--format", "csv", "--shrinkage", "0.3")
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["interval_start"] for r in rows] == [
        "2024-05-06T08:00:00+02:00",
        "2024-05-06T08:30:00+02:00",
        "2024-05-06T09:00:00+02:00",
        "2024-05-06T09:30:00+02:00",
    ]
    assert rows[1]["agents"] == "13" and rows[1]["scheduled_agents"] == "19"
    assert rows[3]["agents"] == "0"
    assert float(rows[1]["service_level"]) >= 0.75


def test_forecast_as_json_matches_one_off_runs(capsys: pytest.CaptureFixture[str], forecast_file: Path) -> None:
    code, out, _ = run(capsys, "staffing", "--forecast", str(forecast_file), "--json", "--patience", "150", "--interval-seconds", "1800")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 4
    third = required_agents(164.5, 1800, 205, 25, 0.75, patience_s=150, max_abandonment=0.05)
    assert rows[2]["agents"] == third.agents
    assert rows[2]["abandonment_rate"] == pytest.approx(third.abandonment_rate, rel=1e-12)
    assert set(rows[0]) == {
        "interval_start",
        "calls",
        "aht_seconds",
        "agents",
        "service_level",
        "p_wait",
        "asa_seconds",
        "occupancy",
        "traffic_erlangs",
        "abandonment_rate",
    }


def test_forecast_table_lists_every_interval(capsys: pytest.CaptureFixture[str], forecast_file: Path) -> None:
    code, out, _ = run(capsys, "staffing", "--forecast", str(forecast_file))
    assert code == 0
    assert out.count("2024-05-06T") == 4
    assert "peak" in out


def test_malformed_forecast_reports_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("start,calls,aht\n2024-05-06T08:00,10,180\n2024-05-06T08:30,10,-3\n", encoding="utf-8")
    code, out, err = run(capsys, "staffing", "--forecast", str(path))
    assert code == 2
    assert out == ""
    assert err == f"acd staffing: error: {path}:3: AHT '-3' must be a positive number of seconds\n"


def test_forecast_cannot_be_mixed_with_single_interval_inputs(capsys: pytest.CaptureFixture[str], forecast_file: Path) -> None:
    code, _, err = run(capsys, "staffing", "--forecast", str(forecast_file), "--calls", "10")
    assert code == 2
    assert "--calls" in err


def test_chart_is_a_png_rendered_headless(capsys: pytest.CaptureFixture[str], forecast_file: Path, tmp_path: Path) -> None:
    assert importlib.util.find_spec("matplotlib") is not None, "matplotlib must be installed for tests: it is in the [test] extra"
    chart = tmp_path / "plan.png"
    code, _, err = run(capsys, "staffing", "--forecast", str(forecast_file), "--shrinkage", "0.3", "--chart", str(chart))
    assert (code, err) == (0, "")
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    from matplotlib.image import imread

    assert imread(chart).shape[:2] == (450, 1000)


def test_chart_without_matplotlib_fails_cleanly_before_output(
    capsys: pytest.CaptureFixture[str], forecast_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    chart = tmp_path / "plan.png"
    code, out, err = run(capsys, "staffing", "--forecast", str(forecast_file), "--chart", str(chart))
    assert code == 1
    assert out == ""
    assert "matplotlib" in err and err.count("\n") == 1
    assert not chart.exists()


def test_chart_into_missing_directory_is_bad_input(capsys: pytest.CaptureFixture[str], forecast_file: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "staffing", "--forecast", str(forecast_file), "--chart", str(tmp_path / "no" / "plan.png"))
    assert code == 2
    assert "does not exist" in err


def test_patience_without_cap_staffs_to_the_contract_abandonment_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "staffing", "--calls", "9800", "--interval-seconds", "1800", "--aht", "180", "--patience", "120", "--json")
    assert code == 0
    data = json.loads(out)
    uncapped = required_agents(9800, 1800, 180, 25, 0.75, patience_s=120)
    assert data["abandonment_rate"] <= 0.05
    assert uncapped.abandonment_rate > 0.05  # what the cap protects against
    assert data["agents"] > uncapped.agents
