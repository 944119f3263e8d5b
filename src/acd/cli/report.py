"""``acd report``: contact-center figures per interval, recomputed from the event log.

Examples::

    acd report                                  # today so far, per 15 minutes
    acd report --period last-month --interval day
    acd report --from 2026-03-02 --to 2026-03-03 --interval 15
    acd report --from 2026-03-01 --to 2026-04-01 --interval day --by queue --format csv
    acd report --from 2026-03-01 --to 2026-04-01 --interval month --queue mesa-ayuda --format json
    acd report --from 2026-03-02 --to 2026-03-03 --interval 30 --chart sl.png
    acd report --warm                           # after an upgrade: store past days' figures now
    acd report --period this-month --dispositions --by agent   # wrap-up codes per agent

Dates without an offset are local time in ``routing.timezone`` (America/Santiago); the
range is ``[--from, --to)``.  Figure definitions: ``acd.metrics.reports``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acd.bounds import DAY, parse_number
from acd.cli._report_common import (
    DATA_ERROR,
    CliError,
    add_common_arguments,
    add_timezone_argument,
    database_path,
    open_store,
    run_command,
    settings_from,
    time_range,
    timezone_name,
)
from acd.metrics.reports import DEFAULT_SHORT_ABANDON_S, DEFAULT_THRESHOLD_S, SL_FORMULAS, report_rules
from acd.metrics.timeutil import INTERVALS, PERIODS, TimeInputError, period_range, zone

FORMATS = ("table", "csv", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="interval/day/month figures: service level, abandonment, ASA, AHT, surveys, agents",
        description="Figures per interval recomputed from the event log (see acd.metrics.reports for definitions).",
    )
    parser.add_argument("--from", dest="start", metavar="WHEN", help="start, e.g. 2026-03-02 or 2026-03-02T08:00")
    parser.add_argument("--to", dest="end", metavar="WHEN", help="end (exclusive)")
    parser.add_argument(
        "--period", metavar="NAME",
        help=f"a named period instead of --from/--to: {', '.join(PERIODS)} (default without --from/--to: today)",
    )
    parser.add_argument("--interval", default="60", metavar="|".join(INTERVALS), help="row size (default 60 minutes)")
    parser.add_argument("--queue", metavar="Q", help="only calls that ended in this queue")
    parser.add_argument("--by", metavar="queue|skill", help="add one row per queue or per skill (--dispositions: queue, agent, skill or interval)")
    parser.add_argument("--dispositions", action="store_true", help="count the wrap-up codes agents gave calls, by queue (or --by agent)")
    parser.add_argument("--format", default="table", metavar="|".join(FORMATS), help="output format (default table)")
    parser.add_argument("--chart", metavar="FILE.png", help="also draw service level and offered calls per interval")
    parser.add_argument("--target", default="75", metavar="PCT", help="target line on the chart (default 75)")
    parser.add_argument(
        "--threshold", metavar="S",
        help="service-level threshold for every queue (default: each queue's own from the routing file, else 25 s)",
    )
    parser.add_argument(
        "--short-abandon", metavar="S",
        help="short abandon limit for every queue (default: each queue's own from the routing file, else 5 s)",
    )
    parser.add_argument(
        "--sl-formula", metavar="|".join(SL_FORMULAS),
        help="service-level formula (default offered; per-queue rows use each queue's own unless given)",
    )
    parser.add_argument(
        "--routing", metavar="FILE",
        help="routing file whose per-queue thresholds and formulas apply, as on the live wallboard "
        "(default: the settings' routing.config when it exists)",
    )
    parser.add_argument(
        "--no-cache", action="store_true",
        help="replay the raw event log instead of reading stored quarter-hour figures (slower; same result)",
    )
    parser.add_argument(
        "--rebuild", action="store_true",
        help="recompute the stored quarter-hour figures from the raw log (of --from/--to, else all of it), then report",
    )
    parser.add_argument(
        "--warm", action="store_true",
        help="store the figures of past days not stored yet (after an upgrade or a rules change), for these rules "
        "and the SLA contract's, newest first, then exit (acd web does it in the background at start)",
    )
    add_timezone_argument(parser)
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def _number(option: str, text: str, *, low: float = 0.0, high: float = DAY) -> float:
    try:
        return parse_number(text, low=low, high=high)
    except ValueError as exc:
        raise CliError(f"{option} {exc}") from None


def _choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise CliError(f"{option} {value!r} is not one of: {', '.join(choices)}")


@dataclass(frozen=True)
class QueueRules:
    """Per-queue rules for the report and where they came from.

    ``routing_file`` is None when no routing file was found: then every queue gets the
    command line's (or the default 25 s / 5 s) rules, which the output says loudly, since a
    queue with its own threshold would otherwise be reported against the wrong one."""

    rules: dict[str, Any]
    routing_file: Path | None
    looked_for: Path

    @property
    def defaults_used(self) -> bool:
        return self.routing_file is None


def _queue_rules(args: argparse.Namespace, settings: Any) -> QueueRules:
    """Each queue's own threshold, short-abandon limit and formula from the routing file
    (``--routing``, else the settings' ``routing.config``), so the report means what the
    wallboard meant; flags given on the command line win."""
    from acd.metrics.live import report_rules
    from acd.routing import load_routing_config

    path = Path(args.routing) if args.routing else settings.resolve(settings.routing.config)
    if not args.routing and not path.is_file():
        return QueueRules({}, None, path.resolve())  # a reporting host without the engine's files
    config, problems = load_routing_config(path, settings.limits.yaml())
    if problems or config is None:
        details = "; ".join(str(p) for p in problems[:3]) or "could not be loaded"
        raise CliError(f"{path}: routing file with problems ({details}); fix it or pass --threshold/--short-abandon")
    rules = report_rules(config, thresholds=args.threshold is None and args.short_abandon is None, formulas=args.sl_formula is None)
    return QueueRules(rules, path, path)


def _report_range(args: argparse.Namespace, tz_name: str) -> tuple[float, float]:
    """``--period``, else ``--from``/``--to``, else today on the centre's calendar."""
    if args.period is not None:
        if args.start or args.end:
            raise CliError("--period replaces --from/--to: give one or the other")
        try:
            return period_range(args.period, zone(tz_name), time.time())
        except TimeInputError as exc:
            raise CliError(str(exc)) from None
    if not args.start and not args.end:
        return period_range("today", zone(tz_name), time.time())
    start, end = time_range(args, tz_name)
    assert start is not None and end is not None
    return start, end


def _warn_default_rules(args: argparse.Namespace, settings: Any, rules: QueueRules, threshold: float, short: float) -> None:
    """One stderr line when queues' own rules could not be applied (flags covering all are fine)."""
    if rules.defaults_used and (args.threshold is None or args.short_abandon is None or args.sl_formula is None):
        print(
            f"acd report: warning: no routing file at {rules.looked_for} (routing.config, settings: {settings.source}): "
            f"every queue is reported with the default rules (threshold {threshold:g} s, short abandon {short:g} s, "
            f"formula {args.sl_formula or 'offered'}), not its own; pass --routing FILE or --settings FILE",
            file=sys.stderr,
        )


#: Past days without stored figures from which a report says why it is slow this once.
BUILDING_NOTE_DAYS = 7


async def _say_when_building(store: Any, rules: Any, start: float, end: float, tz_name: str) -> None:
    """One stderr line when this report must first compute many past days (then stores them)."""
    from acd.metrics.warmup import missing_days

    first = await store.first_event_ts()
    if first is None:
        return
    missing = await missing_days(store, rules, max(start, first), min(end, time.time()), tz_name)  # days before the log: nothing to replay
    if len(missing) >= BUILDING_NOTE_DAYS:
        print(
            f"acd report: computing the figures of {len(missing)} past days from the raw log first (after an upgrade "
            "or a rules change; stored for later reports; `acd report --warm` builds them ahead)",
            file=sys.stderr,
        )


async def _warm(store: Any, settings: Any, rules: Any, tz_name: str, now: float) -> int:
    """``--warm``: the report rules' past days, then the SLA contract's (``acd sla``, the console's SLA page)."""
    from acd.metrics.reports import report_rules
    from acd.metrics.sla import Contract, ContractError, load_contract
    from acd.metrics.warmup import warm_cells

    jobs = [("reports", rules, tz_name)]
    try:
        contract = (
            load_contract(settings.resolve(settings.sla.contract), settings.limits.yaml())
            if settings.sla.contract else Contract(timezone=settings.routing.timezone)
        )
        jobs.append(("SLA", report_rules(contract.threshold_s, contract.short_abandon_s, None), contract.timezone))
    except ContractError:
        print("acd report: warning: the SLA contract file has errors: its figures are not warmed (see acd sla)", file=sys.stderr)
    for name, job_rules, zone_name in jobs:
        result = await warm_cells(store, rules=job_rules, timezone=zone_name, now=now)
        print(
            f"acd report: {name}: {result.days_built} past days stored of {result.days_missing} missing "
            f"({result.seconds:.1f} s)", file=sys.stderr,
        )
    return 0


def _dispositions(args: argparse.Namespace) -> int:
    """``--dispositions``: the codes of ``call.disposition`` events in the range (acd.metrics.dispositions)."""
    from acd.metrics import dispositions

    async def body() -> int:
        _choice("--by", args.by, dispositions.GROUPINGS)
        _choice("--format", args.format, FORMATS)
        _choice("--interval", args.interval, INTERVALS)
        settings = settings_from(args)
        tz_name = timezone_name(args, settings)
        start, end = _report_range(args, tz_name)
        by = args.by or "queue"
        store = await open_store(database_path(args, settings))
        try:
            events = await store.events(start, end, types=["call.disposition"], queue=args.queue)
            if by == "skill":  # each call's skills, from its queueing (up to a day before the range)
                events = await store.events(start - DAY, end, types=["call.queued"], queue=args.queue) + events
        finally:
            await store.close()
        report = dispositions.disposition_report(events, start, end, by=by, interval=args.interval, timezone=tz_name)
        text = {"table": dispositions.as_table, "csv": dispositions.as_csv, "json": dispositions.as_json}[args.format](report)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0

    return run_command("report", body)


def handle(args: argparse.Namespace) -> int:
    if args.dispositions:
        return _dispositions(args)

    async def body() -> int:
        _choice("--interval", args.interval, INTERVALS)
        _choice("--by", args.by, ("queue", "skill"))
        _choice("--format", args.format, FORMATS)
        _choice("--sl-formula", args.sl_formula, SL_FORMULAS)
        threshold = DEFAULT_THRESHOLD_S if args.threshold is None else _number("--threshold", args.threshold)
        short = DEFAULT_SHORT_ABANDON_S if args.short_abandon is None else _number("--short-abandon", args.short_abandon)
        target = _number("--target", args.target, high=100.0)
        settings = settings_from(args)
        rules = _queue_rules(args, settings)
        _warn_default_rules(args, settings, rules, threshold, short)
        tz_name = timezone_name(args, settings)
        start, end = _report_range(args, tz_name)
        from acd.metrics.aggregates import rebuild, store_report

        now = time.time()
        store = await open_store(database_path(args, settings))
        try:
            if args.warm:
                return await _warm(store, settings, report_rules(threshold, short, rules.rules.get("queue_rules")), tz_name, now)
            if not args.no_cache and not args.rebuild:
                await _say_when_building(store, report_rules(threshold, short, rules.rules.get("queue_rules")), start, end, tz_name)
            if args.rebuild:
                whole_log = args.period is None and not args.start and not args.end
                stored = await rebuild(
                    store, rules=report_rules(threshold, short, rules.rules.get("queue_rules")), now=now, timezone=tz_name,
                    start=None if whole_log else start, end=None if whole_log else end,
                )
                print(f"acd report: {stored} quarter-hour cells rebuilt from the raw log", file=sys.stderr)
            incidents = await store.incidents(start, end)
            report = await store_report(
                store,
                start,
                end,
                now=now,
                interval=args.interval,
                timezone=tz_name,
                by=args.by,
                queue=args.queue,
                threshold_s=threshold,
                short_abandon_s=short,
                sl_formula=args.sl_formula or "offered",
                incidents=incidents,
                use_cache=not args.no_cache,
                **rules.rules,
            )
        finally:
            await store.close()
        from acd.metrics import render

        tz = zone(tz_name)
        if args.format == "json":
            source = {"routing_file": str(rules.routing_file) if rules.routing_file else None, "default_rules": rules.defaults_used}
            text = render.report_json(report, tz, extra=source)
        else:
            text = {"table": render.report_table, "csv": render.report_csv}[args.format](report, tz)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        if args.chart:
            from acd.metrics.chart import ChartError, write_chart

            try:
                write_chart(report, args.chart, target)
            except ChartError as exc:
                raise CliError(str(exc), DATA_ERROR) from None
        return 0

    return run_command("report", body)
