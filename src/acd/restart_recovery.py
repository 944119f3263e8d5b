"""What a starting engine recovers from the previous one's life (issue 13's restart path).

Three steps :func:`acd.app.build_app`'s start runs after AMI's first resync, each with its
rules in :mod:`acd.dispatch` (pure, tested alone) and its I/O here:

* agents the event log shows signed in are logged in (and paused) again;
* calls the previous engine left open in the log are closed from Asterisk's CEL record;
* calls Asterisk handled alone while no engine ran (the fallback queue) are read from CEL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from acd.dispatch.away_calls import AwayCallsReader
from acd.dispatch.reconcile import ENDING, OPENING, closing_events, open_calls, queued_events, queueings_lost, read_cel, recovered_calls
from acd.dispatch.reconcile import WINDOW_S as RECONCILE_WINDOW_S
from acd.dispatch.sign_ins import SignIn, sign_ins_to_restore
from acd.metrics.store import StoreError
from acd.dispatch import Dispatcher
from acd.engine import Engine
from acd.features.callbacks import CallbackService
from acd.metrics.store_interface import MetricsStore
from acd.routing import Router
from acd.settings import Settings


class App(Protocol):
    """The parts of :class:`acd.app.App` these steps use (a Protocol: no import back into the assembly)."""

    engine: Engine
    dispatcher: Dispatcher
    router: Router
    callbacks: CallbackService | None
    store: MetricsStore | None

log = logging.getLogger("acd.app")


async def restore_sign_ins(app: App, keep_s: float) -> list[SignIn]:
    """Log in (and pause) again the agents the event log shows signed in (acd.dispatch.sign_ins)."""
    if app.store is None or keep_s <= 0:
        return []
    now = app.engine.clock()
    try:
        last = await app.store.latest_before(now + 1, ["agent.state"], per_agent=True)
    except StoreError as exc:
        log.error("agents' sign-ins not restored: %s", exc)
        return []
    restored = sign_ins_to_restore(last, (agent.id for agent in app.router.config.agents), now, keep_s)
    for sign_in in restored:
        app.dispatcher.agent_login(sign_in.agent_id)
        if sign_in.paused is not None:
            app.dispatcher.agent_pause(sign_in.agent_id, sign_in.paused)
    if restored:
        log.info(
            "agents signed in again from the event log: %s",
            ", ".join(s.agent_id + (f" (paused: {s.paused})" if s.paused else "") for s in restored),
        )
    return restored


#: How often CEL is read again for calls the fallback queue was still serving at the start.
AWAY_SCAN_S = 30.0


def away_calls_reader(app: App, settings: Settings) -> AwayCallsReader | None:
    """Calls Asterisk handled alone while no engine ran (acd.dispatch.away_calls), when CEL is on."""
    cel, store = settings.continuity.cel_database, app.store
    if cel is None or store is None:
        return None
    devices = {agent.endpoint: agent.id for agent in app.router.config.agents}
    queue = settings.continuity.fallback_queue or "acd-engine-away"
    return AwayCallsReader(
        settings.resolve(cel), queue, devices.get, store.recorded_types, app.engine.bus.emit, app.engine.clock, first_recorded=store.first_event_ts
    )


async def reconcile_open_calls(app: App, settings: Settings) -> int:
    """Close in the log the calls the previous engine left open (rules: ``acd.dispatch.reconcile``)."""
    store, engine, router = app.store, app.engine, app.router
    assert store is not None
    now = engine.clock()
    events = await store.events(now - RECONCILE_WINDOW_S, now + 1, types=(*OPENING, *ENDING, "call.answered", "call.started", "call.ended"))
    callbacks = app.callbacks

    def held(call_id: str) -> bool:
        return router.call(call_id) is not None or (callbacks is not None and callbacks.is_callback(call_id))

    calls = {call_id: call for call_id, call in open_calls(events).items() if not held(call_id)}
    lost = queueings_lost(events, held)
    if not calls and not lost:
        return 0
    cel = settings.continuity.cel_database
    records = await asyncio.to_thread(read_cel, settings.resolve(cel), [*calls, *lost]) if cel is not None else {}
    recovered = recovered_calls(records, lost)
    devices = {agent.endpoint: agent.id for agent in router.config.agents}
    closing = queued_events(recovered) + closing_events({**calls, **recovered}, records, devices.get, now)
    for event in closing:
        engine.bus.emit(event)
    unknown = sum(1 for e in closing if e.data.get("reconciled") == "no-record")
    log.warning(
        "ACD: %d call(s) the previous engine left open closed from Asterisk's CEL record (%d whose queueing it never wrote; "
        "%d without a record: closed as of now)",
        len(calls) + len(recovered), len(recovered), unknown,
    )
    return len(calls) + len(recovered)
