"""Reports: interval/day/month by queue and skill, surveys (EPA), charts, drill-down, CSV/XLSX.

Every figure is ``acd report``'s (``acd.metrics.render.report_dict`` over
``acd.metrics.aggregates.store_report``), so the page, its CSV (byte for byte ``acd report
--format csv``) and ``acd report --json`` agree for the same range.  Quick periods
(today, yesterday, this week, this month, last month) are links.  A row's label leads to
the calls the ledger attributed to it; caller numbers appear only to viewers allowed
personal data (``view_personal_data``), already masked by the engine, and each such
listing is audited.
"""

from __future__ import annotations

import io
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from acd.metrics import render as figures_render
from acd.metrics.drilldown import MAX_CALLS, interval_calls
from acd.metrics.reports import DEFAULT_SHORT_ABANDON_S, DEFAULT_THRESHOLD_S, Report, report_rules
from acd.metrics.timeutil import INTERVALS, zone
from acd.web.access import Viewer
from acd.web.charts import Series, levels_chart
from acd.web.pages import NavItem
from acd.web.pages._reporting import (
    QUICK_PERIODS,
    PageInputError,
    Range,
    default_interval,
    event_store,
    local_input,
    parse_range,
    queue_rules,
    report_for,
    settings_of,
    timezone_of,
)
from acd.web.render import render
from acd.web.session import audit, require

router = APIRouter()
NAV = [NavItem("/reports", "nav.reports", "view_reports", order=30)]

#: the columns of the table (a JSON key of ``acd report --json`` each) and their header key
COLUMNS = (
    "offered", "answered", "answered_within", "abandoned", "short_abandons", "service_level", "abandonment_rate",
    "asa_s", "aht_s", "longest_wait_s", "callbacks_requested", "survey_responses", "survey_average", "survey_top2_pct",
    "agent_logged_in_s", "occupancy",
)
EPA = ("survey_responses", "survey_average", "survey_top2_pct")

MESSAGES = {
    "es": {
        "nav.reports": "Reportes",
        "reports.title": "Reportes",
        "reports.period.today": "Hoy", "reports.period.yesterday": "Ayer", "reports.period.this-week": "Esta semana",
        "reports.period.this-month": "Este mes", "reports.period.last-month": "Mes pasado",
        "reports.period.last-week": "Semana pasada",
        "reports.from": "Desde", "reports.to": "Hasta (excluido)", "reports.interval": "Intervalo", "reports.by": "Desglose",
        "reports.queue": "Cola", "reports.all": "Todas", "reports.none": "Sin desglose", "reports.by.queue": "Por cola",
        "reports.by.skill": "Por skill", "reports.show": "Ver",
        "reports.interval.15": "15 min", "reports.interval.30": "30 min", "reports.interval.60": "1 hora",
        "reports.interval.day": "Día", "reports.interval.month": "Mes",
        "reports.range": "{start} a {end} ({tz})", "reports.total": "Total", "reports.export": "Exportar",
        "reports.chart": "Llamadas ofrecidas y nivel de servicio", "reports.target": "Meta",
        "reports.epa": "Encuesta post-llamada (EPA)", "reports.incidents": "Incidentes en el período",
        "reports.rows": "Detalle", "reports.group": "Grupo", "reports.period_label": "Período",
        "col.offered": "Ofrecidas", "col.answered": "Atendidas", "col.answered_within": "Atendidas ≤ umbral",
        "col.abandoned": "Abandonadas", "col.short_abandons": "Aband. cortos", "col.service_level": "NS %",
        "col.abandonment_rate": "Abandono %", "col.asa_s": "ASA s", "col.aht_s": "TMO s", "col.longest_wait_s": "Espera máx s",
        "col.callbacks_requested": "Callbacks", "col.survey_responses": "Encuestas", "col.survey_average": "Nota media",
        "col.survey_top2_pct": "Nota 4-5 %", "col.agent_logged_in_s": "Agente conectado h", "col.occupancy": "Ocupación %",
        "calls.title": "Llamadas del intervalo", "calls.back": "Volver al reporte", "calls.when": "Ofrecida",
        "calls.caller": "Llamante", "calls.queue": "Cola", "calls.skills": "Skills", "calls.outcome": "Resultado",
        "calls.wait": "Espera s", "calls.within": "≤ umbral", "calls.agent": "Agente", "calls.handle": "Conversación+espera+ACW s",
        "calls.outcome.answered": "Atendida", "calls.outcome.abandoned": "Abandonada", "calls.outcome.timed_out": "Tiempo máximo",
        "calls.outcome.none": "Sin resolver", "calls.masked": "oculto", "calls.more": "Se muestran las primeras {n} llamadas.",
        "calls.count": "{n} llamadas",
        "error.no_data": "Todavía no hay datos (la base de eventos no existe).", "error.range_both": "Indique desde y hasta.",
        "error.range_format": "Fecha no válida: use AAAA-MM-DD o AAAA-MM-DDTHH:MM.", "error.range_empty": "El rango está vacío: «hasta» debe ser posterior a «desde».",
        "error.range_long": "El rango es demasiado largo (máximo 400 días).", "error.period": "Período desconocido.",
        "error.interval": "Intervalo desconocido.", "error.by": "Desglose desconocido.", "error.contract": "El archivo de contrato tiene errores.",
        "yes": "sí", "no": "no",
    },
    "en": {
        "nav.reports": "Reports",
        "reports.title": "Reports",
        "reports.period.today": "Today", "reports.period.yesterday": "Yesterday", "reports.period.this-week": "This week",
        "reports.period.this-month": "This month", "reports.period.last-month": "Last month", "reports.period.last-week": "Last week",
        "reports.from": "From", "reports.to": "To (excluded)", "reports.interval": "Interval", "reports.by": "Breakdown",
        "reports.queue": "Queue", "reports.all": "All", "reports.none": "None", "reports.by.queue": "By queue",
        "reports.by.skill": "By skill", "reports.show": "Show",
        "reports.interval.15": "15 min", "reports.interval.30": "30 min", "reports.interval.60": "1 hour",
        "reports.interval.day": "Day", "reports.interval.month": "Month",
        "reports.range": "{start} to {end} ({tz})", "reports.total": "Total", "reports.export": "Export",
        "reports.chart": "Offered calls and service level", "reports.target": "Target",
        "reports.epa": "Post-call survey (EPA)", "reports.incidents": "Incidents in the period",
        "reports.rows": "Detail", "reports.group": "Group", "reports.period_label": "Period",
        "col.offered": "Offered", "col.answered": "Answered", "col.answered_within": "Answered ≤ threshold",
        "col.abandoned": "Abandoned", "col.short_abandons": "Short abandons", "col.service_level": "SL %",
        "col.abandonment_rate": "Abandon %", "col.asa_s": "ASA s", "col.aht_s": "AHT s", "col.longest_wait_s": "Longest wait s",
        "col.callbacks_requested": "Callbacks", "col.survey_responses": "Surveys", "col.survey_average": "Average score",
        "col.survey_top2_pct": "Score 4-5 %", "col.agent_logged_in_s": "Agents logged in h", "col.occupancy": "Occupancy %",
        "calls.title": "Calls of the interval", "calls.back": "Back to the report", "calls.when": "Offered",
        "calls.caller": "Caller", "calls.queue": "Queue", "calls.skills": "Skills", "calls.outcome": "Outcome",
        "calls.wait": "Wait s", "calls.within": "≤ threshold", "calls.agent": "Agent", "calls.handle": "Talk+hold+wrap s",
        "calls.outcome.answered": "Answered", "calls.outcome.abandoned": "Abandoned", "calls.outcome.timed_out": "Timed out",
        "calls.outcome.none": "Undecided", "calls.masked": "hidden", "calls.more": "Showing the first {n} calls.",
        "calls.count": "{n} calls",
        "error.no_data": "No data yet (the event database does not exist).", "error.range_both": "Give both from and to.",
        "error.range_format": "Bad date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM.", "error.range_empty": "Empty range: 'to' must be after 'from'.",
        "error.range_long": "The range is too long (400 days at most).", "error.period": "Unknown period.",
        "error.interval": "Unknown interval.", "error.by": "Unknown breakdown.", "error.contract": "The contract file has errors.",
        "yes": "yes", "no": "no",
    },
}


def _query(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


async def _report(request: Request, period: str | None, start: str | None, end: str | None, interval: str | None, by: str | None, queue: str | None) -> tuple[Range, str, Report]:
    rng = parse_range(timezone_of(request), period, start, end)
    chosen = interval or default_interval(rng)
    return rng, chosen, await report_for(request, rng, chosen, by=by or None, queue=queue or None)


def _chart(data: dict[str, Any], target: float | None, t: Any) -> Any:
    labels = [row["label"] for row in data["intervals"]]
    marked = [", ".join(f"#{i}" for i in row["incidents"]) for row in data["intervals"]]
    return levels_chart(
        Series(
            labels, [row["offered"] for row in data["intervals"]], [row["service_level"] for row in data["intervals"]],
            t("col.offered"), t("col.service_level"), target, t("reports.target"), marked,
        ),
        chart_id="report-chart",
    )


def _cells(values: dict[str, Any], columns: tuple[str, ...]) -> str:
    return "".join(f'<td data-field="{key}">{"-" if values[key] is None else escape(values[key])}</td>' for key in columns)


def detail_rows(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Markup:
    """The detail table's rows (and their group rows), as the template wrote them, built here.

    A month in quarter hours is 2,880 rows of 16 figures (and as many again per group):
    a Jinja loop spent more time on them than the report took to compute."""
    out: list[str] = []
    for index, row in enumerate(rows):
        label = escape(row["label"])
        marks = "".join(f' <span class="incident-mark" title="#{i}">#{i}</span>' for i in row["incidents"])
        out.append(
            f'<tr class="row{" has-incident" if row["incidents"] else ""}" data-row="{index}" data-label="{label}" data-group="">'
            f'<td><a href="/reports/calls?{escape(row["drill"])}" class="drill">{label}</a>{marks}</td><td></td>'
            f"{_cells(row, columns)}</tr>"
        )
        for group_index, (name, figures) in enumerate((row.get("groups") or {}).items()):
            out.append(
                f'<tr class="group" data-row="{group_index}" data-label="{label}" data-group="{escape(name)}">'
                f"<td></td><td>{escape(name)}</td>{_cells(figures, columns)}</tr>"
            )
    return Markup("\n".join(out))


@router.get("/reports")
async def reports_page(
    request: Request,
    period: str | None = Query(None, max_length=20),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    interval: str | None = Query(None, max_length=8),
    by: str | None = Query(None, max_length=8),
    queue: str | None = Query(None, max_length=100),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    tz_name = timezone_of(request)
    settings = settings_of(request)
    context: dict[str, Any] = {
        "periods": QUICK_PERIODS, "intervals": INTERVALS, "columns": COLUMNS, "epa": EPA, "by": by or "", "queue": queue or "",
        "queues": sorted(queue_rules(settings).get("queue_rules", {})), "period": period, "error": None, "data": None,
    }
    try:
        rng, chosen, report = await _report(request, period, start, end, interval, by, queue)
    except PageInputError as exc:
        context.update(error=str(exc), interval=interval or "60", start_input=start or "", end_input=end or "")
        return render(request, "reports.html", context, status=400 if str(exc) != "error.no_data" else 200)
    data = figures_render.report_dict(report, zone(tz_name))
    from acd.web.i18n import translate
    from acd.web.render import language_of

    lang = language_of(request)
    query = _query(**{"from": local_input(rng.start, tz_name), "to": local_input(rng.end, tz_name), "interval": chosen, "by": by, "queue": queue})
    rows = [
        {**row, "drill": _query(start=report.rows[i].start, end=report.rows[i].end, queue=queue, back=query)}
        for i, row in enumerate(data["intervals"])
    ]
    context.update(
        data=data, rows=rows, detail=detail_rows(rows, COLUMNS), interval=chosen, period=rng.period, start_input=local_input(rng.start, tz_name),
        end_input=local_input(rng.end, tz_name), query=query,
        chart=_chart(data, 75.0, lambda key, **v: translate(lang, key, **v)),
        queues=sorted(set(context["queues"]) | (set(data["total"].get("groups", {})) if by == "queue" else set())),
    )
    return render(request, "reports.html", context)


@router.get("/reports/export.csv")
async def export_csv(
    request: Request,
    period: str | None = Query(None, max_length=20),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    interval: str | None = Query(None, max_length=8),
    by: str | None = Query(None, max_length=8),
    queue: str | None = Query(None, max_length=100),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    try:
        rng, chosen, report = await _report(request, period, start, end, interval, by, queue)
    except PageInputError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    text = figures_render.report_csv(report, zone(timezone_of(request)))
    return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{_filename(rng, chosen, request)}.csv"'})


@router.get("/reports/export.xlsx")
async def export_xlsx(
    request: Request,
    period: str | None = Query(None, max_length=20),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    interval: str | None = Query(None, max_length=8),
    by: str | None = Query(None, max_length=8),
    queue: str | None = Query(None, max_length=100),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    try:
        rng, chosen, report = await _report(request, period, start, end, interval, by, queue)
    except PageInputError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    body = workbook(report, timezone_of(request))
    return Response(
        body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{_filename(rng, chosen, request)}.xlsx"'},
    )


def _filename(rng: Range, interval: str, request: Request) -> str:
    tz = zone(timezone_of(request))
    first = datetime.fromtimestamp(rng.start, tz).strftime("%Y%m%d-%H%M")
    last = datetime.fromtimestamp(rng.end, tz).strftime("%Y%m%d-%H%M")
    return f"acd-report-{first}-{last}-{interval}"


def workbook(report: Report, tz_name: str) -> bytes:
    """The CSV's lines as a spreadsheet: numbers as numbers, one sheet, the header frozen."""
    import csv

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "report"
    for line_number, line in enumerate(csv.reader(io.StringIO(figures_render.report_csv(report, zone(tz_name))))):
        sheet.append([_number(cell) if line_number and index >= 5 else cell for index, cell in enumerate(line)])
    sheet.freeze_panes = "F2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number(cell: str) -> int | float | str | None:
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell


@router.get("/reports/calls")
async def interval_calls_page(
    request: Request,
    start: float = Query(..., ge=0, le=1e11),
    end: float = Query(..., ge=0, le=1e11),
    queue: str | None = Query(None, max_length=100),
    back: str = Query("", max_length=500),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    tz_name = timezone_of(request)
    if not end > start or end - start > 31 * 86400:
        return render(request, "error.html", {"message": "error.range_empty"}, status=400)
    rules = report_rules(DEFAULT_THRESHOLD_S, DEFAULT_SHORT_ABANDON_S, queue_rules(settings_of(request)).get("queue_rules"))
    try:
        async with event_store(request) as store:
            events = await store.report_events(start, end)
    except PageInputError as exc:
        return render(request, "error.html", {"message": str(exc)}, status=200)
    calls = interval_calls(events, start, end, rules=rules, queue=queue or None)
    personal = viewer.may_see_personal_data
    if personal and calls:
        audit(request, "reports.calls", f"{local_input(start, tz_name)}..{local_input(end, tz_name)}", f"{len(calls)} calls, queue {queue or 'all'}")
    return render(request, "reports_calls.html", {
        "calls": calls, "personal": personal, "start": start, "end": end, "queue": queue or "",
        "back": back if back and not back.startswith(("/", "http")) and "//" not in back else "", "max_calls": MAX_CALLS,
        "now": time.time(),
    })
