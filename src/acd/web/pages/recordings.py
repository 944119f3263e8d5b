"""Recordings online: search, play with seeking, download; every play and download audited.

The contract asks for online access to the call recordings for the client's own staff
(the ``viewer`` role plays them; downloads are for supervisors and QA), and for evidence
of who listened to what.  So:

* ``/recordings`` searches the event log (:mod:`acd.features.recordings.catalog`) by
  period, call id, caller number (matched through its pseudonym: the log never holds the
  number), agent, queue and disposition (the agent's wrap-up code).  Numbers are shown as the engine masked them, and only to
  viewers allowed personal data; a search by number is itself audited.  Empty (header
  only) and missing recordings are flagged in the list.
* ``/recordings/{call}`` is the player with the call's timeline beside it.
* ``/recordings/{call}/audio`` serves the file with HTTP Range (206), so the browser
  seeks without fetching the whole file; a play is audited when a request starts at byte
  0 (the browser's first request), not for each seek.
* ``/recordings/{call}/download`` is audited on every request.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Awaitable, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response

from acd.features.recordings.catalog import MAX_ROWS, RecordingRow, Search, search_recordings
from acd.features.recordings.storage import MEDIA_TYPES, Usage, human_bytes, locate, usage, valid_call_id
from acd.web.access import Viewer
from acd.web.pages import NavItem
from acd.web.pages._reporting import QUICK_PERIODS, PageInputError, event_store, parse_range, settings_of, timezone_of
from acd.web.render import render
from acd.web.session import audit, require

router = APIRouter()
NAV = [NavItem("/recordings", "nav.recordings", "listen_recordings", order=40)]
#: without dates a search covers this week: a month of calls is a long scan for a page view
DEFAULT_PERIOD = "this-week"
#: the events shown beside a recording: a call's life is well within this either side
TIMELINE_SPAN_S = 6 * 3600.0
#: event data shown in the timeline: what says where the call went, never what the caller typed
TIMELINE_KEYS = (
    "flow", "node", "node_type", "kind", "cause", "to_queue", "reason", "waited_s", "talk_s", "hold_s", "position", "estimate_s",
    "question", "score", "mode", "duration_s", "codec", "empty", "truncated",
)

MESSAGES = {
    "es": {
        "nav.recordings": "Grabaciones", "rec.title": "Grabaciones", "rec.call": "Llamada", "rec.number": "Número",
        "rec.agent": "Agente", "rec.queue": "Cola", "rec.disposition": "Tipificación", "rec.from": "Desde", "rec.to": "Hasta (excluido)", "rec.search": "Buscar",
        "rec.when": "Inicio", "rec.caller": "Llamante", "rec.length": "Duración", "rec.size": "Tamaño", "rec.flags": "Estado",
        "rec.play": "Escuchar", "rec.download": "Descargar", "rec.none": "No hay grabaciones para esta búsqueda.",
        "rec.flag.empty": "vacía (sin audio)", "rec.flag.truncated": "cortada (más corta que la conversación)", "rec.flag.missing": "archivo no encontrado", "rec.flag.unfinished": "sin cerrar",
        "rec.ok": "ok", "rec.masked": "oculto", "rec.count": "{n} grabaciones", "rec.more": "Se muestran las {n} más recientes.",
        "rec.audited": "Cada reproducción y descarga queda registrada (quién, cuándo, desde dónde).",
        "rec.timeline": "Recorrido de la llamada", "rec.back": "Volver a la búsqueda", "rec.not_found": "Grabación no encontrada.",
        "rec.checksum": "SHA-256", "rec.codec": "Formato", "rec.storage": "Almacenamiento",
        "rec.usage": "{files} archivos, {size}; libre {free}; ritmo {daily}/día; {days} días restantes",
        "rec.usage_nodays": "{files} archivos, {size}; libre {free}; sin grabaciones en los últimos días",
        "rec.bad_number": "El número no tiene dígitos.", "rec.no_key": "Sin clave de seudónimos: no se puede buscar por número.",
        "rec.bad_call": "Identificador de llamada no válido.",
    },
    "en": {
        "nav.recordings": "Recordings", "rec.title": "Recordings", "rec.call": "Call", "rec.number": "Number",
        "rec.agent": "Agent", "rec.queue": "Queue", "rec.disposition": "Disposition", "rec.from": "From", "rec.to": "To (excluded)", "rec.search": "Search",
        "rec.when": "Start", "rec.caller": "Caller", "rec.length": "Length", "rec.size": "Size", "rec.flags": "State",
        "rec.play": "Listen", "rec.download": "Download", "rec.none": "No recordings match this search.",
        "rec.flag.empty": "empty (no audio)", "rec.flag.truncated": "truncated (shorter than the talk)", "rec.flag.missing": "file not found", "rec.flag.unfinished": "not closed",
        "rec.ok": "ok", "rec.masked": "hidden", "rec.count": "{n} recordings", "rec.more": "Showing the {n} most recent.",
        "rec.audited": "Every play and download is logged (who, when, from where).",
        "rec.timeline": "The call's path", "rec.back": "Back to the search", "rec.not_found": "Recording not found.",
        "rec.checksum": "SHA-256", "rec.codec": "Format", "rec.storage": "Storage",
        "rec.usage": "{files} files, {size}; {free} free; {daily}/day lately; {days} days left",
        "rec.usage_nodays": "{files} files, {size}; {free} free; no recordings in the last days",
        "rec.bad_number": "The number holds no digits.", "rec.no_key": "No pseudonym key: cannot search by number.",
        "rec.bad_call": "Not a call id.",
    },
}


def recordings_folder(request: Request) -> Path:
    settings = settings_of(request)
    return settings.resolve(settings.recording.local_dir)


def _caller_ref(request: Request, number: str) -> str:
    from acd.privacy import PrivacyKeyError, Pseudonyms, normalise_number

    if not normalise_number(number):
        raise PageInputError("rec.bad_number")
    settings = settings_of(request)
    try:
        return Pseudonyms.load(settings.resolve(settings.metrics.database).parent, create=False).ref(number)
    except PrivacyKeyError:
        raise PageInputError("rec.no_key") from None


#: disk use is a scan of the folder (a year of calls is ~10^5 files): computed off the loop, kept this long
USAGE_TTL_S = 300.0
_usage_cache: dict[Path, tuple[float, Usage]] = {}


async def usage_text(request: Request) -> dict[str, object]:
    folder = recordings_folder(request)
    cached = _usage_cache.get(folder)
    if cached is None or time.monotonic() - cached[0] > USAGE_TTL_S:
        cached = (time.monotonic(), await asyncio.to_thread(usage, folder))
        _usage_cache[folder] = cached
    found = cached[1]
    left = found.days_left
    return {
        "files": found.files, "size": human_bytes(found.bytes), "free": human_bytes(found.free_bytes),
        "daily": human_bytes(found.daily_bytes), "days": "-" if left is None else f"{left:.0f}", "known": left is not None,
    }


@router.get("/recordings")
async def recordings_page(
    request: Request,
    call: str = Query("", max_length=128),
    number: str = Query("", max_length=32),
    agent: str = Query("", max_length=64),
    queue: str = Query("", max_length=64),
    disposition: str = Query("", max_length=64),
    period: str | None = Query(None, max_length=16),
    start: str | None = Query(None, alias="from", max_length=32),
    end: str | None = Query(None, alias="to", max_length=32),
    viewer: Viewer = Depends(require("listen_recordings")),
) -> Response:
    rows: list[RecordingRow] = []
    error = None
    rng = None
    try:
        if call and not valid_call_id(call):
            raise PageInputError("rec.bad_call")
        rng = parse_range(timezone_of(request), period or (None if start or end else DEFAULT_PERIOD), start, end)
        ref = _caller_ref(request, number) if number else None
        search = Search(rng.start, rng.end, call or None, ref, agent or None, queue or None, disposition or None)
        async with event_store(request) as store:
            rows = await search_recordings(store, recordings_folder(request), search)
        if number:
            digits = "*" * max(0, len(number) - 4) + number[-4:]
            await asyncio.to_thread(audit, request, "recordings.search", digits, f"by number: {len(rows)} found")
        elif rows and viewer.may_see_personal_data:  # the list shows callers (masked): as the reports' call lists, audited
            await asyncio.to_thread(audit, request, "recordings.list", f"{start or rng.period}..{end or ''}", f"{len(rows)} recordings with callers")
    except PageInputError as exc:
        error = str(exc)
    return render(request, "recordings.html", {
        "rows": rows, "error": error, "call": call, "number": number, "agent": agent, "queue": queue, "disposition": disposition,
        "start": start or "", "end": end or "", "range": rng, "personal": viewer.may_see_personal_data,
        "may_download": viewer.may("download_recordings"), "max_rows": MAX_ROWS, "usage": await usage_text(request),
        "periods": QUICK_PERIODS, "period": rng.period if rng else None,
    })


async def _one(request: Request, call_id: str) -> RecordingRow | None:
    async with event_store(request) as store:
        rows = await search_recordings(store, recordings_folder(request), Search(call_id=call_id))
    return rows[0] if rows else None


async def _timeline(request: Request, row: RecordingRow) -> list[dict[str, object]]:
    async with event_store(request) as store:
        events = await store.events(row.started - TIMELINE_SPAN_S, row.started + TIMELINE_SPAN_S)
    return [
        {"ts": e.ts, "type": e.type, "agent": e.agent_id or "", "queue": e.queue or "",
         "data": ", ".join(f"{k}={e.data[k]}" for k in TIMELINE_KEYS if k in e.data)}
        for e in events if e.call_id == row.call_id
    ]


@router.get("/recordings/{call_id}")
async def recording_page(request: Request, call_id: str, viewer: Viewer = Depends(require("listen_recordings"))) -> Response:
    try:
        row = await _one(request, call_id) if valid_call_id(call_id) else None
    except PageInputError:
        row = None
    if row is None:
        return render(request, "error.html", {"message": "rec.not_found"}, status=404)
    context: dict[str, object] = {
        "row": row, "timeline": await _timeline(request, row), "personal": viewer.may_see_personal_data,
        "may_download": viewer.may("download_recordings"),
    }
    for extra in EXTRAS:
        context.update(await extra(request, viewer, row))
    return render(request, "recording.html", context)


#: more panels on the listen page (the quality form, :mod:`acd.web.pages.quality`): each adds to the template's context
EXTRAS: list[Callable[[Request, Viewer, RecordingRow], Awaitable[dict[str, object]]]] = []


def _stored_file(request: Request, call_id: str) -> Path | None:
    return locate(recordings_folder(request), call_id)


def _first_request(request: Request) -> bool:
    """A play starts with no Range or one from byte 0; later requests are seeks of the same play."""
    wanted = request.headers.get("range", "").replace(" ", "")
    return not wanted or wanted.startswith("bytes=0-")


@router.get("/recordings/{call_id}/audio")
async def audio(request: Request, call_id: str, viewer: Viewer = Depends(require("listen_recordings"))) -> Response:
    path = _stored_file(request, call_id)
    if path is None:
        await asyncio.to_thread(audit, request, "recordings.play", call_id, "refused: no file")
        return Response("recording not found", status_code=404, media_type="text/plain")
    if _first_request(request):
        await asyncio.to_thread(audit, request, "recordings.play", call_id, f"{path.name} ({request.headers.get('range') or 'whole'})")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


@router.get("/recordings/{call_id}/download")
async def download(request: Request, call_id: str, viewer: Viewer = Depends(require("download_recordings"))) -> Response:
    path = _stored_file(request, call_id)
    if path is None:
        await asyncio.to_thread(audit, request, "recordings.download", call_id, "refused: no file")
        return Response("recording not found", status_code=404, media_type="text/plain")
    await asyncio.to_thread(audit, request, "recordings.download", call_id, path.name)
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), filename=path.name)
