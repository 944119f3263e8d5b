"""``acd sla``: a month's contract service level, abandonment, penalty (UF) and unavailability.

Examples::

    acd sla                                   # this month so far, contract from the settings
    acd sla --month 2026-03 --contract-start 2026-01
    acd sla --month 2026-03 --contract-start 2026-01 --json
    acd sla --month 2026-03 --contract contract.yaml

Targets, penalty rates, business hours and the rounding rule: ``acd.metrics.sla``.
Without ``--contract-start`` (or ``start:`` in the contract file) the steady-state
targets (month 3 onward) apply.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

from acd.cli._report_common import (
    CliError,
    add_common_arguments,
    database_path,
    open_store,
    run_command,
    settings_from,
)
from acd.base.holiday_calendar import stale_calendar_warning
from acd.metrics.sla import Contract, ContractError, contract_month, evaluate_month, load_contract, month_range, sla_report_options
from acd.metrics.timeutil import TimeInputError, parse_month, zone
from acd.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sla",
        help="monthly contract compliance: service level, abandonment, penalty in UF, unavailable hours",
        description="Contract SLA of one calendar month, recomputed from the event log.",
    )
    parser.add_argument("--month", metavar="YYYY-MM", help="the month to evaluate (default: the current month in the contract's timezone)")
    parser.add_argument("--contract-start", metavar="YYYY-MM", help="first month of the contract (month 1)")
    parser.add_argument("--contract", metavar="FILE", help="contract file (YAML) overriding the tender's defaults")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def _contract(args: argparse.Namespace, settings: Settings) -> Contract:
    """``--contract``, else the settings' ``sla.contract``, else the tender's defaults."""
    path = args.contract or (settings.resolve(settings.sla.contract) if settings.sla.contract else None)
    if not path:
        return Contract(timezone=settings.routing.timezone)
    try:
        return load_contract(path, settings.limits.yaml())
    except ContractError as exc:
        raise CliError("\n".join(str(p) for p in exc.problems) or f"bad contract file {path}") from None


def handle(args: argparse.Namespace) -> int:
    async def body() -> int:
        settings = settings_from(args)
        contract = _contract(args, settings)
        if not args.month:
            today = datetime.now(zone(contract.timezone))
            args.month = f"{today.year:04d}-{today.month:02d}"
        try:
            year, month = parse_month(args.month)
            if args.contract_start is not None:
                parse_month(args.contract_start)
        except TimeInputError as exc:
            raise CliError(str(exc)) from None
        try:
            contract_month(year, month, args.contract_start or contract.start)
        except TimeInputError as exc:
            raise CliError(str(exc)) from None
        start, end = month_range(year, month, contract.timezone)
        if contract.calendar is not None:
            warning = stale_calendar_warning("the contract's holiday calendar", contract.calendar, [year])
            if warning:
                print(f"acd sla: warning: {warning}", file=sys.stderr)
        from acd.metrics.aggregates import store_report

        now = time.time()
        store = await open_store(database_path(args, settings))
        try:
            report = await store_report(store, start, end, now=now, **sla_report_options(contract))  # type: ignore[arg-type]
            events = await store.availability_events(start, end)
            incidents = await store.incidents(start, end)
        finally:
            await store.close()
        result = evaluate_month(
            events, year, month, contract, contract_start=args.contract_start, now=now, incidents=incidents, report=report
        )
        from acd.features.quality.bonus import quality_dict, quality_of_month, quality_text
        from acd.metrics import render

        tz = zone(contract.timezone)
        cmonth = contract_month(year, month, args.contract_start or contract.start)
        quality = quality_of_month(settings, start, end, cmonth)
        if args.json:
            figures = {**render.sla_dict(result, tz), "quality_bonus": quality_dict(quality, cmonth)}
            sys.stdout.write(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(render.sla_text(result, tz) + quality_text(quality))
        return 0

    return run_command("sla", body)
