"""The live wallboard (``view_live``) and the console's live stream, shared with the calls view.

``GET /wallboard``: queues and skills (waiting, longest wait, service level of the quarter
hour and the day against target, abandonment, ASA and AHT of the quarter hour and the
day, agents by state) and every agent
with state and time in state; a queue under target is drawn as an alarm.  ``?kiosk=1``
drops the navigation and fills the screen for a wall display.

``GET /live/stream``: server-sent events from :mod:`acd.web.live` (one engine stream for
all browsers).  ``?calls=1`` adds the calls for viewers with ``view_calls``; numbers and
IVR data stay masked unless the viewer has ``view_personal_data``, and each stream that
carries them in clear is one audit line.  The stream ends every few minutes and the
browser reconnects: that request keeps a wall screen's session alive and proves it is
still valid (an expired session gets the login page instead).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from acd.web.access import Viewer
from acd.web.live import Shape, feed_of
from acd.web.pages import NavItem
from acd.web.render import render
from acd.web.session import Forbidden, audit, require

router = APIRouter()
NAV = [NavItem("/wallboard", "nav.wallboard", "view_live", order=10)]
#: A browser stream ends after this long (at most a third of the idle limit) and reconnects.
STREAM_MAX_S = 300.0

MESSAGES = {
    "es": {
        "nav.wallboard": "Panel en vivo",
        "live.title": "Panel en vivo",
        "live.queues": "Colas",
        "live.skills": "Habilidades",
        "live.agents": "Agentes",
        "live.queue": "Cola",
        "live.skill": "Habilidad",
        "live.waiting": "En espera",
        "live.longest": "Espera máx.",
        "live.sl_interval": "NS 15 min",
        "live.sl_day": "NS día",
        "live.target": "Meta",
        "live.abandon": "Abandono día",
        "live.asa": "ASA",
        "live.aht": "TMO",
        "live.asa_interval": "ASA 15 min",
        "live.asa_day": "ASA día",
        "live.aht_interval": "TMO 15 min",
        "live.aht_day": "TMO día",
        "live.logged_in": "Conectados",
        "live.available": "Disponibles",
        "live.on_call": "En llamada",
        "live.paused": "En pausa",
        "live.agent": "Agente",
        "live.state": "Estado",
        "live.in_state": "Tiempo en estado",
        "live.reason": "Motivo",
        "live.handled": "Atendidas hoy",
        "live.stale": "Sin conexión con el motor desde {since}: cifras no actualizadas",
        "live.connecting": "Conectando con el motor…",
        "live.updated": "Actualizado",
        "live.kiosk": "Pantalla completa",
        "live.session_ended": "La sesión terminó: vuelva a ingresar.",
        "state.available": "Disponible",
        "state.reserved": "Timbrando",
        "state.on_call": "En llamada",
        "state.wrap_up": "Post-llamada",
        "state.paused": "En pausa",
        "state.logged_out": "Desconectado",
    },
    "en": {
        "nav.wallboard": "Wallboard",
        "live.title": "Live wallboard",
        "live.queues": "Queues",
        "live.skills": "Skills",
        "live.agents": "Agents",
        "live.queue": "Queue",
        "live.skill": "Skill",
        "live.waiting": "Waiting",
        "live.longest": "Longest wait",
        "live.sl_interval": "SL 15 min",
        "live.sl_day": "SL day",
        "live.target": "Target",
        "live.abandon": "Abandoned (day)",
        "live.asa": "ASA",
        "live.aht": "AHT",
        "live.asa_interval": "ASA 15 min",
        "live.asa_day": "ASA day",
        "live.aht_interval": "AHT 15 min",
        "live.aht_day": "AHT day",
        "live.logged_in": "Logged in",
        "live.available": "Available",
        "live.on_call": "On call",
        "live.paused": "Paused",
        "live.agent": "Agent",
        "live.state": "State",
        "live.in_state": "Time in state",
        "live.reason": "Reason",
        "live.handled": "Handled today",
        "live.stale": "No contact with the engine since {since}: figures are not current",
        "live.connecting": "Connecting to the engine…",
        "live.updated": "Updated",
        "live.kiosk": "Full screen",
        "live.session_ended": "Your session ended: please log in again.",
        "state.available": "Available",
        "state.reserved": "Ringing",
        "state.on_call": "On call",
        "state.wrap_up": "Wrap-up",
        "state.paused": "Paused",
        "state.logged_out": "Logged out",
    },
}


@router.get("/wallboard")
def wallboard(request: Request, kiosk: bool = Query(False), viewer: Viewer = Depends(require("view_live"))) -> Response:
    return render(request, "wallboard.html", {"kiosk": kiosk})


@router.get("/live/check")
def live_check(viewer: Viewer = Depends(require(None))) -> dict[str, bool]:
    """Whether this browser's session still may watch (the script asks after a refused stream)."""
    return {"ok": True}


@router.get("/live/stream")
async def live_stream(request: Request, calls: bool = Query(False), viewer: Viewer = Depends(require(None))) -> Response:
    """Figures and agents with ``view_live``; calls (``?calls=1``) with ``view_calls``; neither: 403."""
    with_calls = calls and viewer.may("view_calls")
    how = Shape(calls=with_calls, personal=with_calls and viewer.may_see_personal_data, live=viewer.may("view_live"))
    if not how.live and not how.calls:
        raise Forbidden(f"{viewer.name} ({viewer.role}) may not view_live")
    feed = feed_of(request.app)
    client = feed.subscribe(how)
    if client is None:
        return JSONResponse({"error": "busy", "detail": "too many live screens open"}, status_code=503, headers={"Retry-After": "10"})
    if how.personal:
        await asyncio.to_thread(audit, request, "calls.view_personal", "live calls", "numbers and IVR data in clear (stream)")
    idle_s = float(request.app.state.settings.web.session_idle_s)
    stream = feed.messages(client, max_s=max(5.0, min(STREAM_MAX_S, idle_s / 3)))
    return StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
