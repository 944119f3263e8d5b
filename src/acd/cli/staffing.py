"""``acd staffing``: how many agents an interval (or a whole forecast) needs.

Examples::

    acd staffing --calls 100 --interval-seconds 1800 --aht 180 --threshold 20
    acd staffing --calls 100 --interval-seconds 1800 --aht 180 --agents 13 --json
    acd staffing --calls 100 --interval-seconds 1800 --aht 180 --patience 120 --max-abandonment 0.05
    acd staffing --forecast monday.csv --format csv --shrinkage 0.3 --chart monday.png

Numbers are read as text and validated here rather than by argparse, so every mistake
produces exactly one line on stderr naming the option and exit code 2 (argparse would
print a usage block, and accepts ``nan``).  Exit code 1 is kept for problems that are not
the user's input (writing the chart failed, matplotlib is not installed).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Sequence

from acd.bounds import DAY
from acd.planning.erlang import Staffing, erlang_c_figures, required_agents, staffing_for_agents
from acd.planning.forecast import ForecastError, plan_forecast, read_forecast

PROG = "acd staffing"
_FORMATS = ("table", "csv", "json")
#: The tender's abandonment limit from month 3 on; the default cap when --patience is given.
CONTRACT_MAX_ABANDONMENT = 0.05
MAX_CALLS = 10_000_000  # per interval; the offered load is bounded too (erlang.MAX_TRAFFIC)
MAX_AGENTS_GIVEN = 1_000_000


class _UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


class _RuntimeProblem(Exception):
    """Not the user's input (missing optional dependency, unwritable file): exit code 1."""


def register(subparsers: Any) -> None:
    """Add the ``staffing`` command to the ``acd`` CLI."""
    parser = subparsers.add_parser(
        "staffing",
        help="agents needed for a service level (Erlang C, or Erlang A with --patience)",
        description=(
            "Compute the agents needed so that TARGET of calls are answered within THRESHOLD seconds "
            "(Erlang C; Erlang A with --patience), or the figures for a given --agents."
        ),
    )
    single = parser.add_argument_group("one interval")
    single.add_argument("--calls", metavar="N", help="offered calls in the interval")
    single.add_argument("--interval-seconds", metavar="S", help="interval length in seconds (inferred from a --forecast if omitted)")
    single.add_argument("--aht", metavar="SECONDS", help="average handle time in seconds")
    goal = parser.add_argument_group("goal and constraints")
    goal.add_argument("--threshold", metavar="SECONDS", default="25", help="service-level threshold in seconds (default 25)")
    goal.add_argument("--target", metavar="FRACTION", default="0.75", help="fraction answered within the threshold (default 0.75)")
    goal.add_argument("--agents", metavar="N", help="report the figures for this many agents instead of the requirement")
    goal.add_argument("--patience", metavar="SECONDS", help="mean caller patience: use Erlang A (abandonment)")
    goal.add_argument("--max-occupancy", metavar="FRACTION", help="cap on agent occupancy, e.g. 0.85")
    goal.add_argument("--max-abandonment", metavar="FRACTION", help="cap on the abandonment rate (needs --patience; default 0.05, the contract's limit)")
    goal.add_argument("--shrinkage", metavar="FRACTION", help="share of rostered time not on the phones, e.g. 0.3")
    many = parser.add_argument_group("forecast")
    many.add_argument("--forecast", metavar="FILE.csv", help="CSV with a header row and columns: interval start (ISO), calls, AHT")
    many.add_argument("--chart", metavar="FILE.png", help="also draw the plan as a PNG (needs matplotlib)")
    out = parser.add_argument_group("output")
    out.add_argument("--format", metavar="{table,csv,json}", help="output format (default table)")
    out.add_argument("--json", action="store_true", help="same as --format json")
    parser.set_defaults(handler=run)


# ------------------------------------------------------------------------------ parsing


def _number(raw: str | None, option: str, high: float = DAY) -> float | None:
    """Seconds by default (at most a day); ``high`` for counts, so no search runs for ever."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _UsageError(f"{option} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise _UsageError(f"{option} must be a finite number, got {raw!r}")
    if value > high:
        raise _UsageError(f"{option} must be at most {high:,.0f}, got {raw}")
    return value


def _positive(raw: str | None, option: str, what: str) -> float | None:
    value = _number(raw, option)
    if value is not None and value <= 0:
        raise _UsageError(f"{option} must be a positive {what}, got {raw}")
    return value


def _fraction(raw: str | None, option: str, *, low_open: bool, high_open: bool, meaning: str) -> float | None:
    value = _number(raw, option)
    if value is None:
        return None
    too_low = value <= 0 if low_open else value < 0
    too_high = value >= 1 if high_open else value > 1
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise _UsageError(f"{option} must be a fraction in {interval} ({meaning}), got {raw}")
    return value


class _Params:
    """Validated command-line values."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.forecast: str | None = args.forecast
        self.calls = _number(args.calls, "--calls", high=MAX_CALLS)
        if self.calls is not None and self.calls < 0:
            raise _UsageError(f"--calls must not be negative, got {args.calls}")
        self.interval_s = _positive(args.interval_seconds, "--interval-seconds", "number of seconds")
        self.aht_s = _positive(args.aht, "--aht", "number of seconds")
        threshold = _number(args.threshold, "--threshold")
        assert threshold is not None
        if threshold < 0:
            raise _UsageError(f"--threshold must not be negative, got {args.threshold}")
        self.threshold_s: float = threshold
        target = _fraction(args.target, "--target", low_open=True, high_open=True, meaning="100 % is unreachable with random arrivals")
        assert target is not None
        self.target: float = target
        self.agents: int | None = None
        if args.agents is not None:
            try:
                self.agents = int(args.agents)
            except ValueError:
                raise _UsageError(f"--agents must be a whole number, got {args.agents!r}") from None
            if not 1 <= self.agents <= MAX_AGENTS_GIVEN:
                raise _UsageError(f"--agents must be from 1 to {MAX_AGENTS_GIVEN:,}, got {args.agents}")
        self.patience_s = _positive(args.patience, "--patience", "number of seconds")
        self.max_occupancy = _fraction(args.max_occupancy, "--max-occupancy", low_open=True, high_open=False, meaning="share of time busy")
        self.max_abandonment = _fraction(
            args.max_abandonment, "--max-abandonment", low_open=True, high_open=False, meaning="share of calls abandoned"
        )
        if self.max_abandonment is not None and self.patience_s is None:
            raise _UsageError("--max-abandonment needs --patience (Erlang C has no abandonment)")
        if self.patience_s is not None and self.max_abandonment is None:
            # Without a cap, impatient callers "help" the service level by hanging up; staff
            # to the contract's abandonment limit unless told otherwise.
            self.max_abandonment = CONTRACT_MAX_ABANDONMENT
        self.shrinkage_given = args.shrinkage is not None
        shrinkage = _fraction(args.shrinkage, "--shrinkage", low_open=False, high_open=True, meaning="share of rostered time lost")
        self.shrinkage: float = shrinkage or 0.0
        if args.format not in (None, *_FORMATS):
            raise _UsageError(f"--format must be one of {', '.join(_FORMATS)}, got {args.format!r}")
        if args.json and args.format not in (None, "json"):
            raise _UsageError(f"--json contradicts --format {args.format}")
        self.format: str = "json" if args.json else (args.format or "table")
        self.chart: str | None = args.chart

        if self.forecast is None:
            missing = [name for name, value in (("--calls", self.calls), ("--interval-seconds", self.interval_s), ("--aht", self.aht_s)) if value is None]
            if missing:
                raise _UsageError(f"missing {', '.join(missing)} (or give a --forecast file)")
            if self.chart is not None:
                raise _UsageError("--chart needs a --forecast")
        else:
            given = [name for name, value in (("--calls", self.calls), ("--aht", self.aht_s)) if value is not None]
            if given:
                raise _UsageError(f"{' and '.join(given)} cannot be combined with --forecast (the file gives them per interval)")
        if self.chart is not None:
            parent = Path(self.chart).parent
            if not parent.is_dir():
                raise _UsageError(f"--chart: directory {str(parent)!r} does not exist")


# ------------------------------------------------------------------------------ command


def run(args: argparse.Namespace) -> int:
    """Entry point of ``acd staffing``; returns the exit code."""
    try:
        params = _Params(args)
        if params.forecast is None:
            _run_single(params)
        else:
            _run_forecast(params)
    except (_UsageError, ForecastError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except _RuntimeProblem as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_single(p: _Params) -> None:
    assert p.calls is not None and p.interval_s is not None and p.aht_s is not None
    if p.agents is None:
        result = required_agents(
            p.calls,
            p.interval_s,
            p.aht_s,
            p.threshold_s,
            p.target,
            p.max_occupancy,
            p.shrinkage,
            patience_s=p.patience_s,
            max_abandonment=p.max_abandonment,
        )
    else:
        result = staffing_for_agents(p.agents, p.calls, p.interval_s, p.aht_s, p.threshold_s, p.shrinkage, patience_s=p.patience_s)
    if p.format == "json":
        print(json.dumps(result.as_dict(include_scheduled=p.shrinkage_given), indent=2))
    elif p.format == "csv":
        sys.stdout.write(_csv([result], None, p))
    else:
        print(_describe(result, p))


def _run_forecast(p: _Params) -> None:
    assert p.forecast is not None
    forecast = read_forecast(p.forecast)
    interval_s = forecast.interval_seconds(p.interval_s)
    if p.chart is not None:
        _load_matplotlib()  # fail before printing anything
    plan = plan_forecast(
        forecast,
        interval_s,
        p.threshold_s,
        p.target,
        agents=p.agents,
        max_occupancy=p.max_occupancy,
        shrinkage=p.shrinkage,
        patience_s=p.patience_s,
        max_abandonment=p.max_abandonment,
    )
    starts = [s.isoformat() for s in forecast.starts]
    if p.format == "json":
        rows = []
        for start, calls, aht, fig in zip(starts, forecast.calls, forecast.aht_s, plan):
            rows.append({"interval_start": start, "calls": float(calls), "aht_seconds": float(aht), **fig.as_dict(include_scheduled=p.shrinkage_given)})
        print(json.dumps(rows, indent=2))
    elif p.format == "csv":
        sys.stdout.write(_csv(plan, (starts, list(forecast.calls), list(forecast.aht_s)), p))
    else:
        print(_table(plan, starts, list(forecast.calls), list(forecast.aht_s), p))
    if p.chart is not None:
        _write_chart(Path(p.chart), forecast.starts, interval_s, plan, p)


# ------------------------------------------------------------------------------ output


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _secs(value: float) -> str:
    return f"{value:.1f} s" if math.isfinite(value) else "unbounded"


def _describe(r: Staffing, p: _Params) -> str:
    """Human-readable block for one interval."""
    assert p.calls is not None and p.interval_s is not None and p.aht_s is not None
    model = "Erlang A" if p.patience_s is not None else "Erlang C"
    lines = [f"traffic                {r.traffic_erlangs:.2f} Erlangs ({p.calls:g} calls in {p.interval_s:g} s, AHT {p.aht_s:g} s)"]
    if p.agents is None:
        goal = f"{model}, {_pct(p.target)} within {p.threshold_s:g} s"
        if p.max_occupancy is not None:
            goal += f", occupancy <= {_pct(p.max_occupancy)}"
        if p.max_abandonment is not None:
            goal += f", abandonment <= {_pct(p.max_abandonment)}"
        lines.append(f"agents required        {r.agents}  ({goal})")
    else:
        verdict = "meets" if r.service_level >= p.target else "misses"
        lines.append(f"agents                 {r.agents}  ({model}; {verdict} the {_pct(p.target)} target)")
    if p.shrinkage_given:
        lines.append(f"agents scheduled       {r.scheduled_agents}  (shrinkage {_pct(p.shrinkage)})")
    lines.append(f"service level          {_pct(r.service_level)} answered within {p.threshold_s:g} s")
    lines.append(f"probability of waiting {_pct(r.p_wait)}")
    lines.append(f"average speed (ASA)    {_secs(r.asa_seconds)}")
    lines.append(f"occupancy              {_pct(r.occupancy)}")
    if r.abandonment_rate is not None:
        lines.append(f"abandonment            {_pct(r.abandonment_rate)} (mean patience {p.patience_s:g} s)")
        c = erlang_c_figures(r.agents, r.traffic_erlangs, p.aht_s, p.threshold_s)
        lines.append(
            f"Erlang C, same agents  service level {_pct(c.service_level)}, waiting {_pct(c.p_wait)}, ASA {_secs(c.asa_seconds)} (nobody hangs up)"
        )
    elif r.agents <= r.traffic_erlangs and r.traffic_erlangs > 0:
        lines.append("warning                agents <= traffic: the queue grows without bound")
    return "\n".join(lines)


def _columns(p: _Params) -> list[str]:
    cols = ["traffic_erlangs", "agents"]
    if p.shrinkage_given:
        cols.append("scheduled_agents")
    cols += ["service_level", "p_wait", "asa_seconds", "occupancy"]
    if p.patience_s is not None:
        cols.append("abandonment_rate")
    return cols


def _csv(plan: Sequence[Staffing], prefix: tuple[list[str], list[float], list[float]] | None, p: _Params) -> str:
    """CSV with the JSON key names as header; an unbounded ASA is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cols = _columns(p)
    writer.writerow((["interval_start", "calls", "aht_seconds"] if prefix else []) + cols)
    for i, fig in enumerate(plan):
        data = fig.as_dict()
        row: list[str] = [prefix[0][i], f"{prefix[1][i]:g}", f"{prefix[2][i]:g}"] if prefix else []
        for col in cols:
            value = data.get(col)
            if value is None:
                row.append("")
            elif isinstance(value, int):
                row.append(str(value))
            else:
                row.append(f"{value:.6f}")
        writer.writerow(row)
    return buffer.getvalue()


def _table(plan: Sequence[Staffing], starts: list[str], calls: list[float], ahts: list[float], p: _Params) -> str:
    headers = ["interval start", "calls", "AHT s", "Erlangs", "agents"]
    if p.shrinkage_given:
        headers.append("scheduled")
    headers += ["SL", "P(wait)", "ASA s", "occupancy"]
    if p.patience_s is not None:
        headers.append("abandoned")
    body: list[list[str]] = []
    for start, n_calls, aht, fig in zip(starts, calls, ahts, plan):
        row = [start, f"{n_calls:g}", f"{aht:g}", f"{fig.traffic_erlangs:.2f}", str(fig.agents)]
        if p.shrinkage_given:
            row.append(str(fig.scheduled_agents))
        row += [_pct(fig.service_level), _pct(fig.p_wait), f"{fig.asa_seconds:.1f}" if math.isfinite(fig.asa_seconds) else "inf", _pct(fig.occupancy)]
        if p.patience_s is not None:
            row.append(_pct(fig.abandonment_rate))
        body.append(row)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    lines = [fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
    total = sum(f.agents for f in plan)
    lines.append(f"peak {max(f.agents for f in plan)} agents; {total} agent-intervals over {len(plan)} intervals")
    return "\n".join(lines)


def _load_matplotlib() -> tuple[Any, Any]:
    """Import the object-oriented matplotlib API (no pyplot: no GUI, no global state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise _RuntimeProblem("--chart needs matplotlib, which is not installed (pip install matplotlib)") from None
    return Figure, FigureCanvasAgg


def _write_chart(path: Path, starts: Sequence[Any], interval_s: float, plan: Sequence[Staffing], p: _Params) -> None:
    """Agents per interval as steps, service level on a second axis; rendered with Agg."""
    figure_cls, canvas_cls = _load_matplotlib()
    fig = figure_cls(figsize=(10, 4.5), dpi=100)
    canvas_cls(fig)
    ax = fig.add_subplot()
    edges = list(starts) + [starts[-1] + timedelta(seconds=interval_s)]
    agents = [f.agents for f in plan]
    ax.step(edges, agents + agents[-1:], where="post", color="tab:blue", label="agents required")
    if p.shrinkage_given:
        rostered = [f.scheduled_agents or 0 for f in plan]
        ax.step(edges, rostered + rostered[-1:], where="post", color="tab:blue", linestyle="--", label="agents scheduled")
    ax.set_ylabel("agents")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    mids = [s + timedelta(seconds=interval_s / 2) for s in starts]
    ax2.plot(mids, [100 * f.service_level for f in plan], "o", color="tab:green", markersize=3, label="service level")
    ax2.axhline(100 * p.target, color="tab:green", linestyle=":", linewidth=1)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(f"% answered within {p.threshold_s:g} s")
    model = "Erlang A" if p.patience_s is not None else "Erlang C"
    ax.set_title(f"Staffing plan ({model}, target {100 * p.target:g} % in {p.threshold_s:g} s)")
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise _RuntimeProblem(f"--chart: cannot write {str(path)!r}: {exc.strerror or exc}") from None

