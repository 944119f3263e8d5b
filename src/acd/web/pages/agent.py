"""The agent's own page (``act_as_agent``): state, login/pause, the call popped on ring, dispositions.

An account acts for the one routing agent linked to it (``acd user add --agent ID`` or
``acd user agent NAME ID``); the agent id is never taken from the browser, so an agent
cannot act for a colleague.  Every action goes to the engine's API (the router decides;
the engine's events stay the only record of agent state) and into the audit log.

Live state comes over the console's one engine stream (:mod:`acd.web.live`) cut to this
agent (``Shape(agent=...)``): the agent's row with its wrap-up codes, and the call ringing
or talking to them *in clear* — the number and the data the caller typed in the IVR (a
RUT) are the agent's to see while handling the call, and nobody else's without
``view_personal_data``.  When a call pops, the page asks for the caller's earlier contacts
today (by the number's pseudonym in the event log): that request is audited, as the
moment the agent saw the call's personal data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from acd.web.access import Viewer
from acd.web.engine import EngineUnavailable
from acd.web.live import Shape, feed_of
from acd.web.pages import NavItem
from acd.web.pages._reporting import PageInputError, event_store, settings_of
from acd.web.render import render
from acd.web.session import audit, require, store_of

router = APIRouter()
NAV = [NavItem("/agent", "nav.agent", "act_as_agent", order=5)]
STREAM_MAX_S = 300.0
#: earlier contacts listed at most (a number that calls all day must not fill the page)
MAX_CONTACTS = 20
ONE_LINE_ID = r"^[^\x00-\x1f\x7f]+$"

MESSAGES = {
    "es": {
        "nav.agent": "Mi puesto",
        "agent.title": "Mi puesto",
        "agent.not_linked": "Su cuenta no está asociada a un agente. Un administrador puede hacerlo con: acd user agent {name} ID",
        "agent.state": "Estado",
        "agent.in_state": "Tiempo en estado",
        "agent.reason": "Motivo",
        "agent.pending": "Pendiente al terminar la llamada",
        "agent.login": "Conectarme",
        "agent.logout": "Desconectarme",
        "agent.pause": "Pausa",
        "agent.unpause": "Volver a disponible",
        "agent.call": "Llamada",
        "agent.no_call": "Sin llamada en curso",
        "agent.number": "Número",
        "agent.queue": "Cola",
        "agent.callbacks": "Mis devoluciones de llamada de hoy",
        "agent.no_callbacks": "Ninguna devolución de llamada hoy",
        "agent.wait": "Espera",
        "agent.path": "Recorrido IVR",
        "agent.data": "Datos del IVR",
        "agent.earlier": "Contactos anteriores de este número hoy",
        "agent.none_earlier": "Ninguno",
        "agent.wrap_up": "Tipificación",
        "agent.required": "Obligatoria: la post-llamada termina al tipificar",
        "agent.optional": "Opcional",
        "agent.coded": "Tipificada",
        "agent.outcome.answered": "atendida",
        "agent.outcome.abandoned": "abandonada",
        "agent.outcome.timed_out": "sin atender (tiempo máximo)",
        "agent.outcome.queued": "en cola",
        "agent.outcome.ivr": "solo IVR",
    },
    "en": {
        "nav.agent": "My desk",
        "agent.title": "My desk",
        "agent.not_linked": "Your account is not linked to an agent. An administrator can link it: acd user agent {name} ID",
        "agent.state": "State",
        "agent.in_state": "Time in state",
        "agent.reason": "Reason",
        "agent.pending": "Pending when the call ends",
        "agent.login": "Log in",
        "agent.logout": "Log out",
        "agent.pause": "Pause",
        "agent.unpause": "Available again",
        "agent.call": "Call",
        "agent.no_call": "No call right now",
        "agent.number": "Number",
        "agent.queue": "Queue",
        "agent.callbacks": "My callbacks today",
        "agent.no_callbacks": "No callbacks today",
        "agent.wait": "Wait",
        "agent.path": "IVR path",
        "agent.data": "IVR data",
        "agent.earlier": "Earlier contacts from this number today",
        "agent.none_earlier": "None",
        "agent.wrap_up": "Disposition",
        "agent.required": "Required: wrap-up ends when the call is coded",
        "agent.optional": "Optional",
        "agent.coded": "Coded",
        "agent.outcome.answered": "answered",
        "agent.outcome.abandoned": "abandoned",
        "agent.outcome.timed_out": "timed out",
        "agent.outcome.queued": "queued",
        "agent.outcome.ivr": "IVR only",
    },
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PauseBody(_In):
    reason: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:/-]+$")] | None = None


class DispositionBody(_In):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\w[\w.\-]*$")]
    call_id: Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE_ID)] | None = None


def pause_reasons(request: Request) -> list[str]:
    """The reasons the routing file allows (``pause_reasons``, the same the phone's ``*46N`` offers)."""
    from acd.routing import load_routing_config

    settings = settings_of(request)
    path = settings.resolve(settings.routing.config)
    if not path.is_file():
        return []
    config, problems = load_routing_config(path, settings.limits.yaml())
    return [] if config is None else list(dict.fromkeys(config.pause_reasons.values()))


async def agent_of(request: Request, viewer: Viewer) -> str | None:
    return await asyncio.to_thread(store_of(request).agent_of, viewer.name)


@router.get("/agent")
async def agent_page(request: Request, viewer: Viewer = Depends(require("act_as_agent"))) -> Response:
    agent_id = await agent_of(request, viewer)
    callbacks: list[dict[str, Any]] = []
    if agent_id is not None:
        try:
            callbacks = await callbacks_today(request, agent_id, _midnight(request))
        except PageInputError:
            callbacks = []  # no event log on this host: the desk itself still works
    return render(request, "agent.html", {"agent_id": agent_id, "reasons": pause_reasons(request), "callbacks": callbacks})


def _midnight(request: Request) -> float:
    zone = ZoneInfo(settings_of(request).routing.timezone)
    return datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


async def callbacks_today(request: Request, agent_id: str, since: float) -> list[dict[str, Any]]:
    """The callbacks the ACD gave this agent since ``since``: each one's last attempt by them, newest first.

    Numbers as the engine logged them (masked): the agent sees a callback's number in
    clear when it rings, in the call popped like any other call."""
    async with event_store(request) as store:
        events = await store.events(since, None, types=["callback.attempt", "callback.completed"])
    rows: dict[str | None, dict[str, Any]] = {}
    for event in events:
        if event.agent_id != agent_id:
            continue
        row = rows.setdefault(event.call_id, {"call_id": event.call_id, "queue": event.queue, "number": event.data.get("number"), "outcome": None, "at": event.ts})
        row["at"] = event.ts
        row["outcome"] = "completed" if event.type == "callback.completed" else event.data.get("outcome")
    return sorted(rows.values(), key=lambda row: row["at"], reverse=True)[:MAX_CONTACTS]


@router.get("/agent/stream")
async def agent_stream(request: Request, viewer: Viewer = Depends(require("act_as_agent"))) -> Response:
    agent_id = await agent_of(request, viewer)
    if agent_id is None:
        return JSONResponse({"error": "not_linked", "detail": "this account is not linked to an agent"}, status_code=409)
    feed = feed_of(request.app)
    client = feed.subscribe(Shape(calls=False, personal=False, live=False, agent=agent_id))
    if client is None:
        return JSONResponse({"error": "busy", "detail": "too many live screens open"}, status_code=503, headers={"Retry-After": "10"})
    idle_s = float(request.app.state.settings.web.session_idle_s)
    stream = feed.messages(client, max_s=max(5.0, min(STREAM_MAX_S, idle_s / 3)))
    return StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


async def _forward(request: Request, agent_id: str, path: str, body: dict[str, object] | None, action: str, detail: str) -> Response:
    """One engine call for the viewer's own agent; audited whatever the engine answered."""
    try:
        answer = await request.app.state.engine.post(f"/api/agents/{quote(agent_id, safe='')}/{path}", body)
    except EngineUnavailable as exc:
        await asyncio.to_thread(audit, request, action, agent_id, f"{detail}; refused: {exc}")
        return JSONResponse({"error": "engine", "detail": str(exc)}, status_code=502)
    await asyncio.to_thread(audit, request, action, agent_id, detail)
    return JSONResponse(answer)


def _not_linked() -> Response:
    return JSONResponse({"error": "not_linked", "detail": "this account is not linked to an agent"}, status_code=409)


@router.post("/agent/disposition")
async def disposition(request: Request, body: DispositionBody, viewer: Viewer = Depends(require("act_as_agent"))) -> Response:
    agent_id = await agent_of(request, viewer)
    if agent_id is None:
        return _not_linked()
    payload: dict[str, object] = {"code": body.code, "by": viewer.name}
    if body.call_id:
        payload["call_id"] = body.call_id
    return await _forward(request, agent_id, "disposition", payload, "agent.disposition", f"{body.code} for call {body.call_id or '-'}")


@router.post("/agent/{action}")
async def agent_action(
    request: Request,
    action: Literal["login", "logout", "pause", "unpause"],
    body: PauseBody | None = Body(None),
    viewer: Viewer = Depends(require("act_as_agent")),
) -> Response:
    agent_id = await agent_of(request, viewer)
    if agent_id is None:
        return _not_linked()
    reason = body.reason if body is not None else None
    if action == "pause" and reason is not None and reason not in pause_reasons(request):
        return JSONResponse({"error": "reason", "detail": f"{reason!r} is not a pause reason of the routing file"}, status_code=422)
    payload = {"reason": reason} if action == "pause" and reason else ({"reason": "logout-by-agent"} if action == "logout" else None)
    return await _forward(request, agent_id, action, payload, f"agent.{action}", action + (f" ({reason})" if reason and action == "pause" else ""))


@router.get("/agent/contacts")
async def earlier_contacts(
    request: Request,
    call_id: str = Query(..., min_length=1, max_length=128, pattern=ONE_LINE_ID),
    viewer: Viewer = Depends(require("act_as_agent")),
) -> Response:
    """The call the agent handles now, with the caller's earlier contacts today (audited: the screen pop)."""
    agent_id = await agent_of(request, viewer)
    if agent_id is None:
        return _not_linked()
    snapshot = feed_of(request.app).latest or {}
    call = next((c for c in snapshot.get("calls") or [] if c.get("id") == call_id and c.get("agent_id") == agent_id), None)
    if call is None:
        return JSONResponse({"error": "not_yours", "detail": "no call with this id is ringing or talking to you"}, status_code=404)
    await asyncio.to_thread(audit, request, "agent.screen_pop", call_id, "caller number and IVR data in clear to the handling agent")
    ref = str(call.get("caller_ref") or "")
    midnight = _midnight(request)
    try:
        contacts = await contacts_today(request, ref, call_id, midnight) if ref else []
    except PageInputError:
        contacts = []  # no event log on this host: the pop itself still shows
    return JSONResponse({"call_id": call_id, "contacts": contacts})


async def contacts_today(request: Request, caller_ref: str, exclude: str, since: float) -> list[dict[str, Any]]:
    """Calls from the same pseudonym since ``since``: when, queue, agent, how it ended, its disposition."""
    async with event_store(request) as store:
        started = [e for e in await store.events(since, None, types=["call.started"]) if e.data.get("caller_ref") == caller_ref and e.call_id != exclude]
        started = started[-MAX_CONTACTS:]
        ids = {e.call_id for e in started}
        details = await store.events(since, None, types=["call.queued", "call.answered", "call.abandoned", "call.timed_out", "call.disposition"]) if ids else []
    found: dict[str | None, dict[str, Any]] = {e.call_id: {"call_id": e.call_id, "at": e.ts, "queue": None, "agent": None, "outcome": "ivr", "disposition": None} for e in started}
    for event in details:
        row = found.get(event.call_id)
        if row is None:
            continue
        if event.type == "call.queued":
            row["queue"], row["outcome"] = event.queue, "queued"
        elif event.type == "call.answered":
            row["agent"], row["outcome"] = event.agent_id, "answered"
        elif event.type in ("call.abandoned", "call.timed_out"):
            row["outcome"] = event.type.split(".")[1]
        else:
            row["disposition"] = event.data.get("code")
    return sorted(found.values(), key=lambda row: row["at"], reverse=True)


__all__ = ["router", "NAV", "MESSAGES", "callbacks_today", "contacts_today", "pause_reasons"]
