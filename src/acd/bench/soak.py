"""``acd bench soak``: does the engine's memory stay flat over a day of traffic?

The real engine is assembled in-process (:func:`acd.app.build_app`: FastAGI server on a
loopback port, IVR runner, dispatcher, router, live figures, waiting service, callbacks
service, real SQLite event log) on a **virtual clock**, and a simulated day of calls is
driven through it as fast as the machine goes:

* each caller is a FastAGI peer on a real TCP connection that answers the IVR's commands
  as Asterisk would (menu key, RUT, then the queue node hands the call to the ACD);
* :class:`SoakControl` replaces only Asterisk's side of call control: the dispatcher's
  actions (ring, back to hold, time-out) become the facts Asterisk would report
  (``Parked``, ``AgentLegStarted``, ``AgentAnswered``, ``LegHungUp``...) at their virtual
  times; some agents do not answer (the router's ring time-out), some callers hang up
  while waiting, answered callers take the post-call survey (a second FastAGI session);
* the router's timers (wrap-up ends, ring time-outs, expansion) fire at their exact
  virtual deadlines, as the dispatcher's ``call_later`` does live.

After each simulated hour the run waits for the event log to be written, collects
garbage and samples the process's RSS and the Python heap (``tracemalloc``).  After the
warm-up the growth per hour is the least-squares slope of those samples, and bytes per
call that slope over the calls of an hour: a per-call structure kept after the call
ended shows as a straight line; a bounded one flattens once it is full.  The largest
growths by source line between the end of the warm-up and the end of the run say where.

    acd bench soak --hours 24 --cps 1 --json

Long on purpose: a benchmark that drives the whole engine, so it carries a fake Asterisk
side (:class:`SoakControl`), a FastAGI caller and a virtual clock that only make sense
together; none of it is imported by the engine.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools
import logging
import math
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable
from zoneinfo import ZoneInfo

from acd.lab.ports import free_port
from acd.app import App, build_app
from acd.asterisk.call_control import AgentAnswered, AgentLegStarted, ControlEvent, DeviceState, LegHungUp, Parked
from acd.bench.machine import FLAT_BYTES_PER_CALL, flat_verdict, machine_info, slope, slope_interval
from acd.metrics import ledger
from acd.settings import AgiSettings, ApiSettings, CallbackSettings, IvrSettings, MetricsSettings, RecordingSettings, RoutingSettings, Settings

log = logging.getLogger("acd.bench.soak")

TIMEZONE = "America/Santiago"
QUEUES = ("compradores", "proveedores", "general")
MENU_KEYS = (("1", 0.6), ("2", 0.25), ("0", 0.15))  # the flow's menu: which queue callers pick

FLOW = """
name: soak
numbers: ["100"]
entry: bienvenida
after_call: encuesta
nodes:
  bienvenida: {type: play, prompt: hello-world, interruptible: true, next: menu}
  menu:
    type: menu
    prompt: [vm-press, digits/1, vm-press, digits/2]
    keys: {"1": compradores, "2": proveedores, "0": cola_general}
    timeout: 5
    retries: 1
    fallback: cola_general
  compradores: {type: set, variables: {segmento: compradores}, next: pedir_rut}
  proveedores: {type: set, variables: {segmento: proveedores}, next: pedir_rut}
  pedir_rut:
    type: collect
    prompt: vm-enter-num-to-call
    save_as: rut
    validate: rut
    min_digits: 8
    max_digits: 9
    terminator: "#"
    next: derivar
    fallback: derivar
  derivar:
    type: branch
    on: segmento
    cases:
      - {equals: compradores, next: cola_compradores}
      - {equals: proveedores, next: cola_proveedores}
    default: cola_general
  cola_compradores: {type: queue, queue: compradores, attach: [rut, segmento], prompt: vm-dialout, fallback: fin}
  cola_proveedores: {type: queue, queue: proveedores, attach: [rut, segmento], prompt: vm-dialout, fallback: fin}
  cola_general: {type: queue, queue: general, prompt: vm-dialout, fallback: fin}
  fin: {type: hangup}
  encuesta:
    type: survey
    prompt: auth-thankyou
    questions:
      - {name: atencion, prompt: digits/1}
      - {name: resolucion, prompt: digits/1}
    timeout: 5
    retries: 0
    next: adios
  adios: {type: message, prompt: vm-goodbye}
"""


def routing_yaml(agents: int) -> str:
    """Three queues as in ``deploy/routing.yaml`` (expansion, overflow to general) and
    ``agents`` agents, each in one or two of them."""
    lines = [
        f"timezone: {TIMEZONE}",
        "skills: [compradores, proveedores, general]",
        "queues:",
        "  - {name: compradores, skills: [compradores], wrap_up_s: 10, ring_timeout_s: 15,"
        " expansion: [{after_s: 0, min_proficiency: 5}, {after_s: 20, min_proficiency: 1}, {after_s: 90, overflow: general}]}",
        "  - {name: proveedores, skills: [proveedores], wrap_up_s: 10, ring_timeout_s: 15}",
        "  - {name: general, skills: [general], wrap_up_s: 10, ring_timeout_s: 15}",
        "agents:",
    ]
    for index in range(agents):
        first = QUEUES[index % 3]
        second = QUEUES[(index + 1) % 3]
        lines.append(f"  - {{id: a{index}, name: Agente {index}, endpoint: PJSIP/agent{index}, skills: {{{first}: {3 + index % 7}, {second}: 2}}}}")
    return "\n".join(lines) + "\n"


class VirtualClock:
    """Wall-clock seconds that move only when the soak says so."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Traffic:
    """What callers and agents do (times in virtual seconds)."""

    cps: float = 1.0
    ivr_s: float = 20.0  # arrival to parked
    answer_s: tuple[float, float] = (2.0, 6.0)
    talk_s: tuple[float, float] = (20.0, 100.0)
    survey_s: float = 15.0
    patience_mean_s: float = 300.0
    no_answer: float = 0.05  # rings nobody picks up (the router's ring time-out)
    back_after_no_answer_s: float = 60.0  # the agent unpauses after a missed ring
    surveys: float = 0.5  # answered callers who stay for the survey

    def agents(self) -> int:
        """Enough agents for a 75 %-in-25 s day: the offered Erlangs plus a margin."""
        per_call = sum(self.answer_s) / 2 + sum(self.talk_s) / 2 + 10.0  # ring, talk, wrap-up
        return max(4, math.ceil(self.cps * per_call * 1.15) + 3)


@dataclass
class _Call:
    call_id: str
    channel: str
    state: str = "ivr"  # ivr, waiting, ringing, talking, gone
    agent_leg: str = ""
    ring: int = 0  # which ring this is; facts of an earlier ring are dropped
    variables: dict[str, str] = field(default_factory=dict)  # what the engine set on the channel


class SoakControl:
    """Asterisk's side of call control: the dispatcher's actions become later facts."""

    def __init__(self, soak: "Soak") -> None:
        self.soak = soak

    async def events(self) -> AsyncIterator[ControlEvent]:
        await asyncio.Event().wait()  # facts come from the soak's own timeline
        yield Parked("", "", "", None, None)  # pragma: no cover - never reached

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None:
        self.soak.rang(call_id, agent_id)

    async def return_to_hold(self, channel: str) -> None:
        self.soak.back_to_hold(channel)

    async def end_waiting(self, channel: str) -> None:
        self.soak.timed_out(channel)

    async def parked_calls(self) -> list[Parked]:
        return []

    async def live_channels(self) -> dict[str, str]:
        return {}

    async def device_states(self) -> list[DeviceState]:
        return []

    async def hang_up(self, channel: str) -> None:
        return None

    async def originate_callback(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no callbacks in the soak")

    async def originate_customer_first(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no callbacks in the soak")


@dataclass
class Sample:
    hour: float
    calls: int
    rss_kb: int
    heap_kb: int
    blocks: int  # sys.getallocatedblocks(): Python objects alive, cheap enough for tests


@dataclass
class SoakResult:
    hours: float
    cps: float
    calls: int
    answered: int
    abandoned: int
    agents: int
    warmup_hours: float
    samples: list[Sample]
    rss_kb_per_hour: float
    heap_kb_per_hour: float
    heap_bytes_per_call: float
    rss_bytes_per_call: float
    blocks_per_call: float
    top_growth: list[dict[str, Any]]
    wall_s: float
    rss_bytes_per_call_95: tuple[float, float] = (float("-inf"), float("inf"))  # the 95 % interval
    verdict: str = "undecided"  # RSS against FLAT_BYTES_PER_CALL (acd.bench.machine.flat_verdict)
    machine: dict[str, Any] = field(default_factory=machine_info)
    # CPU cost: process CPU while the timeline played (sampling, gc and snapshots
    # excluded) over the calls offered; engine and this in-process fake Asterisk together.
    cpu_s: float = 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        return self.cpu_s * 1000 / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": "soak",
            "hours": self.hours,
            "cps": self.cps,
            "calls": self.calls,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "agents": self.agents,
            "warmup_hours": self.warmup_hours,
            "rss_kb_per_hour": round(self.rss_kb_per_hour, 1),
            "heap_kb_per_hour": round(self.heap_kb_per_hour, 1),
            "heap_bytes_per_call": round(self.heap_bytes_per_call, 1),
            "rss_bytes_per_call": round(self.rss_bytes_per_call, 1),
            "rss_bytes_per_call_95": [round(x, 1) for x in self.rss_bytes_per_call_95],
            "threshold_bytes_per_call": FLAT_BYTES_PER_CALL,
            "verdict": self.verdict,
            "blocks_per_call": round(self.blocks_per_call, 3),
            "samples": [vars(sample) for sample in self.samples],
            "top_growth": self.top_growth,
            "wall_s": round(self.wall_s, 1),
            "cpu_s": round(self.cpu_s, 2),
            "cpu_ms_per_call": round(self.cpu_ms_per_call, 3),
            "machine": self.machine,
        }


def rss_kb() -> int:
    """This process's resident set now (Linux ``/proc``; else the peak from ``getrusage``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class Soak:
    """One simulated stretch of traffic through one in-process engine."""

    def __init__(self, work: Path, traffic: Traffic, *, start: float, seed: int = 1, agents: int | None = None) -> None:
        self.work = work
        self.traffic = traffic
        self.random = random.Random(seed)
        self.clock = VirtualClock(start)
        self.agents = agents or traffic.agents()
        self._timeline: list[tuple[float, int, Callable[[], Awaitable[None] | None]]] = []
        self._order = itertools.count()
        self._calls: dict[str, _Call] = {}
        self._by_channel: dict[str, str] = {}
        self._ids = itertools.count(1)
        self.offered = self.answered = self.abandoned = 0
        self.app: App | None = None
        self._arrivals_end = start
        self.agi_port = 0
        self.agi_key = ""

    # ------------------------------------------------------------------ engine
    def settings(self) -> Settings:
        flows = self.work / "flows"
        flows.mkdir(parents=True, exist_ok=True)
        (flows / "soak.yaml").write_text(FLOW)
        (self.work / "routing.yaml").write_text(routing_yaml(self.agents))
        return Settings(
            agi=AgiSettings(port=free_port()),
            ivr=IvrSettings(flows_dir=flows),
            routing=RoutingSettings(config=self.work / "routing.yaml", auto_login=[f"a{i}" for i in range(self.agents)]),
            metrics=MetricsSettings(database=self.work / "var" / "acd.sqlite"),
            callbacks=CallbackSettings(database=self.work / "var" / "callbacks.sqlite"),
            # Recording needs Asterisk's files: its tracker waits seconds of real time for each.
            recording=RecordingSettings(enabled=False, local_dir=self.work / "recordings"),
            api=ApiSettings(enabled=False),
        )

    async def start(self) -> App:
        settings = self.settings()
        app = build_app(settings, clock=self.clock)
        app.dispatcher.control = SoakControl(self)
        await app.engine.start()
        self.app = app
        self.agi_port = settings.agi.port
        self.agi_key = app.engine.agi_key or ""
        return app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.engine.stop(grace_s=1)

    # ------------------------------------------------------------------ timeline
    def at(self, when: float, action: Callable[[], Awaitable[None] | None]) -> None:
        heapq.heappush(self._timeline, (when, next(self._order), action))

    def handle(self, fact: ControlEvent) -> None:
        assert self.app is not None
        self.app.dispatcher.handle(fact)

    async def run_until(self, end: float) -> None:
        """Play the timeline (and the router's timers) up to virtual time ``end``."""
        assert self.app is not None
        router, dispatcher = self.app.router, self.app.dispatcher
        while self._timeline and self._timeline[0][0] <= end:
            when, _, action = heapq.heappop(self._timeline)
            while (deadline := router.next_deadline()) is not None and deadline <= when:
                self.clock.now = max(self.clock.now, deadline)
                if dispatcher._timer is not None:  # fired here, at its virtual time, instead
                    dispatcher._timer.cancel()
                dispatcher._on_timer()
                await _settle()
            self.clock.now = max(self.clock.now, when)
            result = action()
            if result is not None:
                await result
            await _settle()
        self.clock.now = max(self.clock.now, end)

    def arrivals(self, start: float, end: float) -> None:
        """Poisson arrivals at ``cps`` between ``start`` and ``end``, each scheduling the
        next (the timeline holds what is pending, never the rest of the day)."""
        self._arrivals_end = end
        self._next_arrival(start)

    def _next_arrival(self, after: float) -> None:
        t = after + self.random.expovariate(self.traffic.cps)
        if t < self._arrivals_end:
            self.at(t, self._arrive)

    # ------------------------------------------------------------------ a caller
    async def _arrive(self) -> None:
        self._next_arrival(self.clock.now)
        number = next(self._ids)
        call = _Call(call_id=f"{int(self.clock.now)}.{number}", channel=f"PJSIP/trunk-{number:08x}")
        self._calls[call.call_id] = call
        self._by_channel[call.channel] = call.call_id
        self.offered += 1
        key = _pick(self.random, MENU_KEYS)
        keys = key + ("12345678" + "5#" if key in "12" else "")
        await self._agi(call, "ivr", keys)
        if "ACD_QUEUE" not in call.variables:  # the flow did not queue it
            self._gone(call)
            return
        call.state = "waiting"
        patience = self.random.expovariate(1 / self.traffic.patience_mean_s)
        now = self.clock.now
        self.at(now + self.traffic.ivr_s, lambda: self._park(call))
        self.at(now + self.traffic.ivr_s + patience, lambda: self._abandon(call))

    def _park(self, call: _Call) -> None:
        """The dialplan's ``AcdParked``, with what the dispatcher set on the channel."""
        if call.state in ("waiting", "ringing"):
            origin = call.variables.get("ACD_WAIT_ORIGIN")
            self.handle(Parked(call.call_id, call.channel, call.variables.get("ACD_QUEUE", ""), float(origin) if origin else None, None))

    def rang(self, call_id: str, agent_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None or call.state == "gone":
            return
        if call.agent_leg:  # a new ring's redirect ends the previous Dial
            self._hang_up_agent(call)
        call.state = "ringing"
        call.ring += 1
        ring = call.ring
        call.agent_leg = f"{call.call_id}-ag{ring}"
        self.handle(AgentLegStarted(call.call_id, f"PJSIP/agent-{agent_id}", call.agent_leg))
        if self.random.random() < self.traffic.no_answer:
            # the router's ring time-out takes it back and pauses the agent, who comes
            # back a little later (else a day of these would pause every agent)
            self.at(self.clock.now + self.traffic.back_after_no_answer_s, lambda: self._back_from_pause(agent_id))
            return
        self.at(self.clock.now + self.random.uniform(*self.traffic.answer_s), lambda: self._answer(call, ring))

    def _back_from_pause(self, agent_id: str) -> None:
        assert self.app is not None
        agent = self.app.router.agent(agent_id)
        if agent is not None and agent.state == "paused":
            self.app.dispatcher.agent_unpause(agent_id)

    def _answer(self, call: _Call, ring: int) -> None:
        if call.state != "ringing" or call.ring != ring:
            return
        call.state = "talking"
        self.answered += 1
        self.handle(AgentAnswered(call.call_id, f"PJSIP/agent-{call.agent_leg}"))
        self.at(self.clock.now + self.random.uniform(*self.traffic.talk_s), lambda: self._agent_hangs_up(call))

    async def _agent_hangs_up(self, call: _Call) -> None:
        self._hang_up_agent(call)
        if self.random.random() < self.traffic.surveys:
            await self._agi(call, "survey", f"{self.random.randint(1, 5)}{self.random.randint(1, 5)}")
            self.at(self.clock.now + self.traffic.survey_s, lambda: self._gone(call))
        else:
            self._gone(call)

    def _hang_up_agent(self, call: _Call) -> None:
        leg, call.agent_leg = call.agent_leg, ""
        if leg:
            self.handle(LegHungUp(leg, f"PJSIP/agent-{leg}", "Normal Clearing"))

    def _abandon(self, call: _Call) -> None:
        if call.state in ("waiting", "ringing"):
            self.abandoned += 1
            self._hang_up_agent(call)
            self._gone(call)

    def _gone(self, call: _Call) -> None:
        if call.state == "gone":
            return
        call.state = "gone"
        self.handle(LegHungUp(call.call_id, call.channel, "Normal Clearing"))
        self._calls.pop(call.call_id, None)
        self._by_channel.pop(call.channel, None)

    def back_to_hold(self, channel: str) -> None:
        """The router took a ring back: the Dial ends, the dialplan parks the caller again."""
        call = self._calls.get(self._by_channel.get(channel, ""))
        if call is None or call.state != "ringing":
            return
        self._hang_up_agent(call)
        call.state = "waiting"
        self.at(self.clock.now + 0.5, lambda: self._park(call))

    def timed_out(self, channel: str) -> None:
        call = self._calls.get(self._by_channel.get(channel, ""))
        if call is not None:
            self.at(self.clock.now + 3.0, lambda: self._gone(call))

    # ------------------------------------------------------------------ FastAGI peer
    async def _agi(self, call: _Call, script: str, keys: str) -> None:
        """One AGI session as Asterisk runs it: header, then an answer to each command."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.agi_port)
        header = {
            "agi_network": "yes", "agi_network_script": script, "agi_channel": call.channel, "agi_uniqueid": call.call_id,
            "agi_callerid": f"569{self.random.randint(10_000_000, 99_999_999)}", "agi_extension": "100",
        }
        writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
        pending = list(keys)
        try:
            while line := await reader.readline():
                command = line.decode()
                if command.startswith("GET VARIABLE"):
                    name = command.split()[2].strip('"')
                    # what the channel holds: the install's key (the engine's Setvar), the survey flow
                    value = self.agi_key if name == "ACD_AGI_KEY" else "soak" if name == "ACD_SURVEY" else None
                    answer = f"200 result=1 ({value})" if value else "200 result=0"
                elif command.startswith("WAIT FOR DIGIT"):
                    answer = f"200 result={ord(pending.pop(0)) if pending else 0}"
                elif command.startswith("STREAM FILE"):
                    answer = "200 result=0 endpos=8000"
                else:
                    if command.startswith("SET VARIABLE"):
                        _, _, name, value = (command.strip().split(" ", 3) + [""])[:4]
                        call.variables[name.strip('"')] = value.strip('"')
                    elif command.startswith('EXEC "MSet"') or command.startswith("EXEC MSet"):
                        # MSet(name=value,...): the engine sets several labels in one command
                        pairs = command.strip().split(" ", 2)[2].strip('"')
                        call.variables.update(pair.split("=", 1) for pair in pairs.split(",") if "=" in pair)  # type: ignore[arg-type]
                    answer = "200 result=1"
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    # ------------------------------------------------------------------ measuring
    async def sample(self, hour: float) -> Sample:
        """The heap and RSS once everything logged so far is written and garbage collected."""
        assert self.app is not None
        await _quiet(self.app)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        return Sample(hour=hour, calls=self.offered, rss_kb=rss_kb(), heap_kb=traced // 1024, blocks=sys.getallocatedblocks())


async def _settle() -> None:
    """Let the dispatcher's AMI actions (tasks) run: they are chained two deep."""
    for _ in range(4):
        await asyncio.sleep(0)


async def _quiet(app: App) -> None:
    """Wait until the event log has written every event (so its batch is not counted)."""
    store = app.store
    if store is None:
        return
    await store.flush()
    for _ in range(1000):
        if not store.pending:
            return
        await asyncio.sleep(0.01)


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in choices:
        total += weight
        if roll < total:
            return value
    return choices[-1][0]


def day_start(timezone: str = TIMEZONE) -> float:
    """Monday 2024-03-04 00:00 at the centre: a plain working day."""
    return datetime(2024, 3, 4, tzinfo=ZoneInfo(timezone)).timestamp()


async def run_soak(
    hours: float,
    traffic: Traffic,
    *,
    warmup_hours: float = 1.0,
    sample_every_h: float = 1.0,
    seed: int = 1,
    top: int = 10,
    work: Path | None = None,
    trace: bool = True,
    progress: Callable[[Sample], None] | None = None,
) -> SoakResult:
    """Run ``hours`` of virtual traffic; sample after every ``sample_every_h``."""
    started = time.perf_counter()
    own_work = work is None
    folder = Path(tempfile.mkdtemp(prefix="acd-soak-")) if work is None else work
    soak = Soak(folder, traffic, start=day_start() + 8 * 3600, seed=seed)
    if trace and not tracemalloc.is_tracing():
        tracemalloc.start(1)
    quiet = logging.getLogger("acd")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a day of INFO lines is not what is measured
    samples: list[Sample] = []
    baseline = None
    cpu_s = 0.0
    try:
        await soak.start()
        origin = soak.clock.now
        steps = max(1, round(hours / sample_every_h))
        step_s = hours * 3600 / steps
        soak.arrivals(origin, origin + hours * 3600)
        samples.append(await soak.sample(0.0))
        for index in range(1, steps + 1):
            cpu_start = time.process_time()
            await soak.run_until(origin + index * step_s)
            cpu_s += time.process_time() - cpu_start
            hour = index * step_s / 3600
            if baseline is None and hour >= warmup_hours and tracemalloc.is_tracing():
                # before this sample: the snapshot itself (~100 bytes per live allocation,
                # untraced) is then in every sample the growth is computed from
                await _quiet(soak.app)  # type: ignore[arg-type]
                gc.collect()
                baseline = tracemalloc.take_snapshot()
            sample = await soak.sample(hour)
            samples.append(sample)
            if progress is not None:
                progress(sample)
        growth: list[dict[str, Any]] = []
        if baseline is not None:
            final = tracemalloc.take_snapshot()
            growth = [
                {"where": str(stat.traceback[0]), "kb": round(stat.size_diff / 1024, 1), "blocks": stat.count_diff}
                for stat in final.compare_to(baseline, "lineno")[:top]
            ]
    finally:
        await soak.stop()
        quiet.setLevel(level)
        if trace:
            tracemalloc.stop()
        if own_work:
            shutil.rmtree(folder, ignore_errors=True)
    after = [s for s in samples if s.hour >= warmup_hours]
    rss_interval = slope_interval([(s.hour, s.rss_kb) for s in after])
    rss_per_h = rss_interval.value
    heap_per_h = slope([(s.hour, s.heap_kb) for s in after])
    calls_per_h = slope([(s.hour, s.calls) for s in after]) or traffic.cps * 3600
    blocks_per_h = slope([(s.hour, s.blocks) for s in after])
    rss_per_call = rss_interval.scaled(1024 / calls_per_h)
    return SoakResult(
        hours=hours, cps=traffic.cps, calls=soak.offered, answered=soak.answered, abandoned=soak.abandoned, agents=soak.agents,
        warmup_hours=warmup_hours, samples=samples, rss_kb_per_hour=rss_per_h, heap_kb_per_hour=heap_per_h,
        heap_bytes_per_call=heap_per_h * 1024 / calls_per_h, rss_bytes_per_call=rss_per_h * 1024 / calls_per_h,
        blocks_per_call=blocks_per_h / calls_per_h,
        top_growth=growth, wall_s=time.perf_counter() - started, cpu_s=cpu_s,
        rss_bytes_per_call_95=(rss_per_call.low, rss_per_call.high), verdict=flat_verdict(rss_per_call),
    )


def describe(result: SoakResult) -> str:
    """The human summary: growth per hour after the warm-up, per call, and where."""
    traced = any(sample.heap_kb for sample in result.samples)
    lines = [
        f"soak: {result.hours:g} simulated h at {result.cps:g} calls/s: {result.calls} calls ({result.answered} answered, "
        f"{result.abandoned} abandoned), {result.agents} agents, {result.wall_s:.0f} s wall",
        f"{'hour':>6}{'calls':>9}{'RSS KB':>10}{'heap KB':>10}{'objects':>10}",
    ]
    lines += [f"{s.hour:>6.2f}{s.calls:>9}{s.rss_kb:>10}{s.heap_kb:>10}{s.blocks:>10}" for s in result.samples]
    lines.append(
        f"after {result.warmup_hours:g} h of warm-up: RSS {result.rss_kb_per_hour:+.0f} KB/h ({result.rss_bytes_per_call:+.0f} B/call), "
        + (f"Python heap {result.heap_kb_per_hour:+.0f} KB/h ({result.heap_bytes_per_call:+.1f} B/call), " if traced else "")
        + f"objects {result.blocks_per_call:+.2f}/call"
    )
    low, high = result.rss_bytes_per_call_95
    lines.append(f"RSS per call, 95 % interval [{low:+.0f}, {high:+.0f}] B: {result.verdict.upper()} against {FLAT_BYTES_PER_CALL:g} B/call "
                 "(flat: the whole interval below it)")
    if result.warmup_hours * 3600 < ledger.EXTRA_WINDOW_S + 900:
        lines.append(f"note: a warm-up under {(ledger.EXTRA_WINDOW_S + 900) / 3600:g} h counts the filling of bounded structures "
                     "(finished calls are kept ledger.EXTRA_WINDOW_S for late surveys) as growth")
    if result.top_growth:
        lines.append("largest heap changes after the warm-up (tracemalloc, by line):")
        lines += [f"  {g['kb']:>+9.1f} KB {g['blocks']:>+7} blocks  {g['where']}" for g in result.top_growth]
    lines.append(f"CPU per call: {result.cpu_ms_per_call:.2f} ms (engine and the in-process fake Asterisk's side together"
                 + (", slowed by tracemalloc: use --no-trace)" if traced else ")"))
    m = result.machine
    lines.append(f"machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('python')}")
    return "\n".join(lines)


def main(args: Any) -> int:
    """``acd bench soak`` (arguments already checked by the CLI)."""
    import json

    if args.warm_up >= args.hours:
        print("acd bench soak: --warm-up must be shorter than --hours", file=sys.stderr)
        return 2
    every = 1.0 if args.hours >= 4 else args.hours / 8
    result = asyncio.run(
        run_soak(args.hours, Traffic(cps=args.cps), warmup_hours=args.warm_up, sample_every_h=every, seed=args.seed, trace=not args.no_trace)
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else describe(result))
    return 0


__all__ = ["Soak", "SoakControl", "SoakResult", "Traffic", "run_soak", "rss_kb", "slope"]
