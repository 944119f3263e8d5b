"""Who is waiting and talking (``view_calls``), and the controls the engine's API has.

The calls themselves come over the live stream (:mod:`acd.web.pages.wallboard`); this
module serves the page and the actions.  Each action is a POST with the session's CSRF
token, allowed by one permission (``act_on_calls``: priority, move; ``act_on_agents``:
login, logout, pause, unpause), forwarded to the engine with the console's token, and
(``monitor_calls``: listen, whisper or barge on an agent's live call, ringing the
supervisor's own phone, typed once on the page and kept by the browser) written to the
audit log with who asked, from where, and what the engine answered.
A refusal (unknown call, a call already answered, the engine away) comes back as JSON
with the engine's reason, never as a traceback.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from acd.web.access import Viewer
from acd.web.engine import EngineUnavailable
from acd.web.pages import NavItem
from acd.web.render import render
from acd.web.session import audit, require

router = APIRouter()
NAV = [NavItem("/calls", "nav.calls", "view_calls", order=20)]

# The engine's API checks the same (acd.api.models); repeated here so the console does not
# import the engine's package (the layering test keeps web and api apart), and refuses
# bad input before it travels.
ONE_LINE_ID = r"^[^\x00-\x1f\x7f]+$"
Priority = Annotated[int, Field(ge=-1000, le=1000)]
Reason = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:/-]+$")]
Id = Annotated[str, Path(pattern=ONE_LINE_ID, max_length=128)]

MESSAGES = {
    "es": {
        "nav.calls": "Llamadas",
        "calls.title": "Llamadas en curso",
        "calls.caller": "Llamante",
        "calls.queue": "Cola",
        "calls.state": "Estado",
        "calls.position": "Pos.",
        "calls.priority": "Prioridad",
        "calls.wait": "Espera",
        "calls.path": "Recorrido IVR",
        "calls.data": "Datos IVR",
        "calls.agent": "Agente",
        "calls.actions": "Acciones",
        "calls.masked_note": "Números y datos del IVR enmascarados para su perfil.",
        "calls.personal_note": "Números y datos en claro: cada acceso queda registrado.",
        "calls.state_waiting": "En espera",
        "calls.state_ringing": "Timbrando",
        "calls.state_connected": "Conversando",
        "calls.set": "Fijar",
        "calls.move": "Mover",
        "calls.login": "Conectar",
        "calls.logout": "Desconectar",
        "calls.pause": "Pausar",
        "calls.unpause": "Reanudar",
        "calls.failed": "No se pudo",
        "calls.done": "Hecho",
        "calls.agents": "Agentes",
        "calls.listen": "Escuchar",
        "calls.whisper": "Susurrar",
        "calls.barge": "Intervenir",
        "calls.my_phone": "Mi teléfono (para escuchar)",
    },
    "en": {
        "nav.calls": "Calls",
        "calls.title": "Calls in progress",
        "calls.caller": "Caller",
        "calls.queue": "Queue",
        "calls.state": "State",
        "calls.position": "Pos.",
        "calls.priority": "Priority",
        "calls.wait": "Wait",
        "calls.path": "IVR path",
        "calls.data": "IVR data",
        "calls.agent": "Agent",
        "calls.actions": "Actions",
        "calls.masked_note": "Numbers and IVR data are masked for your role.",
        "calls.personal_note": "Numbers and data in clear: every access is logged.",
        "calls.state_waiting": "Waiting",
        "calls.state_ringing": "Ringing",
        "calls.state_connected": "Talking",
        "calls.set": "Set",
        "calls.move": "Move",
        "calls.login": "Log in",
        "calls.logout": "Log out",
        "calls.pause": "Pause",
        "calls.unpause": "Unpause",
        "calls.failed": "Failed",
        "calls.done": "Done",
        "calls.agents": "Agents",
        "calls.listen": "Listen",
        "calls.whisper": "Whisper",
        "calls.barge": "Barge",
        "calls.my_phone": "My phone (to listen)",
    },
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PriorityBody(_In):
    priority: Priority


class MoveBody(_In):
    queue: Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE_ID)]


class MonitorBody(_In):
    mode: Literal["listen", "whisper", "barge"]
    supervisor: Annotated[str, Field(min_length=3, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.+-]{1,64}$")]


class ReasonBody(_In):
    reason: Reason | None = None


@router.get("/calls")
def calls_page(request: Request, viewer: Viewer = Depends(require("view_calls"))) -> Response:
    return render(request, "calls.html", {
        "act_calls": viewer.may("act_on_calls"),
        "act_agents": viewer.may("act_on_agents"),
        "monitor": viewer.may("monitor_calls"),
        "personal": viewer.may_see_personal_data,
    })


async def _forward(request: Request, path: str, body: dict[str, object] | None, action: str, target: str, detail: str) -> Response:
    """One engine call on the viewer's behalf; audited whatever the engine answered."""
    try:
        answer = await request.app.state.engine.post(path, body)
    except EngineUnavailable as exc:
        await asyncio.to_thread(audit, request, action, target, f"{detail}; refused: {exc}")
        return JSONResponse({"error": "engine", "detail": str(exc)}, status_code=502)
    await asyncio.to_thread(audit, request, action, target, detail)
    return JSONResponse(answer)


@router.post("/calls/{call_id}/priority")
async def set_priority(request: Request, call_id: Id, body: PriorityBody, viewer: Viewer = Depends(require("act_on_calls"))) -> Response:
    return await _forward(request, f"/api/calls/{quote(call_id, safe='')}/priority", body.model_dump(), "calls.priority", call_id, f"priority {body.priority}")


@router.post("/calls/{call_id}/move")
async def move(request: Request, call_id: Id, body: MoveBody, viewer: Viewer = Depends(require("act_on_calls"))) -> Response:
    return await _forward(request, f"/api/calls/{quote(call_id, safe='')}/move", body.model_dump(), "calls.move", call_id, f"to {body.queue}")


@router.post("/agents/{agent_id}/monitor")
async def monitor(request: Request, agent_id: Id, body: MonitorBody, viewer: Viewer = Depends(require("monitor_calls"))) -> Response:
    """Ring the supervisor's phone, then ChanSpy on the agent's call (the engine refuses if the agent is not on a call)."""
    payload = {**body.model_dump(), "by": viewer.name}
    return await _forward(request, f"/api/agents/{quote(agent_id, safe='')}/monitor", payload, "agents.monitor", agent_id,
                          f"{body.mode} from {body.supervisor}")


@router.post("/agents/{agent_id}/{action}")
async def agent_action(
    request: Request,
    agent_id: Id,
    action: Literal["login", "logout", "pause", "unpause"],
    body: ReasonBody | None = Body(None),
    viewer: Viewer = Depends(require("act_on_agents")),
) -> Response:
    payload = {"reason": body.reason} if body is not None and body.reason and action in ("pause", "logout") else None
    detail = action + (f" ({payload['reason']})" if payload else "")
    return await _forward(request, f"/api/agents/{quote(agent_id, safe='')}/{action}", payload, f"agents.{action}", agent_id, detail)
