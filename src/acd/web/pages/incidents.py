"""Incident log (bitácora) online: viewers read it, supervisors and admins add, edit and close.

Incidents live in the event store beside the events (``EventStore.add_incident``,
``update_incident``, ``close_incident``: the same table ``acd incident`` writes), so the
SLA page and ``acd report``/``acd sla`` see them at once.  Every change is written to the
console's audit log (who, when, from where, what it was before and after); the incident
itself keeps its author and its last editor.
"""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from acd.metrics.sla import month_range
from acd.metrics.store import SEVERITIES, Incident
from acd.metrics.timeutil import TimeInputError, parse_month, parse_when, zone
from acd.web.access import Viewer
from acd.web.pages import NavItem
from acd.web.pages._reporting import PageInputError, event_store, local_input, month_label, previous_month, timezone_of
from acd.web.render import render
from acd.web.session import audit, require

router = APIRouter()
NAV = [NavItem("/incidents", "nav.incidents", "view_incidents", order=45)]

MESSAGES = {
    "es": {
        "nav.incidents": "Incidentes", "incidents.title": "Bitácora de incidentes", "incidents.month": "Mes",
        "incidents.add": "Registrar incidente", "incidents.edit": "Editar", "incidents.save": "Guardar", "incidents.close": "Cerrar ahora",
        "incidents.start": "Inicio", "incidents.end": "Término (vacío: sigue abierto)", "incidents.text": "Descripción",
        "incidents.severity": "Severidad", "incidents.author": "Autor", "incidents.updated": "Última modificación",
        "incidents.open": "abierto", "incidents.none": "Sin incidentes en el mes.",
        "incidents.severity.low": "Baja", "incidents.severity.medium": "Media", "incidents.severity.high": "Alta",
        "incidents.severity.critical": "Crítica", "incidents.added": "Incidente #{id} registrado.", "incidents.saved": "Incidente #{id} guardado.",
        "incidents.closed": "Incidente #{id} cerrado.", "incidents.bad_time": "Fecha u hora no válida.",
        "incidents.bad": "No se pudo guardar: {reason}", "incidents.readonly": "Solo lectura: su rol no puede modificar incidentes.",
        "incidents.previous": "Mes anterior", "incidents.current": "Mes actual", "incidents.to_sla": "Ver en el SLA",
    },
    "en": {
        "nav.incidents": "Incidents", "incidents.title": "Incident log", "incidents.month": "Month",
        "incidents.add": "Record an incident", "incidents.edit": "Edit", "incidents.save": "Save", "incidents.close": "Close now",
        "incidents.start": "Start", "incidents.end": "End (empty: still open)", "incidents.text": "Description",
        "incidents.severity": "Severity", "incidents.author": "Author", "incidents.updated": "Last change",
        "incidents.open": "open", "incidents.none": "No incidents this month.",
        "incidents.severity.low": "Low", "incidents.severity.medium": "Medium", "incidents.severity.high": "High",
        "incidents.severity.critical": "Critical", "incidents.added": "Incident #{id} recorded.", "incidents.saved": "Incident #{id} saved.",
        "incidents.closed": "Incident #{id} closed.", "incidents.bad_time": "Bad date or time.",
        "incidents.bad": "Not saved: {reason}", "incidents.readonly": "Read only: your role cannot change incidents.",
        "incidents.previous": "Previous month", "incidents.current": "Current month", "incidents.to_sla": "See it on the SLA page",
    },
}


def _describe(incident: Incident, tz_name: str) -> str:
    end = local_input(incident.end, tz_name) if incident.end is not None else "open"
    return f"{local_input(incident.start, tz_name)}..{end} [{incident.severity}] {incident.text}"


def _times(tz_name: str, start: str, end: str) -> tuple[float, float | None]:
    tz = zone(tz_name)
    try:
        return parse_when(start, tz), (parse_when(end, tz) if end.strip() else None)
    except TimeInputError:
        raise PageInputError("incidents.bad_time") from None


def _back(month: str, **notice: object) -> RedirectResponse:
    return RedirectResponse("/incidents?" + urlencode({"month": month, **{k: str(v) for k, v in notice.items()}}), status_code=303)


def _month_of(ts: float, tz_name: str) -> str:
    moment = datetime.fromtimestamp(ts, zone(tz_name))
    return month_label(moment.year, moment.month)


@router.get("/incidents")
async def incidents_page(
    request: Request,
    month: str | None = Query(None, max_length=10),
    done: str | None = Query(None, max_length=10),
    id: int | None = Query(None, ge=1),
    error: str | None = Query(None, max_length=300),
    viewer: Viewer = Depends(require("view_incidents")),
) -> Response:
    tz_name = timezone_of(request)
    now = datetime.now(zone(tz_name))
    current = month_label(now.year, now.month)
    try:
        year, number = parse_month(month or current)
    except TimeInputError:
        year, number = now.year, now.month
    start, end = month_range(year, number, tz_name)
    try:
        async with event_store(request) as store:
            incidents = await store.incidents(start, end)
    except PageInputError:
        incidents = []
    notice = f"incidents.{done}" if done in ("added", "saved", "closed") else None
    return render(request, "incidents.html", {
        "incidents": incidents, "month": month_label(year, number), "current": current,
        "previous": month_label(*previous_month(year, number)), "severities": SEVERITIES,
        "may_edit": viewer.may("edit_incidents"), "notice": notice, "notice_id": id, "error": error,
        "local_input": lambda ts: local_input(ts, tz_name), "now_input": local_input(time.time(), tz_name),
    })


@router.post("/incidents")
async def add_incident(
    request: Request,
    start: str = Form(..., max_length=32),
    end: str = Form("", max_length=32),
    severity: str = Form("medium", max_length=16),
    text: str = Form(..., max_length=2000),
    viewer: Viewer = Depends(require("edit_incidents")),
) -> Response:
    tz_name = timezone_of(request)
    month = _month_of(time.time(), tz_name)
    try:
        lo, hi = _times(tz_name, start, end)
        month = _month_of(lo, tz_name)
        async with event_store(request, write=True) as store:
            incident = await store.add_incident(lo, hi, text, severity=severity, author=viewer.name)
    except ValueError as exc:  # PageInputError too
        return _back(month, error=str(exc))
    audit(request, "incident.add", f"#{incident.id}", _describe(incident, tz_name))
    return _back(month, done="added", id=incident.id)


@router.post("/incidents/{incident_id}")
async def edit_incident(
    request: Request,
    incident_id: int,
    start: str = Form(..., max_length=32),
    end: str = Form("", max_length=32),
    severity: str = Form("medium", max_length=16),
    text: str = Form(..., max_length=2000),
    viewer: Viewer = Depends(require("edit_incidents")),
) -> Response:
    tz_name = timezone_of(request)
    month = _month_of(time.time(), tz_name)
    try:
        lo, hi = _times(tz_name, start, end)
        month = _month_of(lo, tz_name)
        async with event_store(request, write=True) as store:
            before, after = await store.update_incident(incident_id, start=lo, end=hi, text=text, severity=severity, by=viewer.name)
    except ValueError as exc:  # PageInputError too
        return _back(month, error=str(exc))
    audit(request, "incident.edit", f"#{incident_id}", f"before: {_describe(before, tz_name)} | after: {_describe(after, tz_name)}")
    return _back(month, done="saved", id=incident_id)


@router.post("/incidents/{incident_id}/close")
async def close_incident(
    request: Request,
    incident_id: int,
    viewer: Viewer = Depends(require("edit_incidents")),
) -> Response:
    tz_name = timezone_of(request)
    month = _month_of(time.time(), tz_name)
    try:
        async with event_store(request, write=True) as store:
            closed = await store.close_incident(incident_id, time.time(), by=viewer.name)
    except ValueError as exc:  # PageInputError too
        return _back(month, error=str(exc))
    audit(request, "incident.close", f"#{incident_id}", _describe(closed, tz_name))
    return _back(_month_of(closed.start, tz_name), done="closed", id=incident_id)
