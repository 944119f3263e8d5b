"""Application assembly: which routes and components a real ``acd run`` has.

``acd.engine`` knows lifecycle; this module knows the product:

* FastAGI routes (``ivr``, ``survey``, ``announce``, ``agent``; one thin file each in
  :mod:`acd.agi_routes`): the dialled number picks a flow (hot-reloaded from
  ``ivr_flows/``); a ``queue`` node hands the call to the ACD; after the agent hangs up,
  the flow's ``after_call`` node.
* The ACD: the pure router, driven by Asterisk call control over AMI, resynchronised on
  every AMI (re)connection.

Tests build engines with :func:`build_engine` too, so what they prove is what runs.
"""

from __future__ import annotations

import asyncio
import time
import logging
from datetime import date
from dataclasses import dataclass
from typing import Awaitable, Callable

from acd.agi_routes.agent import AgentRoute
from acd.agi_routes.announce import AnnounceRoute
from acd.agi_routes.ivr import IvrRoute
from acd.agi_routes.survey import SurveyRoute
from acd.asterisk.ami import AmiClient
from acd.asterisk.call_control import AsteriskCallControl
from acd.asterisk.nodes import MultiNodeCallControl, NodesNotAllConnected
from acd.multinode import (
    ExtraNode, agents_on_node, attach_node_features, attach_nodes, build_call_control, check_agent_nodes, node_tagger, serialized,
)
from acd.dispatch import HISTORY_WINDOW_S, Dispatcher
from acd.features.engine_away import AwayPlan, FallbackMembers
from acd.engine import Engine
from acd.restart_recovery import AWAY_SCAN_S, away_calls_reader, reconcile_open_calls, restore_sign_ins
from acd.ivr.channel import Channel
from acd.ivr.handoff import QueueRequest
from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner
from acd.ivr.sounds import SoundsDirError, checked_sounds_dir
from acd.metrics.mqtt import MqttPublisher
from acd.metrics.store_sync import shared_location
from acd.metrics.store import StoreError
from acd.metrics.store_interface import MetricsStore
from acd.metrics.store_url import open_store as open_metrics_store, settings_location
from acd.features.recordings import RecordingTracker, purge_periodically
from acd.features.recordings.storage import opus_available
from acd.features.waiting import WaitingService
from acd.features.callbacks import CallbackPolicy, CallbackService, CallbackStore
from acd.features.agent_phone import AgentPhoneCodes
from acd.housekeeping import Housekeeping
from acd.asterisk.agent_lamps import AgentLamps
from acd.base.holiday_calendar import CHILE, coming_years, load_holidays_file, stale_calendar_warning
from acd.base.schedule import Holidays, schedule_from_hours
from acd.api.views import queue_out
from acd.metrics.live import LiveStats
from acd.routing import Router, RoutingConfig, load_routing_config
from acd.routing_reload import RoutingReloader
from acd.settings import Settings
from acd.private_files import private_dir
from acd.privacy import PrivacyKeyError, Pseudonyms

log = logging.getLogger("acd.app")


class AppError(Exception):
    """The engine cannot be assembled (invalid flows or routing configuration)."""


@dataclass
class App:
    """The assembled product, reachable from tests and the control API."""

    engine: Engine
    flows: FlowRegistry
    runner: FlowRunner
    dispatcher: Dispatcher
    router: Router
    stats: LiveStats
    waiting: WaitingService | None = None
    callbacks: CallbackService | None = None
    store: MetricsStore | None = None
    mqtt: MqttPublisher | None = None
    routing_reload: RoutingReloader | None = None
    pseudonyms: Pseudonyms | None = None  # the install's key, loaded when the engine starts
    caller_number: Callable[[str, str], None] | None = None  # the API's live calls view: (call id, clear number), memory only
    recordings: RecordingTracker | None = None  # recording events; its disk use for /metrics
    node_connections: Callable[[], dict[str, bool]] | None = None  # several nodes: each node's AMI up or not (/metrics)


class _Handoff:
    """The IVR's queue node → the dispatcher; also remembers the survey to run after the call."""

    def __init__(self, dispatcher: Dispatcher, flows: FlowRegistry) -> None:
        self.dispatcher = dispatcher
        self.flows = flows

    async def enqueue(self, channel: Channel, request: QueueRequest) -> str | None:
        next_step = await self.dispatcher.enqueue(channel, request)
        flow = self.flows.snapshot().get(request.flow) if request.flow else None
        if flow is not None and getattr(flow, "after_call", None):
            await channel.set_variable("ACD_SURVEY", flow.name)
        return next_step

    def hand_off_failed(self, call_id: str, reason: str) -> None:
        self.dispatcher.hand_off_failed(call_id, reason)


def build_app(settings: Settings, *, ivr_clock: Callable[[], float] | None = None, clock: Callable[[], float] | None = None) -> App:
    """Assemble the engine; ``ivr_clock`` lets tests put the IVR at a chosen wall time;
    ``clock`` is every component's clock (``acd bench soak`` runs a day on a virtual one)."""
    engine = Engine(settings) if clock is None else Engine(settings, clock=clock)
    problems: list[str] = []

    flows_dir = settings.resolve(settings.ivr.flows_dir)
    try:  # the same prompt check as `acd ivr validate`: a missing sound fails start and reloads
        sounds_dir = checked_sounds_dir(settings.resolve(settings.ivr.sounds_dir) if settings.ivr.sounds_dir else None)
    except SoundsDirError as exc:
        raise AppError(str(exc)) from None
    limits = settings.limits.yaml()
    flows = FlowRegistry(flows_dir, sounds_dir=sounds_dir, limits=limits)
    problems += [str(p) for p in flows.load()]
    if not flows_dir.is_dir():
        problems.append(f"{flows_dir}: IVR flows folder not found (ivr.flows_dir)")

    routing_path = settings.resolve(settings.routing.config)
    config, routing_problems = load_routing_config(routing_path, limits)
    problems += [str(p) for p in routing_problems]
    if problems or config is None:
        raise AppError("\n".join(problems) or f"{routing_path}: routing configuration could not be loaded")

    router = Router(config)
    stats = LiveStats(config, await_history=True)  # primed from the event log when it opens
    engine.bus.sinks.append(stats)  # live figures from the logged events, like reports
    def call_control(ami: AmiClient) -> AsteriskCallControl:
        return AsteriskCallControl(
            ami,
            hold_context=settings.routing.hold_context,
            agent_context=settings.routing.agent_context,
            record_dir=settings.recording.asterisk_dir if settings.recording.enabled else "",
            customer_caller_id=settings.callbacks.caller_id,
        )

    control: AsteriskCallControl | MultiNodeCallControl = call_control(engine.ami)
    multi: MultiNodeCallControl | None = None
    extra_nodes: list[ExtraNode] = []
    if settings.nodes:  # several Asterisk servers (acd.multinode); none: exactly one, as always
        node_problems = check_agent_nodes(config, settings, str(routing_path))
        if node_problems:
            raise AppError("\n".join(node_problems))
        multi, extra_nodes = build_call_control(engine, settings, lambda: router.config, call_control)
        control = multi
        engine.bus.tag = node_tagger(multi)
    dispatcher = Dispatcher(router=router, control=control, emit=engine.bus.emit, clock=engine.clock)
    runner = FlowRunner(emit=engine.bus.emit, clock=ivr_clock or engine.clock, handoff=_Handoff(dispatcher, flows))
    app = App(engine=engine, flows=flows, runner=runner, dispatcher=dispatcher, router=router, stats=stats)

    _attach_metrics(app, settings)
    _attach_recording(app, settings)
    waiting = WaitingService(router=router, emit=engine.bus.emit, clock=engine.clock)
    _attach_callbacks(app, settings, waiting)
    engine.bus.sinks.append(waiting)
    app.waiting = waiting
    engine.routes.add("ivr", IvrRoute(flows, runner, engine.emit, lambda: app.pseudonyms, lambda: app.caller_number))
    engine.routes.add("survey", SurveyRoute(flows, runner))
    engine.routes.add("announce", AnnounceRoute(waiting))
    _attach_agent_phones(app)

    reloader = RoutingReloader(routing_path, config, lambda new: apply_routing(app, settings, new), engine.emit, limits)
    app.routing_reload = reloader
    engine.reload_hooks.append(reloader.check)

    async def start_acd(engine: Engine) -> None:
        engine.spawn(flows.watch(settings.ivr.reload_interval_s), "ivr-reload")
        engine.spawn(reloader.watch(settings.routing.reload_interval_s), "routing-reload")
        engine.spawn(dispatcher.run(), "acd-dispatch")
        await restore_sign_ins(app, settings.continuity.keep_sign_ins_s)
        for agent_id in settings.routing.auto_login:
            dispatcher.agent_login(agent_id)

    reconciled = False

    async def resync() -> None:
        nonlocal reconciled
        try:
            await dispatcher.resync()
        except NodesNotAllConnected as exc:  # several nodes: the last one to connect resyncs them all
            log.info("ACD: resynchronisation waits: %s", exc)
            return
        except Exception:
            log.exception("ACD: resynchronisation after AMI connect failed")
            return
        if not reconciled and app.store is not None:
            reconciled = True  # once per start: the previous engine's open calls
            try:
                await reconcile_open_calls(app, settings)
            except Exception:
                log.exception("ACD: closing the calls the previous engine left open failed")
            away = away_calls_reader(app, settings)
            if away is not None:
                try:
                    await away.scan()
                except Exception:
                    log.exception("ACD: reading calls handled while the engine was away failed")
                engine.spawn(away.run(AWAY_SCAN_S), "away-calls")

    async def stop_acd(engine: Engine) -> None:
        dispatcher.close()

    engine.on_startup(start_acd)
    engine.on_shutdown(stop_acd)
    async def suspend(reason: str) -> None:
        dispatcher.suspend()

    away = settings.continuity
    plan = AwayPlan(away.hold_callers_s, away.retry_engine_s, away.fallback_queue, away.away_message)
    # Several nodes: each node's fallback queue holds the agents whose phones are on it.
    on_first_node = agents_on_node(lambda: router.config, settings, settings.node) if extra_nodes else (lambda agent_id: True)
    fallback = FallbackMembers(
        engine.ami, plan, lambda: [(agent.id, agent.endpoint, agent.state) for agent in router.agents() if on_first_node(agent.id)]
    )
    engine.ami.on_login.append(fallback.on_login)
    engine.bus.sinks.append(fallback)

    async def stop_fallback(engine: Engine) -> None:
        await fallback.close()

    engine.on_shutdown(stop_fallback)

    if multi is not None:  # each node's (re)connection reads every node's picture: one resync at a time
        resync = serialized(resync)
        attach_nodes(engine, multi, extra_nodes, resync, suspend)
        attach_node_features(engine, extra_nodes, settings, router, plan)
        clients = {settings.node: engine.ami, **{node.name: node.ami for node in extra_nodes}}
        app.node_connections = lambda: {name: client.connected for name, client in clients.items()}
    hold = _holding_facts(dispatcher)  # until the resync below has read Asterisk
    engine.ami.on_login.insert(0, hold)
    for node in extra_nodes:
        node.ami.on_login.insert(0, hold)
    engine.ami.on_connected.append(resync)
    engine.ami.on_disconnected.append(suspend)
    from acd.api.server import attach_api  # imports FastAPI/uvicorn: only engines need them

    attach_api(app, settings)
    return app


def _holding_facts(dispatcher: Dispatcher) -> Callable[[], Awaitable[None]]:
    async def hold() -> None:
        dispatcher.hold_facts()

    return hold


def _attach_agent_phones(app: App) -> None:
    """Feature codes from agents' phones (FastAGI route ``agent``) and their lamps (Custom device states)."""
    router, engine = app.router, app.engine

    def state_of(agent_id: str) -> str | None:
        view = router.agent(agent_id)
        return None if view is None else str(view.state)

    codes = AgentPhoneCodes(config=lambda: router.config, actions=app.dispatcher, state_of=state_of)
    engine.routes.add("agent", AgentRoute(codes))
    lamps = AgentLamps(engine.ami, lambda: [(agent.id, str(agent.state)) for agent in router.agents()])
    engine.ami.on_login.append(lamps.on_login)
    engine.bus.sinks.append(lamps)


def _attach_metrics(app: App, settings: Settings) -> None:
    """The event log (opened first, flushed last: SQLite or PostgreSQL, ``store.url``) and, when enabled, the MQTT stream."""
    engine = app.engine
    database = settings.resolve(settings.metrics.database)  # its folder keeps the local files (pseudonym key) either way

    async def open_store(engine: Engine) -> None:
        where: object = database
        try:
            location = settings_location(settings)
            where = location  # shown with any password masked
            private_dir(database.parent, private=settings.files.private)
            app.pseudonyms = Pseudonyms.load(database.parent, create=True)
            store = await open_metrics_store(location, batch_interval_s=settings.metrics.batch_interval_s, private=settings.files.private)
        except (StoreError, PrivacyKeyError, OSError) as exc:
            raise AppError(f"{where}: {exc}") from exc
        if engine.store_fence is not None:  # hot standby: this leader's epoch guards every batch (acd.ha)
            from acd.metrics.store_postgres import PostgresEventStore  # asyncpg: only PostgreSQL sites load it

            if not isinstance(store, PostgresEventStore):
                await store.close()
                raise AppError(f"{where}: ha.enabled needs the store on PostgreSQL")
            store.fence = engine.store_fence
        now = engine.clock()
        started = time.perf_counter()
        primed = app.stats.prime(await store.report_events(app.stats.history_start(now), now, margin_s=0))
        log.info("live figures primed from the event log: %d events in %.2f s", primed, time.perf_counter() - started)
        engine.bus.sinks.insert(0, store)
        app.store = store

        async def history(call_ids: list[str]) -> dict[str, set[str]]:
            since = engine.clock() - HISTORY_WINDOW_S
            return await store.recorded_types(call_ids, ("call.queued", "call.requeued", "call.answered"), since)

        app.dispatcher.history = history
        log.info("event log: %s", where)
        if settings.mqtt.enabled:
            publisher = MqttPublisher(**settings.mqtt.publisher_options(settings.site))
            publisher.start()
            engine.bus.sinks.append(publisher)
            app.mqtt = publisher
            engine.spawn(_publish_stats(app, settings.metrics.stats_publish_s), "mqtt-stats")
        engine.spawn(_heartbeat(engine, settings.metrics.heartbeat_s), "heartbeat")
        engine.spawn(Housekeeping(settings.memory.trim_every_s, settings.memory.report_every_s).run(), "memory-housekeeping")

    # Registered before the ACD so even the first agent logins reach the log.
    engine.on_startup(open_store)


def _attach_callbacks(app: App, settings: Settings, waiting: WaitingService) -> None:
    """Durable callback requests: offered while waiting, placed in turn (agent or customer first, per queue)."""
    engine = app.engine
    dispatcher = app.dispatcher
    dispatcher.customer_dial = settings.callbacks.customer_dial
    dispatcher.customer_ring_s = settings.callbacks.customer_ring_s
    dispatcher.customer_greeting = settings.callbacks.customer_greeting
    policies = callback_policies(app.router.config, callback_holidays(settings))

    async def open_callbacks(engine: Engine) -> None:
        store = await CallbackStore.open(shared_location(settings, settings.callbacks.database), private=settings.files.private)
        service = CallbackService(store, dispatcher, engine.bus.emit, policies, clock=engine.clock, pseudonyms=app.pseudonyms)
        dispatcher.callbacks = service
        waiting.callbacks = service
        app.callbacks = service
        await service.restore()

    async def close_callbacks(engine: Engine) -> None:
        if app.callbacks is not None:
            await app.callbacks.close()

    engine.on_startup(open_callbacks)
    engine.on_shutdown(close_callbacks)


def callback_policies(config: RoutingConfig, holidays: Holidays) -> dict[str, CallbackPolicy]:
    """Each queue's callback rules (attempts, retry delay, hours without holidays, mode)."""
    policies = {}
    for queue in config.queues:
        hours = None
        if queue.waiting.callback_hours:
            hours = schedule_from_hours(queue.waiting.callback_hours, config.timezone, holidays)
        policies[queue.name] = CallbackPolicy(
            queue.waiting.callback_max_attempts, queue.waiting.callback_retry_s, hours, queue.waiting.callback_mode
        )
    return policies


def apply_routing(app: App, settings: Settings, config: RoutingConfig) -> None:
    """A new routing file reaches every part that reads it (called by the routing reloader).

    The holiday calendar is read first: if it cannot be, nothing has changed yet; so are the
    agents' nodes (several servers): an agent on an unknown node refuses the whole file."""
    if settings.nodes:
        node_problems = check_agent_nodes(config, settings, str(settings.resolve(settings.routing.config)))
        if node_problems:
            raise AppError("\n".join(node_problems))
    holidays = callback_holidays(settings)
    app.dispatcher.reconfigure(config)
    serving = app.router.config  # the new file, plus removed queues while callers remain in them
    app.stats.reconfigure(serving)
    if app.waiting is not None:
        app.waiting.reconfigure()
    if app.callbacks is not None:
        app.callbacks.policies = callback_policies(serving, holidays)


def callback_holidays(settings: Settings) -> Holidays:
    """Callbacks are not placed on holidays: the site's calendar file, else Chile's public holidays."""
    if settings.routing.holidays is None:
        return CHILE
    path = settings.resolve(settings.routing.holidays)
    holidays, problems = load_holidays_file(path, settings.limits.yaml())
    if holidays is None:
        raise AppError("\n".join(str(p) for p in problems) or f"{path}: holiday calendar could not be loaded (routing.holidays)")
    warning = stale_calendar_warning(f"{path} (routing.holidays)", holidays, coming_years(date.today()))
    if warning:
        log.warning("%s", warning)
    return holidays


def _attach_recording(app: App, settings: Settings) -> None:
    """Recording events for every agent connection, and expiry of old files."""
    if not settings.recording.enabled:
        return
    engine = app.engine
    folder = settings.resolve(settings.recording.local_dir)
    codec = settings.recording.codec
    if codec == "opus" and not opus_available():
        log.warning("recording.codec opus: opusenc not found (Debian: opus-tools); recordings are kept as WAV")
        codec = "wav"
    tracker = RecordingTracker(folder=folder, emit=engine.bus.emit, clock=engine.clock, codec=codec)
    engine.bus.sinks.append(tracker)
    app.recordings = tracker
    days = settings.recording.retention_days  # None: kept until the contract ends (acd recordings export, erase)
    interval_s = settings.recording.purge_interval_s

    async def start_purge(engine: Engine) -> None:
        engine.spawn(tracker.watch_usage(interval_s), "recording-usage")
        if days is not None:
            engine.spawn(purge_periodically(folder, days, interval_s), "recording-purge")

    engine.on_startup(start_purge)


async def _heartbeat(engine: Engine, period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        engine.emit("engine.heartbeat")


async def _publish_stats(app: App, period_s: float) -> None:
    """Retained per-queue figures for wallboards: what changed since the last publish."""
    last: dict[str, dict] = {}
    while True:
        await asyncio.sleep(period_s)
        if app.mqtt is None:
            return
        snapshot = app.stats.snapshot(app.engine.clock())
        for name, queue in snapshot.queues.items():
            figures = queue_out(queue, list(app.router.queue_skills(name))).model_dump(mode="json")
            comparable = {k: v for k, v in figures.items() if k != "longest_wait_s"}
            if last.get(name) != comparable or figures.get("waiting"):
                app.mqtt.publish_stats(name, {"at": snapshot.at, "interval_start": snapshot.interval_start, **figures})
                last[name] = comparable


def build_engine(settings: Settings) -> Engine:
    return build_app(settings).engine
