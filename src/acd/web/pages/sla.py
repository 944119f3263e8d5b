"""SLA: the month's compliance with every contract line ``acd sla`` computes, penalties in UF.

The page shows ``acd.metrics.render.sla_dict`` (what ``acd sla --json`` prints) for the
chosen month, and the daily service level against the month's target as a chart, with
the days an incident touched shaded and numbered, so a bad day and its explanation sit
side by side.  The daily figures are the report's (``interval=day`` with the
contract's threshold), read from stored cells like the month's total.
"""

from __future__ import annotations

import asyncio

import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from acd.metrics import render as figures_render
from acd.metrics.aggregates import store_report
from acd.metrics.sla import contract_month, evaluate_month, month_range, sla_report_options
from acd.metrics.timeutil import TimeInputError, parse_month, zone
from acd.features.quality.bonus import quality_dict, quality_of_month
from acd.web.access import Viewer
from acd.web.charts import Series, levels_chart
from acd.web.i18n import translate
from acd.web.pages import NavItem
from acd.web.pages._reporting import PageInputError, contract_of, event_store, month_label, previous_month, settings_of
from acd.web.render import language_of, render
from acd.web.session import require

router = APIRouter()
NAV = [NavItem("/sla", "nav.sla", "view_sla", order=40)]

MESSAGES = {
    "es": {
        "nav.sla": "SLA", "sla.title": "Cumplimiento del contrato (SLA)", "sla.month": "Mes", "sla.show": "Ver",
        "sla.previous": "Mes anterior", "sla.current": "Mes actual", "sla.partial": "Mes en curso: cifras parciales.",
        "sla.contract_month": "Mes {n} del contrato", "sla.line": "Línea", "sla.measured": "Medido", "sla.target": "Meta",
        "sla.met": "Cumple", "sla.penalty": "Multa UF", "sla.formula": "Cálculo", "sla.total": "Multa total",
        "sla.line.service_level": "Nivel de servicio %", "sla.line.abandonment": "Abandono %",
        "sla.line.availability": "Horas hábiles sin servicio", "sla.line.report_availability": "Disponibilidad de reportes %",
        "sla.daily": "Nivel de servicio diario (incidentes sombreados)", "sla.incidents": "Incidentes del mes",
        "sla.outages": "Cortes de servicio", "sla.report_outages": "Cortes de la consola de reportes", "sla.calls": "Llamadas",
        "sla.none": "Ninguno", "sla.not_measured": "no medido", "sla.bad_month": "Mes no válido: use AAAA-MM.",
        "sla.day": "Día", "sla.edit_incidents": "Bitácora de incidentes",
        "sla.quality": "Bono de calidad (mes {n} del contrato)",
        "sla.quality.value": "{avg} % en {calls} llamadas evaluadas; meta {target} %",
        "sla.quality.none": "Ninguna llamada evaluada este mes (meta {target} %)",
    },
    "en": {
        "nav.sla": "SLA", "sla.title": "Contract compliance (SLA)", "sla.month": "Month", "sla.show": "Show",
        "sla.previous": "Previous month", "sla.current": "Current month", "sla.partial": "Month in progress: partial figures.",
        "sla.contract_month": "Contract month {n}", "sla.line": "Line", "sla.measured": "Measured", "sla.target": "Target",
        "sla.met": "Met", "sla.penalty": "Penalty UF", "sla.formula": "Arithmetic", "sla.total": "Total penalty",
        "sla.line.service_level": "Service level %", "sla.line.abandonment": "Abandonment %",
        "sla.line.availability": "Business hours without service", "sla.line.report_availability": "Report availability %",
        "sla.daily": "Daily service level (incidents shaded)", "sla.incidents": "Incidents of the month",
        "sla.outages": "Service outages", "sla.report_outages": "Report console outages", "sla.calls": "Calls",
        "sla.none": "None", "sla.not_measured": "not measured", "sla.bad_month": "Bad month: use YYYY-MM.",
        "sla.day": "Day", "sla.edit_incidents": "Incident log",
        "sla.quality": "Quality bonus (contract month {n})",
        "sla.quality.value": "{avg} % over {calls} graded calls; target {target} %",
        "sla.quality.none": "No graded calls this month (target {target} %)",
    },
}


def _lines(sla: dict[str, Any]) -> list[dict[str, Any]]:
    """The contract's lines as table rows (keys of ``acd sla --json``)."""
    targets, met, fines, formulas = sla["targets"], sla["compliant"], sla["penalty_detail_uf"], sla["formulas"]
    return [
        {"key": "service_level", "measured": sla["service_level"], "target": f"≥ {targets['service_level_min']}", "met": met["service_level"],
         "penalty": fines["service_level"], "formula": formulas["service_level"]},
        {"key": "abandonment", "measured": sla["abandonment_rate"], "target": f"≤ {targets['abandonment_max']}", "met": met["abandonment"],
         "penalty": fines["abandonment"], "formula": formulas["abandonment"]},
        {"key": "availability", "measured": sla["unavailable_hours"], "target": f"< {targets['unavailable_max_hours']}", "met": met["availability"],
         "penalty": fines["unavailability"], "formula": formulas["unavailability"]},
        {"key": "report_availability", "measured": sla["report_availability"], "target": f"≥ {targets['report_availability_min']}",
         "met": met["report_availability"], "penalty": fines["report_availability"], "formula": formulas["report_availability"]},
    ]


@router.get("/sla")
async def sla_page(
    request: Request,
    month: str | None = Query(None, max_length=10),
    viewer: Viewer = Depends(require("view_sla")),
) -> Response:
    settings = settings_of(request)
    lang = language_of(request)
    try:
        contract = contract_of(settings)
    except PageInputError as exc:
        return render(request, "error.html", {"message": str(exc)}, status=500)
    tz = zone(contract.timezone)
    today = datetime.now(tz)
    current = month_label(today.year, today.month)
    try:
        year, number = parse_month(month or current)
        index = contract_month(year, number, contract.start)
    except TimeInputError:
        return render(request, "sla.html", {"error": "sla.bad_month", "month": month or "", "current": current}, status=400)
    start, end = month_range(year, number, contract.timezone)
    now = time.time()
    try:
        async with event_store(request) as store:
            incidents = await store.incidents(start, end)
            total = await store_report(store, start, end, now=now, **sla_report_options(contract))  # type: ignore[arg-type]
            daily = await store_report(store, start, end, now=now, incidents=incidents, **sla_report_options(contract, "day"))  # type: ignore[arg-type]
            events = await store.availability_events(start, end)
    except PageInputError as exc:
        return render(request, "sla.html", {"error": str(exc), "month": month_label(year, number), "current": current})
    result = evaluate_month(events, year, number, contract, now=now, incidents=incidents, report=total)
    sla = figures_render.sla_dict(result, tz)
    days = figures_render.report_dict(daily, tz)["intervals"]
    chart = levels_chart(
        Series(
            [d["label"] for d in days], [d["offered"] for d in days], [d["service_level"] for d in days],
            translate(lang, "col.offered"), translate(lang, "col.service_level"),
            float(result.tier.service_level_min), translate(lang, "sla.target"),
            [", ".join(f"#{i}" for i in d["incidents"]) for d in days],
        ),
        chart_id="sla-chart",
    )
    prev = month_label(*previous_month(year, number))
    # The quality bonus line (acd.features.quality.bonus, the same function as acd sla's)
    quality = quality_dict(await asyncio.to_thread(quality_of_month, settings, start, end, index), index)
    return render(request, "sla.html", {
        "quality": quality,
        "error": None, "sla": sla, "lines": _lines(sla), "days": days, "chart": chart, "month": month_label(year, number),
        "current": current, "previous": prev, "contract_index": index,
        "may_edit": viewer.may("edit_incidents"), "may_view_incidents": viewer.may("view_incidents"),
    })
