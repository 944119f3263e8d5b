"""``acd quality``: check evaluation forms; the month's quality scores per agent against the bonus target.

    acd quality check                       # every form in quality.forms_dir
    acd quality check my-form.yaml          # FILE:LINE:COL: message per problem
    acd quality scores --month 2026-03      # per agent, and the month against the bonus target
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from acd.cli._common import add_settings_argument, settings_or_exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quality", help="quality evaluation: check forms; scores per agent and the bonus")
    commands = parser.add_subparsers(dest="quality_command", metavar="COMMAND")
    check = commands.add_parser("check", help="validate evaluation forms (default: every form in quality.forms_dir)")
    add_settings_argument(check)
    check.add_argument("paths", nargs="*", metavar="FORM", help="form files or folders")
    check.set_defaults(handler=check_forms)
    scores = commands.add_parser("scores", help="a month's graded calls per agent and the month against the bonus target")
    add_settings_argument(scores)
    scores.add_argument("--month", metavar="YYYY-MM", help="default: this month")
    scores.add_argument("--json", action="store_true")
    scores.set_defaults(handler=month_scores)
    parser.set_defaults(handler=lambda args: (parser.print_help(sys.stderr), 2)[1])


def check_forms(args: argparse.Namespace) -> int:
    from acd.features.quality.forms import FormError, load_form, load_forms

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    limits = settings.limits.yaml()
    targets = [Path(p) for p in args.paths] or [settings.resolve(settings.quality.forms_dir)]
    good, problems = 0, []
    for target in targets:
        if target.is_dir():
            forms, found = load_forms(target, limits)
            good += len(forms)
            problems.extend(found)
            if not forms and not found:
                problems.append(f"{target}: no forms (*.yaml)")
        elif target.is_file():
            try:
                load_form(target, limits)
                good += 1
            except FormError as exc:
                problems.extend(exc.problems)
        else:
            problems.append(f"{target}: no such file or folder")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{good} form(s) valid" + (f", {len(problems)} problem(s)" if problems else ""))
    return 1 if problems else 0


def month_scores(args: argparse.Namespace) -> int:
    from acd.features.quality.bonus import quality_dict, quality_of_month, quality_text
    from acd.metrics.sla import ContractError, contract_month, load_contract, month_range
    from acd.metrics.timeutil import TimeInputError, parse_month, zone

    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    start_month, tz_name = None, settings.routing.timezone
    if settings.sla.contract:
        try:
            contract = load_contract(settings.resolve(settings.sla.contract), settings.limits.yaml())
        except ContractError as exc:
            print("\n".join(str(p) for p in exc.problems) or f"acd quality: bad contract file {settings.sla.contract}", file=sys.stderr)
            return 1
        start_month, tz_name = contract.start, contract.timezone
    try:
        if args.month:
            year, month = parse_month(args.month)
        else:
            today = datetime.now(zone(tz_name))
            year, month = today.year, today.month
        cmonth = contract_month(year, month, start_month)
    except TimeInputError as exc:
        print(f"acd quality scores: {exc}", file=sys.stderr)
        return 2
    start, end = month_range(year, month, tz_name)
    quality = quality_of_month(settings, start, end, cmonth)
    if args.json:
        print(json.dumps({"month": f"{year:04d}-{month:02d}", **quality_dict(quality, cmonth)}, indent=2))
        return 0
    print(f"{year:04d}-{month:02d}" + (f" (contract month {cmonth})" if cmonth else ""))
    for agent in quality.agents:
        print(f"  {agent.agent:<16} {agent.calls:>4} graded  {agent.average:>6} %  critical failed {agent.critical_failed}")
    sys.stdout.write(quality_text(quality))
    return 0
