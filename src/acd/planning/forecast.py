"""Call forecasts per interval, and the staffing each interval needs.

A forecast is a CSV file exported from a workforce-management tool or a spreadsheet::

    interval_start,calls,aht
    2024-05-06T08:00,120,185
    2024-05-06T08:30,164,190

The first row is a header (its names are free, the column order is not); interval starts
are ISO 8601 datetimes in increasing order; calls is the expected number of offered calls
(fractions allowed — forecasts are averages); AHT is in seconds.  Anything else is
rejected with ``FILE:LINE: what is wrong`` so the planner can fix the spreadsheet row,
instead of receiving a plan silently built on a shifted column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acd.planning.erlang import (
    Staffing,
    erlang_a,
    erlang_c_arrays,
    required_agents,
    required_agents_array,
    scheduled_agents,
)

__all__ = ["Forecast", "ForecastError", "plan_forecast", "read_forecast"]

_COLUMNS = "interval start, calls, AHT"


class ForecastError(ValueError):
    """A forecast file that cannot be used; ``str()`` is ``FILE:LINE: message``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Forecast:
    """Parsed forecast rows, columns as numpy arrays for vectorised planning."""

    path: str
    starts: tuple[datetime, ...]
    calls: NDArray[np.float64]
    aht_s: NDArray[np.float64]
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.starts)

    def interval_seconds(self, given: float | None = None) -> float:
        """The interval length: ``given``, or the (uniform) spacing of the starts.

        With ``given``, rows must be at least that far apart (overlapping intervals would
        double-count calls).  Without it, the spacing must be the same everywhere: a gap
        or a change of granularity cannot be guessed.
        """
        gaps = [(b - a).total_seconds() for a, b in zip(self.starts, self.starts[1:])]
        if given is not None:
            for gap, line in zip(gaps, self.lines[1:]):
                if gap < given:
                    raise ForecastError(
                        self.path, line, f"interval starts {gap:g} s after the previous row, but intervals are {given:g} s long"
                    )
            return given
        if not gaps:
            raise ForecastError(self.path, self.lines[0], "cannot infer the interval length from a single row; give it explicitly")
        first = gaps[0]
        for gap, line in zip(gaps, self.lines[1:]):
            if gap != first:
                raise ForecastError(
                    self.path, line, f"intervals are not evenly spaced ({first:g} s, then {gap:g} s); give the interval length explicitly"
                )
        return first


def _parse_start(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_forecast(path: str | Path) -> Forecast:
    """Read and validate a forecast CSV (see module docstring); raises :class:`ForecastError`."""
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = _numbered_rows(handle)
    except FileNotFoundError:
        raise ForecastError(name, None, "no such file") from None
    except IsADirectoryError:
        raise ForecastError(name, None, "is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise ForecastError(name, None, f"not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise ForecastError(name, None, f"not valid CSV ({exc})") from None
    except OSError as exc:
        raise ForecastError(name, None, exc.strerror or str(exc)) from None

    if not rows:
        raise ForecastError(name, None, f"empty file: expected a header row ({_COLUMNS}) and data rows")
    header_line, header = rows[0]
    if len(header) != 3:
        raise ForecastError(name, header_line, f"expected a header row with 3 columns ({_COLUMNS}), got {len(header)}")
    if _parse_start(header[0]) is not None:
        raise ForecastError(name, header_line, f"expected a header row ({_COLUMNS}) but found data")
    if len(rows) == 1:
        raise ForecastError(name, None, "no data rows after the header")

    starts: list[datetime] = []
    calls: list[float] = []
    ahts: list[float] = []
    lines: list[int] = []
    for line, row in rows[1:]:
        if len(row) != 3:
            raise ForecastError(name, line, f"expected 3 columns ({_COLUMNS}), got {len(row)}")
        start = _parse_start(row[0])
        if start is None:
            raise ForecastError(name, line, f"interval start {row[0].strip()!r} is not an ISO 8601 datetime")
        count = _parse_number(row[1])
        if count is None:
            raise ForecastError(name, line, f"calls {row[1].strip()!r} is not a number")
        if count < 0:
            raise ForecastError(name, line, f"calls {row[1].strip()!r} is negative")
        aht = _parse_number(row[2])
        if aht is None:
            raise ForecastError(name, line, f"AHT {row[2].strip()!r} is not a number")
        if aht <= 0:
            raise ForecastError(name, line, f"AHT {row[2].strip()!r} must be a positive number of seconds")
        if starts:
            previous = starts[-1]
            if (previous.tzinfo is None) != (start.tzinfo is None):
                raise ForecastError(name, line, "mixes datetimes with and without a UTC offset")
            if start <= previous:
                raise ForecastError(name, line, f"interval start {row[0].strip()} is not after the previous row's ({previous.isoformat()})")
        starts.append(start)
        calls.append(count)
        ahts.append(aht)
        lines.append(line)
    return Forecast(name, tuple(starts), np.array(calls), np.array(ahts), tuple(lines))


def _numbered_rows(handle: Iterable[str]) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with the line number on which each starts."""
    reader = csv.reader(handle)
    out: list[tuple[int, list[str]]] = []
    line = 1
    for row in reader:
        if any(cell.strip() for cell in row):
            out.append((line, row))
        line = reader.line_num + 1
    return out


def plan_forecast(
    forecast: Forecast,
    interval_s: float,
    threshold_s: float,
    target: float,
    *,
    agents: int | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_s: float | None = None,
    max_abandonment: float | None = None,
) -> list[Staffing]:
    """Staffing per interval: required agents, or the figures for a fixed ``agents``.

    Erlang C intervals are computed together with numpy (one vectorised Erlang B
    recursion for the whole day); Erlang A needs one birth–death chain per interval and
    head-count, each itself vectorised over queue states.
    """
    traffic = forecast.calls * forecast.aht_s / interval_s
    if patience_s is None:
        if agents is None:
            counts = required_agents_array(traffic, forecast.aht_s, threshold_s, target, max_occupancy)
        else:
            counts = np.full(traffic.shape, agents, dtype=np.int64)
        figs = erlang_c_arrays(counts, traffic, forecast.aht_s, threshold_s)
        return [
            Staffing(
                agents=int(counts[i]),
                traffic_erlangs=float(traffic[i]),
                service_level=float(figs["service_level"][i]),
                p_wait=float(figs["p_wait"][i]),
                asa_seconds=float(figs["asa_seconds"][i]),
                occupancy=float(figs["occupancy"][i]),
                scheduled_agents=scheduled_agents(int(counts[i]), shrinkage),
            )
            for i in range(len(forecast))
        ]
    out: list[Staffing] = []
    for i in range(len(forecast)):
        if agents is None:
            out.append(
                required_agents(
                    float(forecast.calls[i]),
                    interval_s,
                    float(forecast.aht_s[i]),
                    threshold_s,
                    target,
                    max_occupancy,
                    shrinkage,
                    patience_s=patience_s,
                    max_abandonment=max_abandonment,
                )
            )
        else:
            fig = erlang_a(agents, float(traffic[i]), float(forecast.aht_s[i]), patience_s, threshold_s)
            out.append(
                Staffing(
                    agents=fig.agents,
                    traffic_erlangs=fig.traffic_erlangs,
                    service_level=fig.service_level,
                    p_wait=fig.p_wait,
                    asa_seconds=fig.asa_seconds,
                    occupancy=fig.occupancy,
                    abandonment_rate=fig.abandonment_rate,
                    scheduled_agents=scheduled_agents(agents, shrinkage),
                )
            )
    return out
