"""The control API as a FastAPI application over one :class:`~acd.api.port.ServedEngine` (a running ``acd.app.App``).

Every handler is ``async def`` on purpose: it then runs on the engine's own event loop,
between two router events, never in a thread beside the router (the router is not
thread-safe and needs no lock this way).

Security:

* every ``/api/...`` path needs ``Authorization: Bearer <token>``; the check is an ASGI
  middleware so it runs before anything else (a client without the token learns nothing,
  not even whether its JSON was valid) and compares in constant time.  The token is
  ``ACD_API_TOKEN`` (automation: the admin's whole reach) or a person's own token from
  ``acd user token`` (looked up read-only in the account store, so a revoked token or a
  disabled account stops at once); a person's token reaches only what its account's role
  and scopes permit (:func:`api_permission`), else 403;
* ``/metrics`` is open to loopback peers only (a Prometheus on the same host); any other
  peer needs the token too;
* ``/openapi.json`` is open: it describes the API, never its data.  No ``/docs`` page
  (it would load scripts from a CDN).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
from os import PathLike
from pathlib import Path as PathType
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Union

from fastapi import APIRouter, Body, FastAPI, Path, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from acd import __version__
from acd.metrics.store_url import StoreLocation
from acd.api.lag import LoopLagProbe
from acd.asterisk.monitoring import start_monitor
from acd.api.port import ami_state
from acd.api.models import (
    ONE_LINE_ID,
    AgentOut,
    CallOut,
    DispositionIn,
    ErrorOut,
    HealthOut,
    LogoutIn,
    MonitorIn,
    MonitorOut,
    MoveIn,
    PauseIn,
    PriorityIn,
    QueueOut,
    RoutingReloadOut,
    SkillOut,
    StatsOut,
)
from acd.api.prometheus import CONTENT_TYPE, render_metrics
from acd.api.stream import StreamHub
from acd.api.tally import EventTally
from acd.api.views import LiveViews
from acd.routing.decisions import Ignored, Outcome

if TYPE_CHECKING:
    from acd.api.port import ServedEngine

PUBLIC_PATHS = frozenset({"/openapi.json", "/metrics"})
_UNAUTHORIZED = ErrorOut(error="unauthorized", detail="missing or wrong bearer token (ACD_API_TOKEN)")


class Refused(Exception):
    """A request the engine will not carry out; becomes an :class:`ErrorOut` response."""

    def __init__(self, status: int, error: str, detail: str, kind: str | None = None, id_: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = ErrorOut(error=error, detail=detail, kind=kind, id=id_)  # type: ignore[arg-type]


def _not_found(kind: str, id_: str) -> NoReturn:
    raise Refused(404, "not_found", f"unknown {kind} {id_!r}", kind, id_)


def token_matches(header: str | None, token: str) -> bool:
    """``Bearer <token>``, compared in constant time; the scheme is case-insensitive."""
    if not header or not token:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _forbidden_response() -> JSONResponse:
    return JSONResponse({"error": "forbidden", "detail": "this token's account role or scopes do not allow this request"}, status_code=403)


def _unauthorized_response() -> JSONResponse:
    return JSONResponse(_UNAUTHORIZED.model_dump(), status_code=401, headers={"WWW-Authenticate": 'Bearer realm="acd"'})


def api_permission(method: str, path: str) -> str | None:
    """The permission (:mod:`acd.web.access`) a person's token needs for a request; None: ``ACD_API_TOKEN`` only."""
    if method in ("GET", "HEAD"):
        return "view_calls" if path.startswith("/api/calls") else "view_live"
    if path.startswith("/api/agents/") and path.endswith("/monitor"):
        return "monitor_calls"
    if path.startswith("/api/agents/"):
        return "act_on_agents"
    if path.startswith("/api/calls/"):
        return "act_on_calls"
    return None  # routing reload and anything new: automation's token until someone decides


AccountsWhere = Union[PathLike[str], str, StoreLocation, None]  # where people's tokens are read


def _where(accounts: "PathLike[str] | str | StoreLocation") -> "PathType | StoreLocation":
    """The account store to read tokens from: the shared PostgreSQL's location, or the SQLite file."""
    return accounts if isinstance(accounts, StoreLocation) else PathType(accounts)


def account_token_allows(header: str | None, accounts: AccountsWhere, method: str, path: str) -> bool | None:
    """A person's token: True if it may, False if it is valid but may not (403), None if it is no valid token (401)."""
    if accounts is None or not header:
        return None
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    from acd.accounts.store import lookup_token  # the engine needs it only when a person's token comes
    from acd.web.access import Viewer

    found = lookup_token(_where(accounts), given.strip())
    if found is None:
        return None
    account, scopes = found
    permission = api_permission(method, path)
    return permission is not None and Viewer(account.name, account.role, "", scopes).may(permission)


def requester(header: str | None, token: str, accounts: AccountsWhere) -> str:
    """Who sent a request, for the audit trail: the account behind a person's token, else ``api-token``."""
    if token and token_matches(header, token):
        return "api-token"
    if accounts is not None and header and header.lower().startswith("bearer "):
        from acd.accounts.store import lookup_token

        found = lookup_token(_where(accounts), header[7:].strip())
        if found is not None:
            return found[0].name
    return "loopback"


class BearerAuth:
    """ASGI middleware: everything but :data:`PUBLIC_PATHS` needs ``ACD_API_TOKEN`` or a person's token that may."""

    def __init__(self, app: ASGIApp, token: str, accounts: AccountsWhere = None) -> None:
        self.app = app
        self.token = token
        self.accounts = accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS:
            header = None
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            if not token_matches(header, self.token):
                # In a thread: the look-up reads the account store (a file, or the shared PostgreSQL
                # over the network), and the engine's loop must never wait for either.
                allowed = await asyncio.to_thread(account_token_allows, header, self.accounts, scope["method"], scope["path"])
                if allowed is None:
                    await _unauthorized_response()(scope, receive, send)
                    return
                if not allowed:
                    await _forbidden_response()(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Ids in paths end up in AMI actions, events and logs: one line of printable text (422
# otherwise, before any lookup), like every id the routing configuration accepts.
AgentId = Annotated[str, Path(pattern=ONE_LINE_ID, max_length=128, description="an agent id from the routing configuration")]
CallId = Annotated[str, Path(pattern=ONE_LINE_ID, max_length=128, description="a call id (the caller channel's Uniqueid)")]
QueueName = Annotated[str, Path(pattern=ONE_LINE_ID, max_length=128, description="a queue name from the routing configuration")]


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or wrong bearer token"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "unknown agent, call or queue (named in the body)"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "the router refused: the reason is in `detail`"}}


def create_api(
    app: "ServedEngine", *, token: str, tally: EventTally, lag: LoopLagProbe, accounts: AccountsWhere = None, hub: StreamHub | None = None
) -> FastAPI:
    """The ASGI application; serving it is :mod:`acd.api.server`'s job.  ``accounts``: the account store
    (people's tokens); ``hub``: the live stream's publisher (``/api/stream``)."""
    views = LiveViews(app, tally)
    if hub is not None:
        hub.snapshot = views.picture
    api = FastAPI(
        title="acd control API",
        version=__version__,
        description=(
            "Live queues, agents and calls of a running acd engine, agent and supervisor controls, "
            "and Prometheus metrics. Every /api path needs `Authorization: Bearer <ACD_API_TOKEN>` "
            "(or a person's own token from `acd user token`, within its role and scopes); "
            "/metrics is open to loopback peers only."
        ),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=lambda route: route.name,  # operationIds: "login", "move", ...
    )

    @api.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status)

    @api.exception_handler(StarletteHTTPException)
    async def unreadable_body(request: Request, exc: StarletteHTTPException) -> Response:
        """A body that is not even text (FastAPI says 400) is a bad body like any other: 422."""
        if exc.status_code == 400:
            detail = [{"type": "body_unreadable", "loc": ["body"], "msg": str(exc.detail)}]
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, exc)

    @api.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 as FastAPI words it, except that a refused ``1e400`` or ``NaN`` is echoed as text:
        JSON has no infinity, and echoing the number itself made the refusal a 500."""
        return JSONResponse({"detail": jsonable_encoder(_finite(exc.errors()))}, status_code=422)

    # Documents the scheme in the OpenAPI description; BearerAuth enforces it.
    bearer = HTTPBearer(auto_error=False, description="the engine's ACD_API_TOKEN")
    routes = APIRouter(prefix="/api", dependencies=[Security(bearer)], responses=_ERRORS)

    # ------------------------------------------------------------------ reading
    @routes.get("/health", response_model=HealthOut, summary="the engine answers; AMI and FastAGI state")
    async def health() -> HealthOut:
        ami_up, ami_nodes = ami_state(app)
        return HealthOut(
            status="ok",
            site=app.engine.settings.site,
            ami_connected=ami_up,
            ami_nodes=ami_nodes,
            fastagi_active_sessions=app.engine.fastagi.active_sessions,
        )

    @routes.get("/stats", response_model=StatsOut, summary="every queue and skill, and agent totals, at one instant")
    async def stats() -> StatsOut:
        return views.stats(views.now())

    @routes.get("/queues", response_model=list[QueueOut], summary="queues: waiting, longest wait, agents, service level, abandonment")
    async def queues() -> list[QueueOut]:
        return views.stats(views.now()).queues

    @routes.get("/queues/{name}", response_model=QueueOut, responses=_NOT_FOUND, summary="one queue")
    async def queue(name: QueueName) -> QueueOut:
        for item in views.stats(views.now()).queues:
            if item.name == name:
                return item
        _not_found("queue", name)

    @routes.get("/skills", response_model=list[SkillOut], summary="demand and staffing per skill")
    async def skills() -> list[SkillOut]:
        return views.stats(views.now()).skills

    @routes.get("/agents", response_model=list[AgentOut], summary="every configured agent")
    async def agents() -> list[AgentOut]:
        return views.agents(views.now())

    @routes.get("/agents/{agent_id}", response_model=AgentOut, responses=_NOT_FOUND, summary="one agent")
    async def agent(agent_id: AgentId) -> AgentOut:
        return _agent_or_404(agent_id)

    @routes.get("/calls", response_model=list[CallOut], summary="waiting calls (head of each queue first), then ringing and connected calls")
    async def calls() -> list[CallOut]:
        return views.calls(views.now())

    @routes.get("/calls/{call_id}", response_model=CallOut, responses=_NOT_FOUND, summary="one call")
    async def call(call_id: CallId) -> CallOut:
        return _call_or_404(call_id)

    # ------------------------------------------------------------------ agent controls
    def _agent_or_404(agent_id: str) -> AgentOut:
        found = views.agent(agent_id, views.now())
        if found is None:
            _not_found("agent", agent_id)
        return found

    def _call_or_404(call_id: str) -> CallOut:
        found = views.call(call_id, views.now())
        if found is None:
            _not_found("call", call_id)
        return found

    def _agent_action(agent_id: str, action: Callable[[], list[Outcome]]) -> AgentOut:
        _agent_or_404(agent_id)
        _refuse_if_ignored(action(), agent_id=agent_id)
        return _agent_or_404(agent_id)

    @routes.post("/agents/{agent_id}/login", response_model=AgentOut, responses={**_NOT_FOUND, **_CONFLICT}, summary="log an agent in")
    async def login(agent_id: AgentId) -> AgentOut:
        return _agent_action(agent_id, lambda: app.dispatcher.agent_login(agent_id))

    @routes.post(
        "/agents/{agent_id}/logout", response_model=AgentOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="log an agent out (after the current call, which is never cut)",
    )
    async def logout(agent_id: AgentId, body: LogoutIn | None = Body(None)) -> AgentOut:
        reason = body.reason if body is not None else "logout"
        return _agent_action(agent_id, lambda: app.dispatcher.agent_logout(agent_id, reason))

    @routes.post(
        "/agents/{agent_id}/pause", response_model=AgentOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="pause an agent with a reason (after the current call's wrap-up)",
    )
    async def pause(agent_id: AgentId, body: PauseIn | None = Body(None)) -> AgentOut:
        reason = body.reason if body is not None else "pause"
        return _agent_action(agent_id, lambda: app.dispatcher.agent_pause(agent_id, reason))

    @routes.post("/agents/{agent_id}/unpause", response_model=AgentOut, responses={**_NOT_FOUND, **_CONFLICT}, summary="make a paused agent available")
    async def unpause(agent_id: AgentId) -> AgentOut:
        return _agent_action(agent_id, lambda: app.dispatcher.agent_unpause(agent_id))

    @routes.post(
        "/agents/{agent_id}/disposition", response_model=AgentOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="code the call the agent is wrapping up (one of its queue's dispositions); the wrap-up ends",
    )
    async def disposition(agent_id: AgentId, body: DispositionIn, request: Request) -> AgentOut:
        by = await asyncio.to_thread(requester, request.headers.get("authorization"), token, accounts)
        if by == "api-token" and body.by:
            by = body.by  # the console, on behalf of the account it names
        return _agent_action(agent_id, lambda: app.dispatcher.disposition(agent_id, body.code, body.call_id, by))

    @routes.post(
        "/agents/{agent_id}/monitor", response_model=MonitorOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="listen, whisper or barge on the agent's live call: the supervisor's phone is rung first (audited)",
    )
    async def monitor(agent_id: AgentId, body: MonitorIn, request: Request) -> MonitorOut:
        _agent_or_404(agent_id)
        view = app.router.agent(agent_id)
        config = app.router.config.agent(agent_id)
        if view is None or config is None or str(view.state) != "on_call" or view.call_id is None:
            raise Refused(409, "conflict", "the agent is not on a call", "agent", agent_id)
        by = await asyncio.to_thread(requester, request.headers.get("authorization"), token, accounts)
        if by == "api-token" and body.by:
            by = body.by  # the console, on behalf of the account it names
        app.engine.emit("supervisor.monitor", agent_id=agent_id, call_id=view.call_id,
                        data={"mode": body.mode, "supervisor": body.supervisor, "by": by})
        try:
            await start_monitor(app.engine.ami, supervisor=body.supervisor, agent_endpoint=config.endpoint, mode=body.mode, label=agent_id)
        except Exception as exc:  # AMI down or Originate refused: say so, the event above stays as the attempt
            raise Refused(409, "conflict", f"Asterisk did not start monitoring: {exc}", "agent", agent_id) from None
        return MonitorOut(agent_id=agent_id, call_id=view.call_id, mode=body.mode, supervisor=body.supervisor)

    # ------------------------------------------------------------------ supervisor controls
    @routes.post(
        "/calls/{call_id}/priority", response_model=CallOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="change a waiting call's priority (it takes its new place at once)",
    )
    async def set_priority(call_id: CallId, body: PriorityIn) -> CallOut:
        _call_or_404(call_id)
        _refuse_if_ignored(app.dispatcher.set_priority(call_id, body.priority), call_id=call_id)
        return _call_or_404(call_id)

    @routes.post(
        "/calls/{call_id}/move", response_model=CallOut, responses={**_NOT_FOUND, **_CONFLICT},
        summary="move a waiting call to another queue, keeping its wait",
    )
    async def move(call_id: CallId, body: MoveIn) -> CallOut:
        _call_or_404(call_id)
        if body.queue not in app.router.queue_names():
            _not_found("queue", body.queue)
        _refuse_if_ignored(app.dispatcher.move_call(call_id, body.queue), call_id=call_id)
        return _call_or_404(call_id)

    @routes.post(
        "/routing/reload", response_model=RoutingReloadOut,
        summary="apply the routing file now if it changed (as a saved change is within routing.reload_interval_s)",
    )
    async def reload_routing() -> RoutingReloadOut:
        result = app.routing_reload.check() if app.routing_reload is not None else None
        if result is None:
            return RoutingReloadOut(status="unchanged", version="")
        return RoutingReloadOut(status=result.status, version=result.version, changes=result.changes, problems=list(result.problems))  # type: ignore[arg-type]

    @routes.get("/stream", include_in_schema=False)  # endless: kept out of the schema its fuzzer walks
    async def stream(request: Request, personal: bool = False) -> Response:
        """Server-sent events: a ``snapshot`` (stats, agents, calls) now and after every change (:mod:`acd.api.stream`).

        ``ACD_API_TOKEN`` only (the console's link): the stream carries calls and, on
        request, personal data, which a person's token reaches through the console."""
        if not token_matches(request.headers.get("authorization"), token):
            return _forbidden_response()
        subscriber = hub.subscribe(personal) if hub is not None else None
        if hub is None or subscriber is None:
            detail = "no stream in this engine" if hub is None else f"{hub.max_subscribers} streams already open"
            return JSONResponse({"error": "busy", "detail": detail}, status_code=503, headers={"Retry-After": "5"})
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(hub.messages(subscriber), media_type="text/event-stream", headers=headers)

    api.include_router(routes)

    # ------------------------------------------------------------------ Prometheus
    @api.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus text exposition (open to loopback peers; others need the token)",
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"},
            401: {"model": ErrorOut, "description": "a non-loopback peer without the token"},
        },
    )
    async def metrics(request: Request) -> PlainTextResponse:
        peer = request.client.host if request.client is not None else None
        if not is_loopback(peer) and not token_matches(request.headers.get("authorization"), token):
            return _unauthorized_response()  # type: ignore[return-value]
        return PlainTextResponse(render_metrics(app, views, tally, lag), media_type=CONTENT_TYPE)

    api.add_middleware(BearerAuth, token=token, accounts=accounts)
    return api


def _refuse_if_ignored(outcomes: list[Outcome], *, agent_id: str | None = None, call_id: str | None = None) -> None:
    """The router answers a contradictory request with ``Ignored``: report it as 409."""
    for outcome in outcomes:
        if not isinstance(outcome, Ignored):
            continue
        if (agent_id is not None and outcome.agent_id == agent_id) or (call_id is not None and outcome.call_id == call_id):
            raise Refused(409, "conflict", outcome.reason, "agent" if agent_id else "call", agent_id or call_id)



def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its text (``inf``, ``nan``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
