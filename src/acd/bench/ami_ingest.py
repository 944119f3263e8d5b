"""``acd bench ami-ingest``: a real AMI stream through the real ingest path, timed.

Path under test, unchanged: bytes on a loopback TCP socket → the framing and event filter
of :class:`acd.asterisk.ami.AmiClient` (:mod:`acd.asterisk.ami_wire`) → its listener (as it reads) → ``translate`` in
:class:`acd.asterisk.call_control.AsteriskCallControl` → :class:`acd.dispatch.Dispatcher`
→ :class:`acd.routing.Router` and :class:`acd.metrics.live.LiveStats`.  Only the edges are
replaced: Asterisk by :mod:`acd.bench.ami_replay` (a recording, in another process),
call-control *actions* by no-ops, and the event store by a counter.

The two hooks are subclasses, so nothing in ``acd.asterisk`` or ``acd.dispatch``
changes for the benchmark:

* :class:`TappedAmiClient` remembers the last message handed to a listener (or taken
  from a subscription's queue).  ``AsteriskCallControl.listen`` translates a message and
  ``Dispatcher`` handles the fact before the next message is read, so while a fact is
  handled the remembered message is the one it came from;
* :class:`TimedDispatcher` reads that message's replay stamps: ``AcdReplayAt`` becomes
  the dispatcher's clock (the recorded timeline, so wrap-ups and ring time-outs happen
  as they did live: a timer whose deadline has passed on that timeline is fired
  before the fact, as ``call_later`` would have done) and ``AcdReplaySentNs`` gives the
  latency, measured when ``Dispatcher.handle`` returns (state updated, actions started).

Two phases, each on a fresh connection, dispatcher and router:

* **burst**: the server writes as fast as the socket takes the bytes.  Events/s is the
  capacity figure.  Latency here includes the time events queue in socket buffers
  behind each other, so it measures backlog, not the path;
* **paced**: the server sends at a fixed rate (default 50,000 events/s).  If the path
  keeps up, latency is the path's own; if it does not, latency grows through the run
  and the percentiles say so.

Each phase also reports the client's own CPU time (``client_cpu_s``, this process only:
the replay server runs in another), so ``events_per_client_cpu_s`` is the path's
capacity on one core even when other work shares the machine and stretches the wall
clock.

Like :meth:`acd.engine.Engine.start`, a phase freezes the objects that exist once it is
set up (``gc.freeze``): a full collection of the ~40,000 objects a loaded engine holds
takes 10-15 ms on a 2-core VM and was the whole tail of the paced latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from panoramisk.ami_protocol import AMIProtocol

from acd.asterisk.ami import AmiClient, AmiMessage, AmiSubscription
from acd.asterisk.call_control import EVENT_NAMES, AsteriskCallControl, AsteriskPicture, translate
from acd.bench.ami_recording import Recording, RecordingError, base_path, event_name, headers_of, read_recording
from acd.bench.machine import machine_info
from acd.dispatch import Dispatcher
from acd.base.events import Event
from acd.metrics.live import LiveStats
from acd.routing import Router, RoutingConfig, load_routing_config

DEFAULT_RATE = 50_000.0
GOAL_EVENTS_PER_S = 50_000
GOAL_P99_MS = 5.0


class IngestError(Exception):
    """The benchmark could not run (bad recording, server did not start, stream stalled)."""


# ----------------------------------------------------------------------------- hooks


class _TapSubscription(AmiSubscription):
    async def __anext__(self) -> AmiMessage:
        message = await self.subscriber.queue.get()
        self.client.current = message  # type: ignore[attr-defined]
        return message


class TappedAmiClient(AmiClient):
    """An AmiClient whose subscriptions remember the message last taken (``current``)."""

    current: AmiMessage | None = None

    def subscribe(self, *event_names: str) -> AmiSubscription:
        plain = super().subscribe(*event_names)
        return _TapSubscription(plain.client, plain.subscriber)

    def listen(self, *event_names: str, callback: Callable[[AmiMessage], None]) -> Callable[[], None]:
        def tapped(message: AmiMessage) -> None:
            self.current = message
            callback(message)

        return super().listen(*event_names, callback=tapped)


class PanoramiskParserAmiClient(TappedAmiClient):
    """WHAT-IF, not the shipped client: panoramisk's own protocol and parser read the socket
    (every message decoded into a case-insensitive dict and matched against its callback
    patterns before our filter sees the name), as ``AmiClient`` did before it had its own
    framing.  Measures what :mod:`acd.asterisk.ami_wire` buys."""

    def _protocol_factory(self) -> asyncio.Protocol:
        return AMIProtocol()


class NoActionCallControl(AsteriskCallControl):
    """The real event side of call control; every action is a no-op."""

    async def ring(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def originate_callback(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def hang_up(self, channel: str) -> None:
        return None

    async def return_to_hold(self, channel: str) -> None:
        return None

    async def end_waiting(self, channel: str) -> None:
        return None

    async def picture(self) -> AsteriskPicture:
        return AsteriskPicture(channels=(), devices=())


@dataclass
class TimedDispatcher(Dispatcher):
    """A Dispatcher that keeps the recorded clock and times every fact it handles."""

    tap: TappedAmiClient | None = None
    virtual_now: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    handled: int = 0
    last_done_ns: int = 0

    def handle(self, fact: Any) -> Any:
        message = self.tap.current if self.tap is not None else None
        if message is not None:
            at = message.get("AcdReplayAt")
            if at:
                self.virtual_now = float(at)
                self._fire_due_timer()
        result = super().handle(fact)
        done = time.perf_counter_ns()
        self.handled += 1
        self.last_done_ns = done
        if message is not None:
            sent = message.get("AcdReplaySentNs")
            if sent:
                self.latencies_ns.append(done - int(sent))
        return result

    def _fire_due_timer(self) -> None:
        """Run the dispatcher's own timer callback if its deadline has passed on the recorded
        timeline.  Live, ``call_later`` fires at the deadline; in a replay a hundred times
        faster than real time it would fire long after the events that followed, and a
        fact that does not call the router (an answer, a dial start) would meet a router
        still waiting for, say, a wrap-up to end.  The callback's work is counted in this
        fact's latency, which overstates it slightly."""
        deadline = self.router.next_deadline()
        if deadline is not None and deadline <= self.virtual_now:
            if self._timer is not None:
                self._timer.cancel()
            self._on_timer()


# ----------------------------------------------------------------------------- figures


def percentile_ms(samples_ns: list[int], q: float) -> float | None:
    """Nearest-rank percentile in milliseconds (None without samples)."""
    if not samples_ns:
        return None
    ordered = sorted(samples_ns)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6, 3)


def expected_facts(recording: Recording) -> int:
    """How many events of one pass become call-control facts (``translate`` is not None)."""
    wanted = set(EVENT_NAMES)
    count = 0
    for block in recording.events:
        if event_name(block) not in wanted:
            continue
        headers = {key.decode("utf-8", "replace"): value.decode("utf-8", "replace") for key, value in headers_of(block)}
        if translate(AmiMessage(headers)) is not None:
            count += 1
    return count


@dataclass
class Phase:
    mode: str
    rate: float | None
    events: int
    facts: int
    expected_facts: int
    seconds: float
    latencies_ns: list[int]
    parsed_events: int
    dropped: int
    ignored: int
    router_outcomes: int
    client_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "offered_rate": self.rate,
            "events": self.events,
            "facts": self.facts,
            "expected_facts": self.expected_facts,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.events / self.seconds) if self.seconds else None,
            "facts_per_s": round(self.facts / self.seconds) if self.seconds else None,
            "latency_ms": {
                "p50": percentile_ms(self.latencies_ns, 0.50),
                "p90": percentile_ms(self.latencies_ns, 0.90),
                "p99": percentile_ms(self.latencies_ns, 0.99),
                "max": percentile_ms(self.latencies_ns, 1.0),
                "samples": len(self.latencies_ns),
            },
            "client_cpu_s": round(self.client_cpu_s, 4),
            "events_per_client_cpu_s": round(self.events / self.client_cpu_s) if self.client_cpu_s else None,
            "parsed_events": self.parsed_events,
            "dropped_events": self.dropped,
            "ignored_by_dispatcher": self.ignored,
            "router_events_emitted": self.router_outcomes,
        }


# ----------------------------------------------------------------------------- one phase


async def run_phase(
    port: int,
    config: RoutingConfig,
    loops: int,
    rate: float,
    per_pass_facts: int,
    start_at: float,
    *,
    client_class: type[TappedAmiClient] = TappedAmiClient,
    timeout_s: float = 300.0,
) -> Phase:
    """Connect, log every agent in at ``start_at`` (recorded time), replay ``loops`` passes at ``rate`` (0 = burst), measure."""
    client = client_class(port=port, secret="replay", ping_interval_s=30.0, ping_timeout_s=10.0)
    control = NoActionCallControl(client)
    emitted: list[int] = [0]
    stats = LiveStats(config)  # the live figures are part of the path, as in the engine

    def emit(event: Event) -> None:
        emitted[0] += 1
        stats.append(event)

    router = Router(config)
    dispatcher = TimedDispatcher(router=router, control=control, emit=emit, clock=lambda: dispatcher.virtual_now, tap=client)
    await client.start()
    running: asyncio.Task[None] | None = None
    try:
        await client.wait_connected(10)
        done_subscription = client.subscribe("ReplayDone")
        running = asyncio.ensure_future(dispatcher.run())
        await asyncio.sleep(0)  # let the dispatcher subscribe before anything is sent
        dispatcher.virtual_now = start_at
        for agent in config.agents:
            dispatcher.agent_login(agent.id)
        await client.action("Ping")  # answered after the server's FullyBooted: that one is counted by now
        parsed_before = client.stats.events
        gc.collect()
        gc.freeze()  # as Engine.start does once the engine is up
        cpu_before = time.process_time()
        answer = await client.action("ReplayStart", Loops=loops, Rate=rate, timeout_s=60.0)
        events = int(answer.get("Events") or 0)
        done = await done_subscription.get(timeout_s)
        expected = per_pass_facts * loops
        deadline = time.monotonic() + 10.0
        while dispatcher.handled < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        cpu_s = time.process_time() - cpu_before
        started_ns = int(done.get("StartNs"))
        seconds = (max(dispatcher.last_done_ns, int(done.get("EndNs"))) - started_ns) / 1e9
        return Phase(
            mode="burst" if rate <= 0 else "paced",
            rate=None if rate <= 0 else rate,
            events=events,
            facts=dispatcher.handled,
            expected_facts=expected,
            seconds=seconds,
            latencies_ns=dispatcher.latencies_ns,
            parsed_events=client.stats.events - parsed_before - 1,  # without ReplayDone
            dropped=client.stats.dropped_events,
            ignored=dispatcher.counters.ignored_events,
            router_outcomes=emitted[0],
            client_cpu_s=cpu_s,
        )
    except asyncio.TimeoutError:
        raise IngestError(f"the replay did not finish within {timeout_s:g} s ({dispatcher.handled} facts handled)") from None
    finally:
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        dispatcher.close()
        await client.close()
        gc.unfreeze()


# ----------------------------------------------------------------------------- the benchmark


def _start_server(recording_path: Path) -> tuple[subprocess.Popen[str], int]:
    """The replay server in a process of its own; returns it and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "acd.bench.ami_replay", str(recording_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline().strip() if ready else ""
    if not line.isdigit():
        process.kill()
        process.wait(5)
        raise IngestError(f"the replay server did not start: {line or 'no answer within 30 s'}")
    return process, int(line)


def _stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def load_recording_and_routing(path: str | Path, routing: str | Path | None = None) -> tuple[Recording, Path, RoutingConfig]:
    """The recording, its base path (for the server) and the routing its engine ran."""
    try:
        recording = read_recording(path)
    except RecordingError as exc:
        raise IngestError(str(exc)) from None
    routing_path = Path(routing) if routing is not None else recording.routing_path
    if routing_path is None:
        raise IngestError(f"{path}: the recording names no routing file; give --routing FILE")
    config, problems = load_routing_config(routing_path)
    if config is None:
        raise IngestError(str(problems[0]) if problems else f"{routing_path}: cannot load the routing file")
    return recording, base_path(path), config


def _loops_for(events: int, events_per_pass: int) -> int:
    return max(1, math.ceil(events / events_per_pass))


def _phases(port: int, config: RoutingConfig, recording: Recording, per_pass: int, burst_loops: int, rates: tuple[float, ...],
            phase_seconds: float, repeat: int, client_class: type[TappedAmiClient]) -> dict[str, Any]:
    """A burst phase and one paced phase per rate (best of ``repeat`` each)."""

    def best(rate: float, loops: int) -> Phase:
        runs = [asyncio.run(run_phase(port, config, loops, rate, per_pass, recording.started_at, client_class=client_class)) for _ in range(repeat)]
        if rate <= 0:
            return max(runs, key=lambda phase: phase.events / phase.seconds if phase.seconds else 0.0)
        return min(runs, key=lambda phase: percentile_ms(phase.latencies_ns, 0.99) or math.inf)

    events_per_pass = len(recording.events)
    return {
        "burst": best(0.0, burst_loops).as_dict(),
        "paced": [best(rate, _loops_for(int(rate * phase_seconds), events_per_pass)).as_dict() for rate in rates],
    }


def run_ingest_bench(
    recording_path: str | Path,
    *,
    burst_events: int = 200_000,
    rates: tuple[float, ...] = (DEFAULT_RATE, 20_000.0, 5_000.0),
    phase_seconds: float = 4.0,
    routing: str | Path | None = None,
    repeat: int = 1,
    what_if: bool = False,
) -> dict[str, Any]:
    """The whole benchmark: see the module docstring."""
    recording, ami_path, config = load_recording_and_routing(recording_path, routing)
    per_pass = expected_facts(recording)
    burst_loops = _loops_for(burst_events, len(recording.events))
    quiet = logging.getLogger("acd.dispatch")
    level = quiet.level
    # Rings for calls that hung up while the burst was queued are replay artefacts: their
    # warnings would time stderr, not the ingest path.
    quiet.setLevel(logging.ERROR)
    process, port = _start_server(ami_path)
    try:
        shipped = _phases(port, config, recording, per_pass, burst_loops, rates, phase_seconds, max(1, repeat), TappedAmiClient)
        variant = _phases(port, config, recording, per_pass, burst_loops, rates, phase_seconds, max(1, repeat), PanoramiskParserAmiClient) if what_if else None
    finally:
        _stop_server(process)
        quiet.setLevel(level)
    at_goal = next((phase for phase in shipped["paced"] if phase["offered_rate"] == DEFAULT_RATE), None)
    p99 = at_goal["latency_ms"]["p99"] if at_goal else None
    result: dict[str, Any] = {
        "recording": {
            "name": recording.name,
            "events_per_pass": len(recording.events),
            "facts_per_pass": per_pass,
            "calls": recording.meta.get("calls"),
            "duration_s": round(recording.duration_s, 3),
            "asterisk": recording.meta.get("asterisk"),
        },
        "burst": shipped["burst"],
        "paced": shipped["paced"],
        "goal": {
            "events_per_s": GOAL_EVENTS_PER_S,
            "p99_ms": GOAL_P99_MS,
            "burst_events_per_s": shipped["burst"]["events_per_s"],
            "p99_ms_at_goal_rate": p99,
            "events_per_s_met": (shipped["burst"]["events_per_s"] or 0) >= GOAL_EVENTS_PER_S,
            "p99_met": p99 is not None and p99 < GOAL_P99_MS,
        },
        "machine": machine_info(),
    }
    if variant is not None:
        result["what_if_panoramisk_parser"] = variant
    return result
