"""The live figures equal a report recomputed from the same events, at any instant.

Generated calls (overflows, requeues, callbacks, surveys, unfinished wrap-ups, waits on
the threshold boundaries, DST nights) and agent logs are fed to ``LiveStats`` one event
at a time, as the engine's event bus does; at random instants the wallboard's figures
for every queue, every skill and the whole centre — this quarter hour and today — must
equal ``compute_report`` over the events logged so far, with the same ``now``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.base.events import Event
from acd.metrics.live import REPORT_FORMULA, LiveStats, report_rules
from acd.metrics.reports import Figures, Report, compute_report, figures_of
from acd.routing import RoutingConfig, load_routing_text

from .factories import WINDOW_S, agent_logs, call_sets, log_of

CONFIG = """\
timezone: America/Santiago
skills: [es, en, pagos]
queues:
  - {name: ventas, skills: [es], service_level: {threshold_s: 20, target: 0.8}, short_abandon_s: 3}
  - {name: soporte, skills: [es, en], service_level: {threshold_s: 25}}
  - {name: reclamos, skills: [pagos], service_level: {threshold_s: 30}, short_abandon_s: 10, sl_formula: sl}
agents:
  - {id: a1, name: A, endpoint: PJSIP/a1, skills: {es: 5}}
"""


def config() -> RoutingConfig:
    loaded, problems = load_routing_text(CONFIG)
    assert problems == [] and loaded is not None
    return loaded


def group_figures(report: Report, name: str, formula: str) -> Figures:
    """A report row's figures for one group; a group nobody reached has empty figures."""
    found = report.rows[0].groups.get(name)
    return found if found is not None else figures_of(None, formula, agents=False)


def assert_live_equals_report(stats: LiveStats, events: list[Event], now: float, cfg: RoutingConfig) -> None:
    snapshot = stats.snapshot(now)
    rules = report_rules(cfg)
    for period, start, end, interval in (
        ("interval", snapshot.interval_start, snapshot.interval_end, "15"),
        ("day", snapshot.day_start, snapshot.day_end, "day"),
    ):
        by_queue = compute_report(events, start, end, interval=interval, by="queue", now=now, **rules)  # type: ignore[arg-type]
        by_skill = compute_report(events, start, end, interval=interval, by="skill", now=now, **rules)  # type: ignore[arg-type]
        for queue in cfg.queues:
            live = getattr(snapshot.queues[queue.name], period)
            assert live == group_figures(by_queue, queue.name, REPORT_FORMULA[queue.sl_formula]), (period, queue.name, now)
        for skill in cfg.skills:
            live = getattr(snapshot.skills[skill], period)
            assert live == group_figures(by_skill, skill, "offered"), (period, skill, now)
        center = snapshot.center_interval if period == "interval" else snapshot.center_day
        assert center == by_queue.rows[0].figures, (period, "centre", now)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=call_sets(), agents=agent_logs(), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_live_figures_equal_the_report_of_the_events_logged_so_far(data, agents, cuts) -> None:
    anchor, specs = data
    log = log_of(specs, [Event(type=e.type, ts=e.ts - agents.anchor + anchor, agent_id=e.agent_id, data=e.data) for e in agents.events])
    cfg = config()
    stats = LiveStats(cfg)
    fed: list[Event] = []
    pending = iter(log)
    upcoming = next(pending, None)
    for now in sorted(anchor - 900 + cut * (WINDOW_S + 1800) for cut in cuts):
        while upcoming is not None and upcoming.ts <= now:
            stats.append(upcoming)
            fed.append(upcoming)
            upcoming = next(pending, None)
        assert_live_equals_report(stats, fed, now, cfg)


def test_an_overflow_moves_the_call_between_queues_in_both_live_and_report() -> None:
    cfg = config()
    stats = LiveStats(cfg)
    t0 = 1_772_456_400.0  # 2026-03-02 10:00 Santiago
    events = [
        Event(type="call.queued", ts=t0, call_id="c", queue="ventas", data={"skills": ["es"], "wait_origin": t0}),
        Event(type="call.overflowed", ts=t0 + 40, call_id="c", queue="ventas", data={"to_queue": "reclamos", "waited_s": 40}),
        Event(type="call.queued", ts=t0 + 40, call_id="c", queue="reclamos", data={"skills": ["pagos"], "wait_origin": t0}),
    ]
    for event in events:
        stats.append(event)
    waiting = stats.snapshot(t0 + 45)
    assert (waiting.queues["ventas"].interval.offered, waiting.queues["ventas"].interval.overflowed_out) == (0, 1)
    assert (waiting.queues["reclamos"].interval.offered, waiting.queues["reclamos"].waiting) == (1, 1)
    assert waiting.skills["es"].interval.offered == 0 and waiting.skills["pagos"].interval.offered == 1
    answered = Event(type="call.answered", ts=t0 + 50, call_id="c", queue="reclamos", agent_id="a1", data={"waited_s": 50})
    stats.append(answered)
    events.append(answered)
    assert_live_equals_report(stats, events, t0 + 60, cfg)
    assert stats.snapshot(t0 + 60).queues["reclamos"].interval.answered == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=call_sets(), split=st.floats(0, 1), cut=st.floats(0, 1))
def test_an_engine_restarted_mid_day_shows_the_whole_day_from_the_log(data, split, cut) -> None:
    anchor, specs = data
    log = log_of(specs)
    cfg = config()
    restart_at = anchor - 900 + split * (WINDOW_S + 1800)
    now = restart_at + cut * (anchor + WINDOW_S + 900 - restart_at)
    before = [e for e in log if e.ts <= restart_at]
    stats = LiveStats(cfg, await_history=True)
    started = Event(type="engine.started", ts=restart_at)
    stats.append(started)  # emitted before the log is open: kept, then replayed after it
    stats.prime(e for e in before if e.ts >= stats.history_start(restart_at))
    fed = [*before, started]
    for event in log:
        if restart_at < event.ts <= now:
            stats.append(event)
            fed.append(event)
    assert_live_equals_report(stats, fed, now, cfg)
