"""Dispositions report (``view_reports``): the wrap-up codes agents gave calls, by queue, agent, skill or interval (hour for a day, day beyond).

The same counts as ``acd report --dispositions`` (:mod:`acd.metrics.dispositions` over the
``call.disposition`` events of the range), with the reports page's quick periods, and a
CSV export byte for byte the command's ``--format csv``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from acd.metrics import dispositions
from acd.web.access import Viewer
from acd.web.pages import NavItem
from acd.web.pages._reporting import QUICK_PERIODS, PageInputError, event_store, local_input, parse_range, timezone_of
from acd.web.render import render
from acd.web.session import require

router = APIRouter()
NAV = [NavItem("/reports/dispositions", "nav.dispositions", "view_reports", order=31)]

MESSAGES = {
    "es": {
        "nav.dispositions": "Tipificaciones",
        "disp.title": "Tipificaciones",
        "disp.by": "Por",
        "disp.by.queue": "Cola",
        "disp.by.agent": "Agente",
        "disp.by.skill": "Habilidad",
        "disp.by.interval": "Intervalo",
        "disp.code": "Código",
        "disp.outcome": "Resultado",
        "disp.calls": "Llamadas",
        "disp.share": "Proporción",
        "disp.total": "{n} llamadas tipificadas",
        "disp.none": "Sin tipificaciones en este periodo",
    },
    "en": {
        "nav.dispositions": "Dispositions",
        "disp.title": "Dispositions",
        "disp.by": "By",
        "disp.by.queue": "Queue",
        "disp.by.skill": "Skill",
        "disp.by.interval": "Interval",
        "disp.by.agent": "Agent",
        "disp.code": "Code",
        "disp.outcome": "Outcome",
        "disp.calls": "Calls",
        "disp.share": "Share",
        "disp.total": "{n} coded calls",
        "disp.none": "No dispositions in this period",
    },
}


async def _report(request: Request, period: str | None, start: str | None, end: str | None, by: str) -> dispositions.DispositionReport:
    if by not in dispositions.GROUPINGS:
        raise PageInputError("error.period")
    tz = timezone_of(request)
    rng = parse_range(tz, period, start, end)
    async with event_store(request) as store:
        events = await store.events(rng.start, rng.end, types=["call.disposition"])
        if by == "skill":  # each call's skills, from its queueing (up to a day before the range)
            events = await store.events(rng.start - 86_400, rng.end, types=["call.queued"]) + events
    interval = "day" if rng.end - rng.start > 2 * 86_400 else "60"  # a row per hour for a day, per day beyond
    return dispositions.disposition_report(events, rng.start, rng.end, by=by, interval=interval, timezone=tz)


@router.get("/reports/dispositions")
async def dispositions_page(
    request: Request,
    period: str | None = Query(None, max_length=20),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    by: str = Query("queue", max_length=8),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    context: dict[str, Any] = {"periods": QUICK_PERIODS, "period": period, "by": by, "error": None, "report": None}
    try:
        report = await _report(request, period, start, end, by)
    except PageInputError as exc:
        context["error"] = str(exc)
        return render(request, "dispositions.html", context, status=400 if str(exc) != "error.no_data" else 200)
    tz_name = timezone_of(request)
    context.update(report=report, start_input=local_input(report.start, tz_name), end_input=local_input(report.end, tz_name))
    return render(request, "dispositions.html", context)


@router.get("/reports/dispositions.csv")
async def dispositions_csv(
    request: Request,
    period: str | None = Query(None, max_length=20),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    by: str = Query("queue", max_length=8),
    viewer: Viewer = Depends(require("view_reports")),
) -> Response:
    try:
        report = await _report(request, period, start, end, by)
    except PageInputError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    return Response(dispositions.as_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="dispositions.csv"'})
