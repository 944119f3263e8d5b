"""``acd simulate``: what service level would this routing, staffing and traffic give?

Examples::

    acd simulate --routing deploy/routing.yaml --hours 8 --calls-per-hour compradores=120 \\
        --calls-per-hour proveedores=60 --aht 180 --patience 90 --interval 30
    acd simulate --routing deploy/routing.yaml --forecast compradores=monday.csv --aht-dist lognormal --aht-sd 120
    acd simulate --routing one-queue.yaml --hours 24 --calls-per-hour 400 --aht 200 --seed 7 --json

The simulator drives the engine's own :class:`acd.routing.Router` with Poisson callers
and simulated agents, and prints the table ``acd report`` would print for the events
it produced (see :mod:`acd.planning.sim`).  ``--aht`` (and a forecast's AHT column) is the time
an agent talks; each queue's ``wrap_up_s`` is added by the router, as in production, so
the report's AHT is talk plus wrap-up.  Numbers are taken as text and checked here, so any
mistake is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from acd.bounds import DAY, parse_number
from acd.planning.forecast import ForecastError, read_forecast
from acd.metrics.reports import SL_FORMULAS
from acd.metrics.timeutil import INTERVALS, TimeInputError, parse_when, zone
from acd.cli._common import add_settings_argument
from acd.routing import RoutingConfig, load_routing_config
from acd.settings import SettingsError, format_settings_problem, load_settings
from acd.planning.sim.progress import ProgressBar
from acd.planning.sim.scenario import Scenario, ScenarioError, constant_load, forecast_load, forecast_start
from acd.planning.sim.traffic import HANDLE_DISTS, HandleTimes, QueueLoad

USAGE_ERROR = 2
DEFAULT_START = "2026-01-05T08:00"  # a Monday morning; only labels the report rows
_QUEUE_NAME = re.compile(r"^\w[\w.\-]*$")


class _Usage(Exception):
    """Bad input: one line on stderr, exit code 2."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate traffic through the real routing core and print the acd report table",
        description="Discrete-event simulation of callers and agents around the engine's Router; prints the same table as acd report.",
    )
    parser.add_argument("--routing", metavar="FILE", help="routing YAML (queues, skills, agents); default: routing.config from the settings")
    add_settings_argument(parser)
    traffic = parser.add_argument_group("traffic")
    traffic.add_argument("--hours", metavar="H", help="simulated hours (default with --forecast: the forecast's span)")
    traffic.add_argument("--start", metavar="WHEN", help=f"first report interval, local time (default {DEFAULT_START}, or the forecast's first row)")
    traffic.add_argument("--calls-per-hour", metavar="[QUEUE=]N", action="append", default=[], help="Poisson arrival rate; QUEUE= may be left out with a single queue (repeat per queue)")
    traffic.add_argument("--forecast", metavar="[QUEUE=]FILE.csv", action="append", default=[], help="forecast CSV as for acd staffing (interval start, calls, AHT) for a queue")
    traffic.add_argument("--aht", metavar="[QUEUE=]S", action="append", default=[], help="mean talk time in seconds, for every rate-driven queue or one (repeatable); the router adds each queue's wrap_up_s")
    traffic.add_argument("--aht-dist", metavar="|".join(HANDLE_DISTS), default="exp", help="handle-time distribution (default exp)")
    traffic.add_argument("--aht-sd", metavar="S", help="standard deviation of a lognormal handle time")
    traffic.add_argument("--patience", metavar="S", help="mean caller patience (exponential); callers never hang up without it")
    traffic.add_argument("--answer-delay", metavar="S", default="0", help="seconds an agent's phone rings before they answer (default 0)")
    traffic.add_argument("--login", metavar="ID[,ID...]", action="append", default=[], help="log in only these agents (default: every agent in the routing file)")
    traffic.add_argument("--warmup", metavar="S", default="0", help="simulate this long before the report window so it starts loaded (default 0)")
    traffic.add_argument("--seed", metavar="N", default="1", help="random seed (default 1); same seed and inputs, same report")
    report = parser.add_argument_group("report")
    report.add_argument("--interval", metavar="|".join(INTERVALS[:-1]), default="60", help="report row size (default 60 minutes)")
    report.add_argument("--by", metavar="queue|skill", help="add one row per queue or per skill")
    report.add_argument("--threshold", metavar="S", help="service-level threshold for every queue (default: each queue's threshold_s, as acd report --routing)")
    report.add_argument("--short-abandon", metavar="S", help="short-abandon limit for every queue (default: each queue's short_abandon_s)")
    report.add_argument("--sl-formula", metavar="|".join(SL_FORMULAS), help="service-level formula for every queue (default: each queue's sl_formula)")
    report.add_argument("--json", action="store_true", help="print the scenario and the report as JSON")
    report.add_argument("--progress", action="store_true", help="draw a progress bar on stderr even when it is not a terminal")
    report.add_argument(
        "--db", metavar="FILE",
        help="also write the simulated events into this event store (created if missing), to browse them with acd report or acd web",
    )
    parser.set_defaults(handler=handle)


# ----------------------------------------------------------------------------- parsing

MAX_CALLS_PER_HOUR = 100_000.0  # a very large centre; beyond it a run would not end in useful time
MAX_HOURS = 31 * 24.0  # a month


def _number(option: str, text: str, *, low: float = 0.0, strict: bool = False, high: float = DAY) -> float:
    """Seconds by default; rates and hours pass their own ``high`` (a simulation must end)."""
    try:
        return parse_number(text, low=low, high=high, low_open=strict)
    except ValueError as exc:
        raise _Usage(f"{option} {exc}") from None


def _keyed(option: str, raw: str, queues: list[str]) -> tuple[str | None, str]:
    """``QUEUE=VALUE`` or ``VALUE``; an unknown queue is an error naming the known ones."""
    name, sep, value = raw.partition("=")
    if not sep or not _QUEUE_NAME.match(name):
        return None, raw
    if name not in queues:
        raise _Usage(f"{option} {raw!r}: unknown queue {name!r} (the routing file has: {', '.join(queues)})")
    return name, value


def _single_queue(option: str, raw: str, queues: list[str]) -> str:
    if len(queues) != 1:
        raise _Usage(f"{option} {raw!r} must name its queue as QUEUE={raw} (the routing file has: {', '.join(queues)})")
    return queues[0]


def _load_routing(path: str) -> RoutingConfig:
    config, problems = load_routing_config(path)
    if config is None:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise _Usage(f"{problems[0]}{more}" if problems else f"{path}: routing configuration could not be loaded")
    return config


def _settings_routing(args: argparse.Namespace) -> Path:
    """The routing file the engine would run with (``--settings`` or acd.yaml, else the default)."""
    try:
        settings = load_settings(args.settings)
    except SettingsError as exc:
        raise _Usage("; ".join(format_settings_problem(p) for p in exc.problems)) from None
    return settings.resolve(settings.routing.config)


def _logins(args: argparse.Namespace) -> tuple[str, ...] | None:
    if not args.login:
        return None
    ids = [item.strip() for raw in args.login for item in raw.split(",")]
    if any(not item for item in ids):
        raise _Usage("--login takes agent ids separated by commas, e.g. --login ana,bruno")
    return tuple(dict.fromkeys(ids))


def build_scenario(args: argparse.Namespace) -> tuple[Scenario, dict[str, str]]:
    """The validated scenario and, per queue, where its traffic came from."""
    if args.routing is None:
        args.routing = str(_settings_routing(args))
    config = _load_routing(args.routing)
    queues = [queue.name for queue in config.queues]
    tz = zone(config.timezone)
    if args.aht_dist not in HANDLE_DISTS:
        raise _Usage(f"--aht-dist {args.aht_dist!r} is not one of: {', '.join(HANDLE_DISTS)}")
    sd = _number("--aht-sd", args.aht_sd, strict=True) if args.aht_sd is not None else None
    if args.aht_dist == "lognormal" and sd is None:
        raise _Usage("--aht-dist lognormal needs --aht-sd S (the standard deviation of handle times)")
    if args.aht_dist == "exp" and sd is not None:
        raise _Usage("--aht-sd only applies with --aht-dist lognormal (an exponential's deviation equals its mean)")

    rates: dict[str, float] = {}
    for raw in args.calls_per_hour:
        name, value = _keyed("--calls-per-hour", raw, queues)
        name = name or _single_queue("--calls-per-hour", raw, queues)
        if name in rates:
            raise _Usage(f"--calls-per-hour: queue {name!r} is given twice")
        rates[name] = _number(f"--calls-per-hour {name}", value, high=MAX_CALLS_PER_HOUR)
    default_aht: float | None = None
    ahts: dict[str, float] = {}
    for raw in args.aht:
        name, value = _keyed("--aht", raw, queues)
        if name is None:
            default_aht = _number("--aht", value, strict=True)
        else:
            ahts[name] = _number(f"--aht {name}", value, strict=True)

    forecasts: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for raw in args.forecast:
        name, path = _keyed("--forecast", raw, queues)
        name = name or _single_queue("--forecast", raw, queues)
        if name in forecasts or name in rates:
            raise _Usage(f"queue {name!r} is given traffic twice (one --calls-per-hour or --forecast per queue)")
        try:
            forecasts[name] = read_forecast(path)
        except ForecastError as exc:
            raise _Usage(str(exc)) from None
        sources[name] = f"forecast {path}"
        if name in ahts:
            raise _Usage(f"--aht {name}=...: queue {name!r} takes its AHT from its forecast")
    if not rates and not forecasts:
        raise _Usage("no traffic: give --calls-per-hour [QUEUE=]N or --forecast [QUEUE=]FILE.csv")

    try:
        interval_hint = float(int(args.interval) * 60) if args.interval.isdigit() else None
        loads: list[QueueLoad] = []
        starts: list[float] = []
        ends: list[float] = []
        for name, forecast in forecasts.items():
            length = forecast.interval_seconds(None if len(forecast) > 1 else interval_hint)
            load = forecast_load(name, forecast, length, tz)
            loads.append(load)
            starts.append(forecast_start(forecast, tz))
            ends.append(load.segments[-1].end)
        start = parse_when(args.start, tz) if args.start else (min(starts) if starts else parse_when(DEFAULT_START, tz))
    except (ForecastError, TimeInputError) as exc:
        raise _Usage(str(exc)) from None
    if args.hours is not None:
        end = start + _number("--hours", args.hours, strict=True, high=MAX_HOURS) * 3600.0
    elif ends:
        end = max(ends)
    else:
        raise _Usage("--hours H is required (how long to simulate) unless a --forecast gives the period")
    for name, rate in rates.items():
        aht = ahts.get(name, default_aht)
        if aht is None:
            raise _Usage(f"queue {name!r} has calls but no handle time: give --aht S or --aht {name}=S")
        loads.append(constant_load(name, rate, aht, start, end))
    for name in ahts:
        if name not in rates and name not in forecasts:
            raise _Usage(f"--aht {name}=...: queue {name!r} gets no calls (give it --calls-per-hour {name}=N)")

    seed_text = args.seed.strip()
    if not re.fullmatch(r"\d+", seed_text):
        raise _Usage(f"--seed must be a whole number >= 0, not {args.seed!r}")
    patience = _number("--patience", args.patience, strict=True) if args.patience is not None else None
    order = {name: index for index, name in enumerate(queues)}
    loads.sort(key=lambda load: order[load.queue])
    try:
        scenario = Scenario(
            config=config,
            loads=tuple(loads),
            start=start,
            end=end,
            handle=HandleTimes(args.aht_dist, sd),
            patience_s=patience,
            answer_delay_s=_number("--answer-delay", args.answer_delay),
            logins=_logins(args),
            warmup_s=_number("--warmup", args.warmup),
            seed=int(seed_text),
        )
    except (ScenarioError, ValueError) as exc:
        raise _Usage(str(exc)) from None
    return scenario, sources


def _report_options(args: argparse.Namespace) -> Any:
    from acd.planning.sim.report import ReportOptions

    if args.interval not in INTERVALS or args.interval == "month":
        raise _Usage(f"--interval {args.interval!r} is not one of: {', '.join(INTERVALS[:-1])}")
    if args.by is not None and args.by not in ("queue", "skill"):
        raise _Usage(f"--by {args.by!r} is not one of: queue, skill")
    if args.sl_formula is not None and args.sl_formula not in SL_FORMULAS:
        raise _Usage(f"--sl-formula {args.sl_formula!r} is not one of: {', '.join(SL_FORMULAS)}")
    return ReportOptions(
        interval=args.interval,
        by=args.by,
        threshold_s=_number("--threshold", args.threshold) if args.threshold is not None else None,
        short_abandon_s=_number("--short-abandon", args.short_abandon) if args.short_abandon is not None else None,
        sl_formula=args.sl_formula,
    )


# ----------------------------------------------------------------------------- running


def _store_events(path: Path, events: list[Any], prefix: str) -> str | None:
    """Append the run's events to the store at ``path``; call ids get ``prefix`` (every run numbers calls c0, c1...)."""
    import asyncio

    from acd.metrics.store import EventStore, StoreError

    async def write() -> None:
        store = await EventStore.open(path, batch_interval_s=1.0)
        try:
            for event in events:
                store.append(event.model_copy(update={"call_id": prefix + event.call_id}) if event.call_id else event)
        finally:
            await store.close()

    try:
        asyncio.run(write())
    except StoreError as exc:
        return str(exc)
    return None


def handle(args: argparse.Namespace) -> int:
    try:
        options = _report_options(args)
        scenario, sources = build_scenario(args)
    except _Usage as exc:
        print(f"acd simulate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    from acd.metrics import render
    from acd.planning.sim.report import simulate_report
    from acd.planning.sim.summary import summary_dict, summary_lines

    bar = ProgressBar(sys.stderr) if (args.progress or sys.stderr.isatty()) else None
    try:
        kept: list[Any] | None = [] if args.db else None
        result = simulate_report(scenario, options, progress=bar, keep=kept)
    finally:
        if bar is not None:
            bar.close()
    if kept is not None:
        problem = _store_events(Path(args.db), kept, f"sim{int(scenario.start)}-")
        if problem:
            print(f"acd simulate: error: {problem}", file=sys.stderr)
            return 1
    tz = zone(scenario.config.timezone)
    if args.json:
        payload = {"simulation": {"routing": str(Path(args.routing)), **summary_dict(result, sources)}, "report": render.report_dict(result.report, tz)}
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(summary_lines(result, sources, args.routing)) + "\n\n")
        sys.stdout.write(render.report_table(result.report, tz))
    if bar is not None:
        wall = result.stats.wall_s + result.report_wall_s
        print(f"acd simulate: {result.stats.calls:,} calls, {result.events:,} events in {wall:.1f} s", file=sys.stderr)
    return 1 if result.stats.ignored else 0
