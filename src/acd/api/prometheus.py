"""``/metrics``: the engine's state in the Prometheus text exposition format (0.0.4).

Hand-written (a dozen families do not justify a client library).  Gauges are the live
figures of the current quarter hour (``period="interval"``) and the day
(``period="day"``); a ratio with nothing to divide by yet is left out rather than
reported as 0 or NaN, so an alert on "service level < target" never fires on an empty
interval.  ``*_total`` counters come from :class:`~acd.api.tally.EventTally`: they count
since the engine started and only ever go up.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Mapping

from acd.api.lag import LoopLagProbe
from acd.api.tally import EventTally
from acd.api.views import LiveViews

if TYPE_CHECKING:
    from acd.api.port import ServedEngine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_AGENT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused")
_COUNTERS = (
    ("offered", "Calls offered to the queue (an overflow is offered to both queues)."),
    ("answered", "Calls answered by an agent."),
    ("abandoned", "Callers who hung up before an agent answered."),
    ("overflowed_out", "Calls that left the queue for another one."),
    ("timed_out", "Calls that reached max_wait_s with nowhere to overflow."),
    ("completed", "Conversations that ended."),
    ("ring_no_answer", "Rings an agent did not answer."),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Collects metric families; each family's HELP/TYPE is written once, before its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float | None]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            label_text = ",".join(f'{key}="{_escape(str(item))}"' for key, item in labels.items())
            self._lines.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def ami_backlog(app: "ServedEngine") -> int:
    """AMI events received but not yet taken by their consumers (the dispatcher above all)."""
    return app.engine.ami.backlog


def render_metrics(app: "ServedEngine", views: LiveViews, tally: EventTally, lag: LoopLagProbe) -> str:
    now = views.now()
    stats = views.stats(now)
    out = Exposition()

    def per_queue(pick: object) -> list[tuple[Mapping[str, str], float | None]]:
        return [({"queue": q.name}, pick(q)) for q in stats.queues]  # type: ignore[operator]

    def per_period(pick: object) -> list[tuple[Mapping[str, str], float | None]]:
        return [
            ({"queue": q.name, "period": period}, pick(getattr(q, period)))  # type: ignore[operator]
            for q in stats.queues
            for period in ("interval", "day")
        ]

    out.family("acd_queue_waiting_calls", "gauge", "Callers not yet talking to an agent (ringing included).", per_queue(lambda q: q.waiting))
    out.family("acd_queue_longest_wait_seconds", "gauge", "Wait of the longest-waiting caller.", per_queue(lambda q: q.longest_wait_s))
    out.family("acd_queue_service_level_ratio", "gauge", "Service level of the interval or the day (absent until a call is decided).", per_period(lambda f: f.service_level))
    out.family("acd_queue_service_level_target_ratio", "gauge", "The queue's service-level target.", per_queue(lambda q: q.target))
    out.family("acd_queue_service_level_threshold_seconds", "gauge", "Answer within this many seconds to count as within service level.", per_queue(lambda q: q.threshold_s))
    out.family("acd_queue_under_target", "gauge", "1 when the service level is below target (the interval's; the day's while the interval has none).", per_queue(lambda q: q.under_target))
    out.family("acd_queue_abandon_ratio", "gauge", "(abandoned - short abandons) / (offered - short abandons).", per_period(lambda f: f.abandon_rate))
    out.family("acd_queue_asa_seconds", "gauge", "Average speed of answer.", per_period(lambda f: f.asa_s))
    out.family("acd_queue_aht_seconds", "gauge", "Average handle time (talk + wrap-up).", per_period(lambda f: f.aht_s))
    out.family(
        "acd_queue_agents", "gauge", "Logged-in agents able to serve the queue, by state.",
        [({"queue": q.name, "state": state}, getattr(q.agents, state)) for q in stats.queues for state in _AGENT_STATES],
    )
    out.family("acd_queue_agents_logged_in", "gauge", "Logged-in agents able to serve the queue.", per_queue(lambda q: q.agents.logged_in))
    for counter, help_text in _COUNTERS:
        out.family(
            f"acd_queue_calls_{counter}_total", "counter", f"{help_text} Since the engine started.",
            [({"queue": q.name}, tally.counter(q.name, counter)) for q in stats.queues],
        )
    out.family("acd_skill_waiting_calls", "gauge", "Callers waiting for a queue that requires the skill.", [({"skill": s.name}, s.waiting) for s in stats.skills])
    out.family("acd_skill_longest_wait_seconds", "gauge", "Longest wait among callers needing the skill.", [({"skill": s.name}, s.longest_wait_s) for s in stats.skills])
    out.family(
        "acd_skill_service_level_ratio", "gauge", "Service level over the queues requiring the skill.",
        [({"skill": s.name, "period": p}, getattr(s, p).service_level) for s in stats.skills for p in ("interval", "day")],
    )
    out.family(
        "acd_skill_agents", "gauge", "Logged-in agents holding the skill, by state.",
        [({"skill": s.name, "state": state}, getattr(s.agents, state)) for s in stats.skills for state in _AGENT_STATES],
    )
    out.family(
        "acd_agents", "gauge", "Configured agents by state (each agent once).",
        [({"state": state}, getattr(stats.agents, state)) for state in ("logged_out", *_AGENT_STATES)],
    )
    out.family("acd_call_priority_changes_total", "counter", "Supervisor priority changes since the engine started.", [({}, tally.priority_changes)])
    ami = app.engine.ami
    out.family("acd_ami_connected", "gauge", "1 while logged in to the Asterisk Manager Interface.", [({}, ami.connected)])
    nodes = getattr(app, "node_connections", None)  # several Asterisk servers (acd.multinode)
    if nodes is not None:
        out.family("acd_node_ami_connected", "gauge", "1 while logged in to that node's AMI (several Asterisk servers).", [({"node": n}, up) for n, up in nodes().items()])
    out.family("acd_ami_events_total", "counter", "AMI events received.", [({}, ami.stats.events)])
    out.family("acd_ami_dropped_events_total", "counter", "AMI events dropped because a consumer queue was full.", [({}, ami.stats.dropped_events)])
    out.family("acd_ami_reconnects_total", "counter", "AMI connections lost.", [({}, ami.stats.disconnects)])
    out.family("acd_ami_event_backlog", "gauge", "AMI events received and not yet taken by the dispatcher (or another consumer).", [({}, ami_backlog(app))])
    out.family("acd_event_loop_lag_seconds", "gauge", "How late the engine's event loop last ran work that was due (event-processing delay).", [({}, lag.last_s)])
    out.family("acd_event_loop_lag_max_seconds", "gauge", f"Largest event-loop lag over the last {lag.window_s:g} s.", [({}, lag.max_s)])
    out.family("acd_fastagi_active_sessions", "gauge", "FastAGI sessions (calls in the IVR) in progress.", [({}, app.engine.fastagi.active_sessions)])
    out.family(
        "acd_fastagi_refused_sessions_total", "counter",
        "FastAGI sessions refused for a missing or wrong AGI key (not from Asterisk's dialplan).",
        [({}, app.engine.fastagi.stats.refused_without_key)],
    )
    out.family(
        "acd_fastagi_admitted_by_owner_total", "counter",
        "FastAGI sessions let in without the AGI key question: their socket belongs to agi.asterisk_uid.",
        [({}, app.engine.fastagi.stats.admitted_by_owner)],
    )
    out.family("acd_event_sink_failures_total", "counter", "Events an event sink (store, MQTT) failed to take.", [({}, app.engine.bus.failures)])
    out.family("acd_dispatch_ring_errors_total", "counter", "Rings that could not be sent to Asterisk.", [({}, app.dispatcher.counters.ring_errors)])
    disk = app.recordings.usage if app.recordings is not None else None
    if disk is not None:  # measured every recording.purge_interval_s, not per scrape
        out.family("acd_recordings_files", "gauge", "Recordings stored.", [({}, disk.files)])
        out.family("acd_recordings_bytes", "gauge", "Bytes the stored recordings take.", [({}, disk.bytes)])
        out.family("acd_recordings_free_bytes", "gauge", "Free space on the recordings' file system.", [({}, disk.free_bytes)])
        out.family("acd_recordings_days_left", "gauge", "Days until the recordings fill the free space at the last week's rate.", [({}, disk.days_left)])
    return out.text()
