"""Live figures: formulas, per-queue thresholds, booking by offer interval, wall-clock
intervals, agent counts — fed the events the engine logs, as in production."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from acd.dispatch import outcome_to_event
from acd.base.events import Event
from acd.metrics.live import LiveStats
from acd.routing import Outcome, Router, RoutingConfig, load_routing_text
from acd.routing.intervals import IntervalClock

SANTIAGO = ZoneInfo("America/Santiago")
# Monday 10 March 2025, 10:00 in Santiago (UTC-3 in summer time).
T0 = datetime(2025, 3, 10, 10, 0, tzinfo=SANTIAGO).timestamp()

CONFIG = """\
skills: [billing, general]
queues:
  - name: billing
    skills: [billing]
    service_level: {threshold_s: 20, target: 0.8}
    short_abandon_s: 5
    wrap_up_s: 10
  - name: asterisk
    skills: [billing]
    sl_formula: sl
    service_level: {threshold_s: 20}
  - name: general
    skills: [general]
    service_level: {threshold_s: 30}
  - name: both
    skills: [billing, general]
agents:
  - {id: a1, name: A, endpoint: PJSIP/a1, skills: {billing: 5}}
  - {id: a2, name: B, endpoint: PJSIP/a2, skills: {billing: 5, general: 5}}
  - {id: a3, name: C, endpoint: PJSIP/a3, skills: {general: 5}}
"""


def config() -> RoutingConfig:
    loaded, problems = load_routing_text(CONFIG)
    assert problems == [] and loaded is not None
    return loaded


def apply(stats: LiveStats, outcomes: list[Outcome]) -> None:
    """What the engine does: log each router outcome as an event; the stats read the events."""
    for outcome in outcomes:
        event = outcome_to_event(outcome)
        if event is not None:
            stats.append(event)


def offered(stats: LiveStats, call_id: str, at: float, queue: str = "billing", skills: tuple[str, ...] = ("billing",)) -> None:
    stats.append(Event(type="call.queued", ts=at, call_id=call_id, queue=queue, data={"skills": list(skills), "wait_origin": at}))


def answered(stats: LiveStats, call_id: str, waited: float, origin: float = T0, queue: str = "billing") -> None:
    stats.append(Event(type="call.answered", ts=origin + waited, call_id=call_id, queue=queue, agent_id="a1", data={"waited_s": waited}))


def abandoned(stats: LiveStats, call_id: str, waited: float, origin: float = T0, queue: str = "billing") -> None:
    stats.append(Event(type="call.abandoned", ts=origin + waited, call_id=call_id, queue=queue, data={"waited_s": waited}))


def ten_decided_calls(queue: str) -> LiveStats:
    """6 answered within 20 s, 1 answered late, 2 short abandons (3 s), 1 abandon after 40 s."""
    stats = LiveStats(config())
    for index in range(10):
        offered(stats, f"c{index}", T0, queue)
    for index in range(6):
        answered(stats, f"c{index}", 10, queue=queue)
    answered(stats, "c6", 30, queue=queue)
    abandoned(stats, "c7", 3, queue=queue)
    abandoned(stats, "c8", 3, queue=queue)
    abandoned(stats, "c9", 40, queue=queue)
    return stats


def test_default_sl_excludes_short_abandons_from_offered() -> None:
    figures = ten_decided_calls("billing").snapshot(T0 + 60).queues["billing"].interval
    assert (figures.offered, figures.answered, figures.answered_within) == (10, 7, 6)
    assert (figures.abandoned, figures.short_abandons, figures.abandoned_within) == (3, 2, 2)
    assert figures.sl_formula == "offered"
    assert figures.service_level == 100 * 6 / 8


def test_asterisk_sl_is_answered_within_over_answered() -> None:
    figures = ten_decided_calls("asterisk").snapshot(T0 + 60).queues["asterisk"].interval
    assert figures.sl_formula == "asterisk-sl"
    assert figures.service_level == pytest.approx(100 * 6 / 7)


def test_sl2_counts_abandons_within_threshold_as_met() -> None:
    figures = ten_decided_calls("billing").snapshot(T0 + 60).queues["billing"].interval
    assert figures.service_levels["asterisk-sl2"] == 100 * (6 + 2) / (7 + 3)


def test_threshold_is_inclusive_like_asterisk() -> None:
    stats = LiveStats(config())
    offered(stats, "c1", T0)
    answered(stats, "c1", 20)
    assert stats.snapshot(T0 + 30).queues["billing"].interval.answered_within == 1


def test_waiting_call_counts_only_once_it_misses_the_threshold() -> None:
    stats = LiveStats(config())
    offered(stats, "done", T0)
    answered(stats, "done", 5)
    offered(stats, "fresh", T0 + 10)
    early = stats.snapshot(T0 + 20).queues["billing"]
    assert early.interval.pending_within == 1
    assert early.interval.service_level == 100  # the fresh call has not failed anyone yet
    late = stats.snapshot(T0 + 31).queues["billing"]
    assert late.interval.pending_within == 0
    assert late.interval.service_level == 50
    assert late.waiting == 1 and late.longest_waiting_s == 21


def test_no_calls_means_no_service_level_rather_than_zero() -> None:
    figures = LiveStats(config()).snapshot(T0).queues["billing"].interval
    assert figures.service_level is None and figures.asa_s is None and figures.aht_s is None


def test_asa_and_aht_include_wrap_up() -> None:
    cfg = config()
    router, stats = Router(cfg), LiveStats(cfg)
    apply(stats, router.agent_login(T0, "a1"))
    apply(stats, router.call_arrived(T0, "c1", "billing"))
    apply(stats, router.agent_answered(T0 + 4, "a1", "c1"))
    apply(stats, router.call_arrived(T0 + 5, "c2", "billing"))
    apply(stats, router.call_completed(T0 + 64, "c1"))  # 60 s talk, then 10 s wrap-up
    assert stats.snapshot(T0 + 65).queues["billing"].interval.handled == 0
    apply(stats, router.advance(T0 + 75))  # wrap-up ends at +74, c2 rings a1
    apply(stats, router.agent_answered(T0 + 76, "a1", "c2"))
    figures = stats.snapshot(T0 + 80).queues["billing"].interval
    assert figures.handled == 1 and figures.aht_s == pytest.approx(70)
    assert figures.answered == 2 and figures.asa_s == pytest.approx((4 + 71) / 2)


def test_calls_are_booked_in_the_interval_they_were_offered() -> None:
    stats = LiveStats(config())
    offered(stats, "c1", T0 + 890)  # 10:14:50
    answered(stats, "c1", 15, origin=T0 + 890)  # answered 10:15:05
    offered(stats, "c2", T0 + 905)
    snap = stats.snapshot(T0 + 910)
    assert snap.interval_start == T0 + 900
    assert snap.queues["billing"].interval.offered == 1 and snap.queues["billing"].interval.answered == 0
    assert snap.queues["billing"].day.offered == 2 and snap.queues["billing"].day.answered == 1


def test_overflowed_call_counts_only_in_the_queue_that_answered_it_keeping_its_wait() -> None:
    cfg = config()
    router, stats = Router(cfg), LiveStats(cfg)
    apply(stats, router.call_arrived(T0, "c1", "billing"))
    apply(stats, router.move_call(T0 + 25, "c1", "general"))
    apply(stats, router.agent_login(T0 + 28, "a3"))
    apply(stats, router.agent_answered(T0 + 29, "a3", "c1"))
    snap = stats.snapshot(T0 + 30)
    billing, general = snap.queues["billing"].interval, snap.queues["general"].interval
    assert (billing.offered, billing.overflowed_out, billing.answered) == (0, 1, 0)
    assert billing.service_level is None
    assert (general.offered, general.answered, general.answered_within) == (1, 1, 1)
    assert general.asa_s == 29


def test_agent_counts_per_queue_and_skill() -> None:
    cfg = config()
    router, stats = Router(cfg), LiveStats(cfg)
    for agent in ("a1", "a2", "a3"):
        apply(stats, router.agent_login(T0, agent))
    apply(stats, router.agent_pause(T0 + 1, "a1", "lunch"))
    apply(stats, router.call_arrived(T0 + 2, "c1", "general"))  # a2 and a3 tie; a2 logged in first
    apply(stats, router.agent_answered(T0 + 3, "a2", "c1"))
    snap = stats.snapshot(T0 + 4)
    billing = snap.queues["billing"].agents
    assert (billing.logged_in, billing.paused, billing.on_call, billing.available) == (2, 1, 1, 0)
    general_skill = snap.skills["general"].agents
    assert (general_skill.logged_in, general_skill.on_call, general_skill.available) == (2, 1, 1)
    assert snap.queues["both"].agents.logged_in == 1


def test_skill_figures_sum_the_queues_that_need_the_skill() -> None:
    stats = LiveStats(config())
    offered(stats, "c1", T0, "billing")
    offered(stats, "c2", T0, "asterisk")
    offered(stats, "c3", T0, "general", ("general",))
    offered(stats, "c4", T0, "both", ("billing", "general"))
    snap = stats.snapshot(T0 + 1)
    assert snap.skills["billing"].interval.offered == 3
    assert snap.skills["general"].interval.offered == 2
    assert snap.skills["billing"].waiting == 3


def test_interval_aligns_to_local_quarter_hours_in_santiago() -> None:
    stats = LiveStats(config())
    snap = stats.snapshot(T0 + 22 * 60 + 7)  # 10:22:07
    assert snap.timezone == "America/Santiago"
    assert datetime.fromtimestamp(snap.interval_start, SANTIAGO).strftime("%H:%M") == "10:15"
    assert snap.interval_end - snap.interval_start == 900
    assert datetime.fromtimestamp(snap.day_start, SANTIAGO).strftime("%Y-%m-%d %H:%M") == "2025-03-10 00:00"


def test_day_has_25_hours_when_chile_leaves_summer_time() -> None:
    # Clocks go from 24:00 back to 23:00 on Saturday 5 April 2025.
    clock = IntervalClock("America/Santiago")
    start, end = clock.day(datetime(2025, 4, 5, 12, 0, tzinfo=SANTIAGO).timestamp())
    assert end - start == 25 * 3600
    second_2330 = datetime(2025, 4, 5, 23, 30, fold=1, tzinfo=SANTIAGO).timestamp()
    assert clock.interval(second_2330) == (second_2330, second_2330 + 900)
    assert clock.day(second_2330) == (start, end)


def test_day_starts_at_1am_when_chile_skips_midnight() -> None:
    # Clocks jump from 24:00 to 01:00 on Saturday night, 6-7 September 2025.
    clock = IntervalClock("America/Santiago")
    start, end = clock.day(datetime(2025, 9, 7, 12, 0, tzinfo=SANTIAGO).timestamp())
    assert datetime.fromtimestamp(start, SANTIAGO).strftime("%d %H:%M") == "07 01:00"
    assert end - start == 23 * 3600


def test_other_timezone_shifts_the_day() -> None:
    stats = LiveStats(config(), timezone="UTC")
    snap = stats.snapshot(T0)  # 13:00 UTC
    assert datetime.fromtimestamp(snap.day_start, ZoneInfo("UTC")).hour == 0
    assert snap.day_start != LiveStats(config()).snapshot(T0).day_start
