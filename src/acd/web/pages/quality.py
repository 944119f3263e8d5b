"""Quality evaluation in the console: grade a call while listening; the month against the bonus.

* On a recording's page (``/recordings/{call}``) a viewer with ``review_recordings``
  (QA, admin) gets the evaluation form beside the player, the call's earlier grades and,
  when several graders scored it, their scores side by side (calibration; blind: a grader
  sees the others' grades only after submitting their own).
* ``POST /quality/grades`` stores a grade: immutable once submitted
  (:mod:`acd.features.quality.grades`); a correction is a new grade naming the one it
  replaces and why.  Both are written to the audit log.
* ``/quality`` (``view_quality``: admin, supervisor, QA, the client's viewers) shows a month: the mean score against the contract month's bonus target
  (``acd sla`` and ``acd quality scores`` print the same figure), per agent, and the
  calibration table (calls scored by more than one grader, with the spread).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from acd.features.quality.bonus import quality_of_month, targets_of
from acd.features.quality.forms import Form, load_forms
from acd.features.quality.grades import GradeError, GradeStore, bonus_target, per_grader
from acd.features.recordings.catalog import RecordingRow, Search, search_recordings
from acd.features.recordings.storage import valid_call_id
from acd.metrics.sla import contract_month, month_range
from acd.metrics.timeutil import TimeInputError, parse_month, zone
from acd.web.access import Viewer
from acd.web.pages import NavItem
from acd.web.pages import recordings as recordings_page
from acd.web.pages._reporting import PageInputError, contract_of, event_store, month_label, previous_month, settings_of
from acd.web.render import render
from acd.web.session import audit, require

router = APIRouter()
NAV = [NavItem("/quality", "nav.quality", "view_quality", order=42)]

MESSAGES = {
    "es": {
        "nav.quality": "Calidad", "q.title": "Calidad de atención", "q.form": "Pauta", "q.grade": "Evaluar la llamada",
        "q.submit": "Enviar evaluación", "q.comment": "Comentario", "q.yes": "Sí", "q.no": "No", "q.na": "N/A",
        "q.critical": "crítico", "q.grades": "Evaluaciones de esta llamada", "q.grader": "Evaluador", "q.score": "Nota",
        "q.when": "Cuándo", "q.corrects": "Corrige", "q.reason": "Motivo de la corrección", "q.correct": "Corregir esta evaluación",
        "q.immutable": "Una evaluación enviada no se modifica: una corrección es una evaluación nueva, registrada.",
        "q.saved": "Evaluación #{id} registrada: {score} %.", "q.bad": "No se registró: {reason}",
        "q.month": "Mes", "q.show": "Ver", "q.average": "Nota media del mes", "q.target": "Meta del bono (mes {n} del contrato)",
        "q.target_plain": "Meta del bono", "q.met": "cumple", "q.not_met": "no cumple", "q.graded": "Llamadas evaluadas",
        "q.agents": "Por agente", "q.agent": "Agente", "q.teams": "Por equipo", "q.team": "Equipo", "q.critical_failed": "Críticos fallados", "q.none": "Sin evaluaciones en el mes.",
        "q.calibration": "Calibración (llamadas con varios evaluadores)", "q.spread": "Diferencia", "q.call": "Llamada",
        "q.no_forms": "No hay pautas de evaluación (quality.forms_dir).", "q.forms_problems": "Pautas con errores: {n} (acd quality check).",
        "q.previous": "Mes anterior",
        "q.blind": "Otros evaluadores ya calificaron esta llamada: verá sus notas después de enviar la suya (calibración a ciegas).",
    },
    "en": {
        "nav.quality": "Quality", "q.title": "Quality of service", "q.form": "Form", "q.grade": "Grade the call",
        "q.submit": "Submit the grade", "q.comment": "Comment", "q.yes": "Yes", "q.no": "No", "q.na": "N/A",
        "q.critical": "critical", "q.grades": "Grades of this call", "q.grader": "Grader", "q.score": "Score",
        "q.when": "When", "q.corrects": "Corrects", "q.reason": "Reason for the correction", "q.correct": "Correct this grade",
        "q.immutable": "A submitted grade never changes: a correction is a new, logged grade.",
        "q.saved": "Grade #{id} recorded: {score} %.", "q.bad": "Not recorded: {reason}",
        "q.month": "Month", "q.show": "Show", "q.average": "The month's mean score", "q.target": "Bonus target (contract month {n})",
        "q.target_plain": "Bonus target", "q.met": "met", "q.not_met": "not met", "q.graded": "Graded calls",
        "q.agents": "Per agent", "q.agent": "Agent", "q.teams": "Per team", "q.team": "Team", "q.critical_failed": "Critical failed", "q.none": "No grades this month.",
        "q.calibration": "Calibration (calls scored by several graders)", "q.spread": "Spread", "q.call": "Call",
        "q.no_forms": "No evaluation forms (quality.forms_dir).", "q.forms_problems": "Forms with errors: {n} (acd quality check).",
        "q.previous": "Previous month",
        "q.blind": "Other graders have scored this call: their scores show once you submit yours (blind calibration).",
    },
}


def _forms(request: Request) -> tuple[dict[str, Form], int]:
    settings = settings_of(request)
    forms, problems = load_forms(settings.resolve(settings.quality.forms_dir), settings.limits.yaml())
    return forms, len(problems)


def _store(request: Request, *, create: bool) -> GradeStore | None:
    settings = settings_of(request)
    try:
        return GradeStore.from_settings(settings, create=create)
    except GradeError:
        return None


async def grading_panel(request: Request, viewer: Viewer, row: RecordingRow) -> dict[str, object]:
    """The listen page's extra panel for QA: the form, the call's grades, calibration."""
    if not viewer.may("review_recordings"):
        return {}
    forms, broken = _forms(request)
    store = _store(request, create=False)
    grades = await asyncio.to_thread(store.of_call, row.call_id) if store else []
    # Blind calibration: a grader sees the others' grades of a call once they have graded it themselves.
    blind = bool(grades) and viewer.role != "admin" and not any(g.grader == viewer.name for g in grades)
    grades = [] if blind else grades
    standing = per_grader(grades).get(row.call_id, {})
    chosen = request.query_params.get("form") or (next(iter(forms)) if forms else "")
    return {
        "grading_template": "quality_grade.html", "forms": forms, "form": forms.get(chosen), "forms_broken": broken,
        "grades": grades, "standing": standing, "saved": request.query_params.get("saved"),
        "saved_score": request.query_params.get("score"), "grade_error": request.query_params.get("error"),
        "correcting": request.query_params.get("correct"), "blind": blind,
    }


recordings_page.EXTRAS.append(grading_panel)


def _back(call_id: str, **values: object) -> RedirectResponse:
    query = urlencode({k: str(v) for k, v in values.items() if v is not None})
    return RedirectResponse(f"/recordings/{quote(call_id, safe='')}?{query}#grading", status_code=303)


@router.post("/quality/grades")
async def submit_grade(request: Request, viewer: Viewer = Depends(require("review_recordings"))) -> Response:
    form_data = await request.form()
    call_id = str(form_data.get("call_id", ""))[:128]
    if not valid_call_id(call_id):
        return Response("not a call id", status_code=400, media_type="text/plain")
    forms, _broken = _forms(request)
    form = forms.get(str(form_data.get("form_id", "")))
    if form is None:
        return _back(call_id, error="unknown form")
    answers = {item.id: str(form_data.get(f"a.{item.id}", "")) for item in form.items}
    answers = {k: v for k, v in answers.items() if v}
    corrects_text = str(form_data.get("corrects", "")).strip()
    try:
        corrects = int(corrects_text) if corrects_text else None
    except ValueError:
        return _back(call_id, error="bad correction id")
    try:
        async with event_store(request) as events:
            rows = await search_recordings(events, recordings_page.recordings_folder(request), Search(call_id=call_id))
    except PageInputError:
        rows = []
    if not rows:
        return _back(call_id, error="no such recorded call")
    row = rows[0]
    store = _store(request, create=True)
    assert store is not None
    try:
        grade = await asyncio.to_thread(
            store.submit, form, call_id=call_id, call_ts=row.started, agent=row.agent, queue=row.queue, grader=viewer.name,
            answers=answers, comment=str(form_data.get("comment", ""))[:2000], corrects=corrects,
            reason=str(form_data.get("reason", ""))[:500],
        )
    except GradeError as exc:
        return _back(call_id, error=str(exc)[:280], correct=corrects)
    action = "quality.correct" if corrects else "quality.grade"
    detail = f"#{grade.id} form {form.id} v{form.version}: {grade.score} %" + (" (critical failed)" if grade.critical_failed else "")
    if corrects:
        detail += f"; corrects #{corrects}: {grade.reason}"
    await asyncio.to_thread(audit, request, action, call_id, detail)
    return _back(call_id, saved=grade.id, score=grade.score)


def month_view(request: Request, year: int, month: int) -> dict[str, object]:
    settings = settings_of(request)
    contract = contract_of(settings)
    start, end = month_range(year, month, contract.timezone)
    try:
        cmonth = contract_month(year, month, contract.start)
    except TimeInputError:
        cmonth = None
    quality = quality_of_month(settings, start, end, cmonth)
    store = _store(request, create=False)
    grades = store.between(start, end) if store else []
    calibration = []
    for call_id, graders in sorted(per_grader(grades).items()):
        if len(graders) > 1:
            scores = [g.score for g in graders.values()]
            calibration.append({"call_id": call_id, "graders": sorted(graders.items()), "spread": max(scores) - min(scores)})
    return {"quality": quality, "contract_month": cmonth, "calibration": calibration,
            "targets": [bonus_target(n, targets_of(settings)) for n in range(1, 6)]}


@router.get("/quality")
def quality_page(
    request: Request,
    month: str | None = Query(None, max_length=10),
    viewer: Viewer = Depends(require("view_quality")),
) -> Response:
    tz = zone(contract_of(settings_of(request)).timezone)
    now = datetime.fromtimestamp(time.time(), tz)
    try:
        year, number = parse_month(month) if month else (now.year, now.month)
    except TimeInputError:
        year, number = now.year, now.month
    return render(request, "quality.html", {
        **month_view(request, year, number), "month": month_label(year, number),
        "previous": month_label(*previous_month(year, number)), "zero": Decimal(0),
    })



