"""Reports and SLA results as JSON, CSV and a terminal table.

Rounding for display only: percentages to 2 decimals and seconds to 0.1 s, half-up on
the exact value (``reports.round_half_up``); counts are never rounded.  JSON numbers are
those rounded values, so two runs over the same log print byte-identical output.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from acd.metrics.reports import Figures, Report, Row, round_half_up
from acd.metrics.sla import SlaResult
from acd.metrics.store import Incident
from acd.metrics.timeutil import fmt_local

FIGURE_KEYS = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "abandoned_within",
    "short_abandons",
    "waiting",
    "timed_out",
    "overflowed_out",
    "pending_within",
    "service_level",
    "sl_asterisk",
    "sl2_asterisk",
    "abandonment_rate",
    "asa_s",
    "aht_s",
    "longest_wait_s",
    "handled",
    "callbacks_requested",
    "callbacks_completed",
    "survey_responses",
    "survey_average",
    "survey_top2_pct",
    "agent_logged_in_s",
    "agent_available_s",
    "agent_busy_s",
    "occupancy",
)


def _num(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)


def display_values(f: Figures) -> dict[str, int | Decimal | None]:
    """Figures rounded for display (see module docstring), as exact Decimals."""
    seconds = lambda v: round_half_up(v, 1)  # noqa: E731
    percent = lambda v: round_half_up(v, 2)  # noqa: E731
    return {
        "offered": f.offered,
        "answered": f.answered,
        "answered_within": f.answered_within,
        "abandoned": f.abandoned,
        "abandoned_within": f.abandoned_within,
        "short_abandons": f.short_abandons,
        "waiting": f.waiting,
        "timed_out": f.timed_out,
        "overflowed_out": f.overflowed_out,
        "pending_within": f.pending_within,
        "service_level": percent(f.service_level),
        "sl_asterisk": percent(f.sl_asterisk),
        "sl2_asterisk": percent(f.sl2_asterisk),
        "abandonment_rate": percent(f.abandonment_rate),
        "asa_s": seconds(f.asa_s),
        "aht_s": seconds(f.aht_s),
        "longest_wait_s": seconds(f.longest_wait_s),
        "handled": f.handled,
        "callbacks_requested": f.callbacks_requested,
        "callbacks_completed": f.callbacks_completed,
        "survey_responses": f.survey_responses,
        "survey_average": percent(f.survey_average),
        "survey_top2_pct": percent(f.survey_top2_pct),
        "agent_logged_in_s": seconds(f.agent_logged_in_s),
        "agent_available_s": seconds(f.agent_available_s),
        "agent_busy_s": seconds(f.agent_busy_s),
        "occupancy": percent(f.occupancy),
    }


def figures_dict(f: Figures) -> dict[str, Any]:
    """Figures as JSON-ready numbers (rounded for display)."""
    return {key: value if isinstance(value, int) or value is None else _num(value) for key, value in display_values(f).items()}


def incident_end(incident: Incident, tz: ZoneInfo) -> str:
    return fmt_local(incident.end, tz) if incident.end is not None else "(open)"


def incident_dict(incident: Incident, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": incident.id,
        "from": fmt_local(incident.start, tz),
        "to": fmt_local(incident.end, tz) if incident.end is not None else None,  # None: still going on
        "text": incident.text,
        "created": fmt_local(incident.created, tz),
        "severity": incident.severity,
        "author": incident.author,
    }


def row_label(row: Row, interval: str) -> str:
    if interval == "month":
        return row.label.strftime("%Y-%m")
    if interval == "day":
        return row.label.strftime("%Y-%m-%d")
    return row.label.strftime("%Y-%m-%d %H:%M")


def _labels(report: Report) -> list[str]:
    """Row labels; an hour that happens twice (DST ends) gets its UTC offset to tell them apart."""
    labels = [row_label(row, report.params.interval) for row in report.rows]
    repeated = {label for label, count in Counter(labels).items() if count > 1}
    return [
        f"{label} ({row.label.strftime('%z')[:3]})" if label in repeated else label
        for label, row in zip(labels, report.rows)
    ]


def report_dict(report: Report, tz: ZoneInfo) -> dict[str, Any]:
    p = report.params
    intervals = []
    for label, row in zip(_labels(report), report.rows):
        item: dict[str, Any] = {"label": label, "start": fmt_local(row.start, tz), "end": fmt_local(row.end, tz)}
        item.update(figures_dict(row.figures))
        item["incidents"] = list(row.incidents)
        if p.by is not None:
            item["groups"] = {name: figures_dict(f) for name, f in row.groups.items()}
        intervals.append(item)
    total: dict[str, Any] = figures_dict(report.total)
    if p.by is not None:
        total["groups"] = {name: figures_dict(f) for name, f in report.group_totals.items()}
    return {
        "from": fmt_local(p.start, tz),
        "to": fmt_local(p.end, tz),
        "timezone": p.timezone,
        "interval": p.interval,
        "queue": p.queue,
        "by": p.by,
        "threshold_s": p.threshold_s,
        "short_abandon_s": p.short_abandon_s,
        "sl_formula": p.sl_formula,
        "queue_rules": {
            name: {"threshold_s": rules.threshold_s, "short_abandon_s": rules.short_abandon_s}
            for name, rules in sorted(report.queue_rules.items())
        },
        "wait_estimates": report.wait_estimates,
        "intervals": intervals,
        "total": total,
        "incidents": [incident_dict(i, tz) for i in report.incidents],
    }


def report_json(report: Report, tz: ZoneInfo, extra: dict[str, Any] | None = None) -> str:
    """``extra``: fields the command adds (``acd report``: which routing file gave the rules).

    Indented at the top, with one interval (and one incident) per line: a month in quarter
    hours is 2,880 rows, which Python's indenting encoder (pure Python) took longer to
    write than the report took to compute; each row goes through the C encoder instead,
    and a row per line reads and greps better too.  The same JSON value either way."""
    return _rows_per_line({**report_dict(report, tz), **(extra or {})})


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _rows_per_line(data: dict[str, Any]) -> str:
    lines = ["{"]
    last = len(data) - 1
    for index, (key, value) in enumerate(data.items()):
        comma = "," if index < last else ""
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"  {_compact(key)}: [")
            lines += [f"    {_compact(item)}{',' if i < len(value) - 1 else ''}" for i, item in enumerate(value)]
            lines.append(f"  ]{comma}")
        else:
            nested = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            lines.append(f"  {_compact(key)}: {nested}{comma}")
    lines.append("}")
    return "\n".join(lines)


def report_csv(report: Report, tz: ZoneInfo) -> str:
    """One line per interval (group empty), per interval and group, and the totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "label", "start", "end", "group", *FIGURE_KEYS, "incidents"])
    texts = {i.id: i.text for i in report.incidents}

    def line(kind: str, label: str, start: float, end: float, group: str, f: Figures, incidents: tuple[int, ...]) -> None:
        values = figures_dict(f)
        notes = "; ".join(f"#{i} {texts.get(i, '')}".strip() for i in incidents)
        cells = ["" if values[k] is None else values[k] for k in FIGURE_KEYS]
        writer.writerow([kind, label, fmt_local(start, tz), fmt_local(end, tz), group, *cells, notes])

    for label, row in zip(_labels(report), report.rows):
        line("interval", label, row.start, row.end, "", row.figures, row.incidents)
        for name, figures in row.groups.items():
            line("interval", label, row.start, row.end, name, figures, row.incidents)
    p = report.params
    all_incidents = tuple(i.id for i in report.incidents)
    line("total", "total", p.start, p.end, "", report.total, all_incidents)
    for name, figures in report.group_totals.items():
        line("total", "total", p.start, p.end, name, figures, all_incidents)
    return out.getvalue()


_COLUMNS = (
    ("Offered", "offered"),
    ("Ans", "answered"),
    ("<=T", "answered_within"),
    ("Aband", "abandoned"),
    ("Short", "short_abandons"),
    ("SL%", "service_level"),
    ("Ab%", "abandonment_rate"),
    ("ASA", "asa_s"),
    ("AHT", "aht_s"),
    ("MaxW", "longest_wait_s"),
    ("CB req", "callbacks_requested"),
    ("CB ok", "callbacks_completed"),
    ("Surv", "survey_responses"),
    ("Avg", "survey_average"),
    ("4-5%", "survey_top2_pct"),
    ("Login h", "agent_logged_in_s"),
    ("Avail h", "agent_available_s"),
    ("Occ%", "occupancy"),
)


def _cell(key: str, value: int | Decimal | None) -> str:
    if value is None:
        return "-"
    if key.startswith("agent_"):
        return str(round_half_up(Fraction(value) / 3600, 1))  # hours in the table
    return str(value)


def report_table(report: Report, tz: ZoneInfo) -> str:
    p = report.params
    header = ["Interval", *(["Group"] if p.by else []), *(name for name, _ in _COLUMNS), "Incidents"]
    rows: list[list[str]] = []

    def add(label: str, group: str | None, f: Figures, incidents: tuple[int, ...]) -> None:
        values = display_values(f)
        cells = [_cell(key, values[key]) for _, key in _COLUMNS]
        rows.append([label, *([group or "all"] if p.by else []), *cells, ",".join(f"#{i}" for i in incidents)])

    for label, row in zip(_labels(report), report.rows):
        add(label, None, row.figures, row.incidents)
        for name, figures in row.groups.items():
            add("", name, figures, ())
    add("TOTAL", None, report.total, tuple(i.id for i in report.incidents))
    for name, figures in report.group_totals.items():
        add("", name, figures, ())
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"acd report {fmt_local(p.start, tz)} .. {fmt_local(p.end, tz)} ({p.timezone}), interval {p.interval}"
        + (f", queue {p.queue}" if p.queue else "")
        + f"; SL = {p.sl_formula} within {p.threshold_s:g} s, short abandons <= {p.short_abandon_s:g} s",
        "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))),
    ]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    if report.queue_rules:
        own = ", ".join(f"{name} {r.threshold_s:g}/{r.short_abandon_s:g} s" for name, r in sorted(report.queue_rules.items()))
        lines.append(f"Queues' own threshold/short-abandon (routing configuration): {own}")
    estimates = report.wait_estimates
    if estimates.get("announcements"):
        lines.append(
            f"Wait estimates announced: {estimates['announcements']}; absolute error median "
            f"{estimates['median_abs_error_s']} s, 90th percentile {estimates['p90_abs_error_s']} s"
        )
    if report.incidents:
        lines.append("Incidents:")
        for incident in report.incidents:
            lines.append(f"  #{incident.id} {fmt_local(incident.start, tz)} .. {incident_end(incident, tz)}  {incident.text}")
    if p.queue is not None:
        lines.append("Agent time is not split by queue: shown only for all queues together.")
    return "\n".join(lines) + "\n"


def sla_dict(result: SlaResult, tz: ZoneInfo) -> dict[str, Any]:
    f = result.figures
    return {
        "month": result.month,
        "contract_start": result.contract_start,
        "contract_month": result.contract_month,
        "timezone": result.contract.timezone,
        "from": fmt_local(result.start, tz),
        "to": fmt_local(result.end, tz),
        "partial": result.partial,
        "service_level": _num(result.service_level),
        "abandonment_rate": _num(result.abandonment_rate),
        "service_level_exact": _num(round_half_up(f.sl_offered, 4)),
        "abandonment_rate_exact": _num(round_half_up(f.abandonment_rate, 4)),
        "targets": {
            "service_level_min": _num(result.tier.service_level_min),
            "threshold_s": result.contract.threshold_s,
            "abandonment_max": _num(result.tier.abandonment_max),
            "short_abandon_s": result.contract.short_abandon_s,
            "unavailable_max_hours": _num(result.contract.unavailable_max_hours),
            "report_availability_min": _num(result.contract.report_availability_min),
        },
        "compliant": {
            "service_level": result.service_level_met,
            "abandonment": result.abandonment_met,
            "availability": result.availability_met,
            "report_availability": result.report_availability_met,
        },
        "service_level_shortfall_tenths": result.service_level_shortfall_tenths,
        "abandonment_excess_tenths": result.abandonment_excess_tenths,
        "penalty_uf": _num(result.penalty_uf),
        "penalty_detail_uf": {
            "service_level": _num(result.penalty_service_level_uf),
            "abandonment": _num(result.penalty_abandonment_uf),
            "unavailability": _num(result.penalty_unavailability_uf),
            "report_availability": _num(result.penalty_report_availability_uf),
        },
        "formulas": sla_formulas(result),
        "unavailable_whole_hours": result.unavailable_whole_hours,
        "unavailable_hours": _num(result.unavailable_hours),
        "outages": [
            {"from": fmt_local(o.start, tz), "to": fmt_local(o.end, tz), "hours": _num(round_half_up(o.seconds / 3600, 2)), "reason": o.reason}
            for o in result.outages
        ],
        "report_availability": _num(result.report_availability),
        "report_availability_shortfall_points": result.report_availability_shortfall_points,
        "report_availability_measured_from": fmt_local(result.reports.measured_from, tz) if result.reports.measured_from is not None else None,
        "report_outages": [
            {"from": fmt_local(o.start, tz), "to": fmt_local(o.end, tz), "hours": _num(round_half_up(o.seconds / 3600, 2)), "reason": o.reason}
            for o in result.reports.outages
        ],
        "calls": {
            "offered": f.offered,
            "answered": f.answered,
            "answered_within": f.answered_within,
            "abandoned": f.abandoned,
            "short_abandons": f.short_abandons,
            "waiting": f.waiting,
        },
        "incidents": [incident_dict(i, tz) for i in result.incidents],
    }


def sla_formulas(result: SlaResult) -> dict[str, str]:
    """Each fined line's arithmetic with its inputs, so the invoice can be checked by hand."""
    c = result.contract
    return {
        "service_level": f"{c.penalty_uf_per_tenth_service_level} UF x {result.service_level_shortfall_tenths} tenths short of "
        f"{result.tier.service_level_min}% (measured {result.service_level if result.service_level is not None else '-'}%, half-up to a tenth)",
        "abandonment": f"{c.penalty_uf_per_tenth_abandonment} UF x {result.abandonment_excess_tenths} tenths over "
        f"{result.tier.abandonment_max}% (measured {result.abandonment_rate if result.abandonment_rate is not None else '-'}%, half-up to a tenth)",
        "unavailability": f"{c.penalty_uf_per_unavailable_hour} UF x {result.unavailable_whole_hours} whole business hours without service "
        f"({result.unavailable_hours} h measured in business hours, holidays excluded)",
        "report_availability": f"{c.penalty_uf_per_report_availability_point} UF x {result.report_availability_shortfall_points} whole points short of "
        f"{c.report_availability_min}% (measured {_availability_words(result)}, every hour since the console first served)",
    }


def _availability_words(result: SlaResult) -> str:
    if result.report_availability is None:
        return "nothing: no console heartbeat recorded"
    return f"{result.report_availability}% of {round_half_up(result.reports.measured_seconds / 3600, 1)} h, half-up to a tenth"


def sla_text(result: SlaResult, tz: ZoneInfo) -> str:
    d = sla_dict(result, tz)
    t = d["targets"]
    ok = {True: "OK", False: "NOT MET", None: "no calls"}
    month = f"contract month {result.contract_month}" if result.contract_month else "no contract start given: steady-state targets"
    fmt = lambda v, unit="%": "-" if v is None else f"{v}{unit}"  # noqa: E731
    lines = [
        f"SLA {d['month']} ({month}){' — PARTIAL MONTH' if d['partial'] else ''}",
        f"  offered {d['calls']['offered']}, answered {d['calls']['answered']} ({d['calls']['answered_within']} within {t['threshold_s']:g} s), "
        f"abandoned {d['calls']['abandoned']} ({d['calls']['short_abandons']} short <= {t['short_abandon_s']:g} s)",
        f"  service level  {fmt(d['service_level']):>8}  target >= {t['service_level_min']}%  "
        f"{ok[d['compliant']['service_level']]}  shortfall {d['service_level_shortfall_tenths']} tenths "
        f"= {d['penalty_detail_uf']['service_level']} UF",
        f"  abandonment    {fmt(d['abandonment_rate']):>8}  target <= {t['abandonment_max']}%  "
        f"{ok[d['compliant']['abandonment']]}  excess {d['abandonment_excess_tenths']} tenths "
        f"= {d['penalty_detail_uf']['abandonment']} UF",
        f"  unavailable    {d['unavailable_hours']:>7} h  target < {t['unavailable_max_hours']} business h  "
        f"{ok[d['compliant']['availability']]}  {d['unavailable_whole_hours']} whole h = {d['penalty_detail_uf']['unavailability']} UF",
        f"  reports        {fmt(d['report_availability']):>8}  target >= {t['report_availability_min']}%  "
        f"{ok[d['compliant']['report_availability']] if d['compliant']['report_availability'] is not None else 'not measured'}  "
        f"short {d['report_availability_shortfall_points']} points = {d['penalty_detail_uf']['report_availability']} UF",
        f"  PENALTY {d['penalty_uf']} UF",
        *(f"    {line}: {formula}" for line, formula in d["formulas"].items()),
    ]
    for outage in d["outages"]:
        lines.append(f"  outage {outage['from']} .. {outage['to']} ({outage['hours']} h): {outage['reason']}")
    for outage in d["report_outages"]:
        lines.append(f"  reports down {outage['from']} .. {outage['to']} ({outage['hours']} h): {outage['reason']}")
    for incident in d["incidents"]:
        lines.append(f"  incident #{incident['id']} {incident['from']} .. {incident['to'] or '(open)'}: {incident['text']}")
    return "\n".join(lines) + "\n"


__all__ = ["display_values", "figures_dict", "report_csv", "report_dict", "report_json", "report_table", "sla_dict", "sla_formulas", "sla_text"]
