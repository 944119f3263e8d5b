"""Forecast CSV reading and per-interval planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.planning.erlang import erlang_a, required_agents
from acd.planning.forecast import ForecastError, plan_forecast, read_forecast

GOOD = """interval_start,calls,aht
2024-05-06T08:00:00,0,180
2024-05-06T08:30:00,100,180
2024-05-06T09:00:00,164.5,205

2024-05-06T09:30:00,2400,240
"""


def write(tmp_path: Path, text: str, name: str = "day.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_rows_and_infers_the_interval(tmp_path: Path) -> None:
    forecast = read_forecast(write(tmp_path, GOOD))
    assert len(forecast) == 4
    assert list(forecast.calls) == [0, 100, 164.5, 2400]
    assert forecast.lines == (2, 3, 4, 6)  # the blank line is skipped but counted
    assert forecast.interval_seconds() == 1800


def test_plan_per_interval_equals_one_off_answers(tmp_path: Path) -> None:
    forecast = read_forecast(write(tmp_path, GOOD))
    plan = plan_forecast(forecast, 1800, 25, 0.75, shrinkage=0.3, max_occupancy=0.9)
    for calls, aht, fig in zip(forecast.calls, forecast.aht_s, plan):
        one = required_agents(float(calls), 1800, float(aht), 25, 0.75, 0.9, 0.3)
        assert fig == one
    assert plan[0].agents == 0
    assert plan[1].agents == 13


def test_plan_with_patience_and_fixed_agents(tmp_path: Path) -> None:
    forecast = read_forecast(write(tmp_path, GOOD))
    plan = plan_forecast(forecast, 1800, 25, 0.75, agents=14, patience_s=120)
    for calls, aht, fig in zip(forecast.calls, forecast.aht_s, plan):
        expected = erlang_a(14, float(calls) * float(aht) / 1800, float(aht), 120, 25)
        assert fig.service_level == expected.service_level
        assert fig.abandonment_rate == expected.abandonment_rate
        assert fig.agents == 14


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("start,calls,aht\n2024-05-06T08:00,10,180\n2024-05-06 8h30,10,180\n", 3, "not an ISO 8601 datetime"),
        ("start,calls,aht\n2024-05-06T08:00,10,180\n2024-05-06T08:30,-4,180\n", 3, "negative"),
        ("start,calls,aht\n2024-05-06T08:00,ten,180\n", 2, "not a number"),
        ("start,calls,aht\n2024-05-06T08:00,10,0\n", 2, "AHT"),
        ("start,calls,aht\n2024-05-06T08:00,10,nan\n", 2, "AHT"),
        ("start,calls,aht\n2024-05-06T08:00,10,180\n\n2024-05-06T08:30,10\n", 4, "expected 3 columns"),
        ("start,calls,aht\n2024-05-06T08:30,10,180\n2024-05-06T08:00,10,180\n", 3, "not after"),
        ("start,calls,aht\n2024-05-06T08:00Z,10,180\n2024-05-06T08:30,10,180\n", 3, "UTC offset"),
        ("2024-05-06T08:00,10,180\n2024-05-06T08:30,10,180\n", 1, "header"),
        ("start,calls\n2024-05-06T08:00,10\n", 1, "header row with 3 columns"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ForecastError) as caught:
        read_forecast(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty file"), ("start,calls,aht\n", "no data rows")],
)
def test_files_without_data_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ForecastError, match=message) as caught:
        read_forecast(path)
    assert str(caught.value).startswith(str(path))


def test_missing_and_binary_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ForecastError, match="no such file"):
        read_forecast(tmp_path / "absent.csv")
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"start,calls,aht\n\xff\xfe\x00,1,2\n")
    with pytest.raises(ForecastError, match="not UTF-8"):
        read_forecast(binary)


def test_interval_length_problems_name_the_line(tmp_path: Path) -> None:
    uneven = read_forecast(write(tmp_path, "s,c,a\n2024-05-06T08:00,1,180\n2024-05-06T08:30,1,180\n2024-05-06T09:30,1,180\n"))
    with pytest.raises(ForecastError, match=r":4: intervals are not evenly spaced"):
        uneven.interval_seconds()
    assert uneven.interval_seconds(1800) == 1800  # a gap is fine when the length is given
    with pytest.raises(ForecastError, match=r":3: interval starts 1800 s after"):
        uneven.interval_seconds(3600)
    single = read_forecast(write(tmp_path, "s,c,a\n2024-05-06T08:00,1,180\n", "one.csv"))
    with pytest.raises(ForecastError, match="single row"):
        single.interval_seconds()
