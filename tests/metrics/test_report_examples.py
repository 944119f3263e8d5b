"""Report semantics that generated call sets do not pin down, shown on small cases."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from acd.base.events import Event
from acd.metrics.reports import compute_report, round_half_up
from acd.metrics.timeutil import buckets, zone

from .factories import SANTIAGO

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SANTIAGO).timestamp()


def e(type_: str, dt: float, **fields) -> Event:
    return Event(type=type_, ts=T0 + dt, **fields)


def test_wrap_up_belongs_to_the_call_it_follows_when_an_agent_takes_calls_back_to_back() -> None:
    log = [
        e("call.queued", 0, call_id="a", queue="q"),
        e("agent.state", 10, agent_id="ana", data={"state": "on_call"}),
        e("call.answered", 10, call_id="a", queue="q", agent_id="ana", data={"waited_s": 10}),
        e("call.completed", 70, call_id="a", queue="q", agent_id="ana", data={"talk_s": 60, "hold_s": 0}),
        e("agent.state", 70, agent_id="ana", data={"state": "wrap_up"}),
        e("agent.state", 100, agent_id="ana", data={"state": "available"}),
        e("call.queued", 90, call_id="b", queue="q"),
        e("agent.state", 100, agent_id="ana", data={"state": "on_call"}),
        e("call.answered", 100, call_id="b", queue="q", agent_id="ana", data={"waited_s": 10}),
        # the engine logged this wrap-up *before* call.completed: still call b's
        e("agent.state", 200, agent_id="ana", data={"state": "wrap_up"}),
        e("call.completed", 200, call_id="b", queue="q", agent_id="ana", data={"talk_s": 90, "hold_s": 10}),
        e("agent.state", 215, agent_id="ana", data={"state": "available"}),
    ]
    total = compute_report(log, T0, T0 + 3600).total
    assert (total.handled, total.talk_s, total.hold_s, total.wrap_s) == (2, 150.0, 10.0, 45.0)
    assert total.aht_s == (60 + 30 + 90 + 10 + 15) / 2


def test_a_call_still_in_wrap_up_is_not_yet_in_the_handle_time() -> None:
    log = [
        e("call.queued", 0, call_id="a", queue="q"),
        e("call.answered", 5, call_id="a", queue="q", agent_id="ana", data={"waited_s": 5}),
        e("call.completed", 65, call_id="a", queue="q", agent_id="ana", data={"talk_s": 60, "hold_s": 0}),
        e("agent.state", 65, agent_id="ana", data={"state": "wrap_up"}),
    ]
    total = compute_report(log, T0, T0 + 3600).total
    assert (total.answered, total.handled, total.aht_s) == (1, 0, None)


def test_an_overflowed_call_counts_only_in_the_queue_that_finished_it() -> None:
    log = [
        e("call.queued", 0, call_id="a", queue="ventas", data={"skills": ["es"]}),
        e("call.overflowed", 60, call_id="a", queue="ventas", data={"to_queue": "general", "waited_s": 60}),
        e("call.answered", 80, call_id="a", queue="general", agent_id="ana", data={"waited_s": 80}),
    ]
    report = compute_report(log, T0, T0 + 3600, by="queue")
    general, ventas = report.group_totals["general"], report.group_totals["ventas"]
    assert (general.offered, general.answered, general.answered_within, general.longest_wait_s) == (1, 1, 0, 80.0)
    assert (ventas.offered, ventas.answered, ventas.overflowed_out) == (0, 0, 1)
    assert report.total.overflowed_out == 1 and report.total.offered == 1


def test_a_timed_out_call_is_decided_unanswered_and_stays_in_the_service_level_base() -> None:
    log = [
        e("call.queued", 0, call_id="a", queue="ventas"),
        e("call.answered", 10, call_id="b", queue="ventas", agent_id="ana", data={"waited_s": 10}),
        e("call.queued", 5, call_id="b", queue="ventas"),
        e("call.timed_out", 300, call_id="a", queue="ventas", data={"waited_s": 300}),
    ]
    total = compute_report(log, T0, T0 + 3600).total
    assert (total.offered, total.answered, total.timed_out, total.abandoned, total.waiting) == (2, 1, 1, 0, 0)
    assert total.sl_offered == 50 and total.longest_wait_s == 300.0


def test_a_call_still_within_the_threshold_at_now_is_left_out_of_the_service_level_base() -> None:
    log = [
        e("call.queued", 0, call_id="done", queue="ventas"),
        e("call.answered", 5, call_id="done", queue="ventas", agent_id="ana", data={"waited_s": 5}),
        e("call.queued", 10, call_id="fresh", queue="ventas"),
    ]
    early = compute_report(log, T0, T0 + 3600, now=T0 + 20).total
    assert (early.waiting, early.pending_within, early.sl_offered) == (1, 1, 100)
    late = compute_report(log, T0, T0 + 3600, now=T0 + 36).total
    assert (late.waiting, late.pending_within, late.sl_offered) == (1, 0, 50)


def test_a_call_transferred_back_into_a_queue_is_a_new_offer_but_a_requeue_is_not() -> None:
    log = [
        e("call.queued", 0, call_id="a", queue="ventas"),
        e("call.requeued", 20, call_id="a", queue="ventas", data={"reason": "ring-no-answer"}),
        e("call.answered", 30, call_id="a", queue="ventas", agent_id="ana", data={"waited_s": 30}),
        e("call.completed", 90, call_id="a", queue="ventas", agent_id="ana", data={"talk_s": 60}),
        e("call.queued", 95, call_id="a", queue="soporte"),
        e("call.abandoned", 99, call_id="a", queue="soporte", data={"waited_s": 4}),
    ]
    report = compute_report(log, T0, T0 + 3600, by="queue")
    assert report.total.offered == 2
    assert (report.group_totals["ventas"].answered, report.group_totals["soporte"].short_abandons) == (1, 1)


def test_a_call_is_counted_in_the_interval_it_was_offered_not_answered() -> None:
    log = [
        e("call.queued", 14 * 60 + 50, call_id="a", queue="q"),
        e("call.answered", 15 * 60 + 20, call_id="a", queue="q", agent_id="ana", data={"waited_s": 30}),
    ]
    rows = compute_report(log, T0, T0 + 1800, interval="15").rows
    assert [(r.figures.offered, r.figures.answered) for r in rows] == [(1, 1), (0, 0)]


def test_rates_without_calls_are_undefined_not_zero() -> None:
    total = compute_report([], T0, T0 + 3600).total
    assert (total.service_level, total.abandonment_rate, total.asa_s, total.occupancy) == (None, None, None, None)


def test_short_abandons_leave_both_numerator_and_denominator() -> None:
    log = [e("call.queued", i, call_id=f"c{i}", queue="q") for i in range(4)] + [
        e("call.answered", 10, call_id="c0", queue="q", agent_id="ana", data={"waited_s": 10}),
        e("call.answered", 40, call_id="c1", queue="q", agent_id="ana", data={"waited_s": 39}),
        e("call.abandoned", 7, call_id="c2", queue="q", data={"waited_s": 5}),
        e("call.abandoned", 60, call_id="c3", queue="q", data={"waited_s": 57}),
    ]
    total = compute_report(log, T0, T0 + 3600).total
    assert total.service_level == Fraction(100, 3)  # 1 within / (4 offered - 1 short)
    assert total.abandonment_rate == Fraction(100, 3)  # (2 - 1) / (4 - 1)
    assert total.sl_asterisk == 50 and total.sl2_asterisk == 50  # (1 + 1 abandoned within) / 4


def test_surveys_ignore_scores_outside_one_to_five() -> None:
    log = [e("survey.answer", 1, call_id="x", data={"score": s}) for s in (5, 4, 3, 0, 6, "5", True)]
    total = compute_report(log, T0, T0 + 3600).total
    assert (total.survey_responses, total.survey_average, total.survey_top2_pct) == (3, 4, Fraction(200, 3))


def test_intervals_follow_the_local_clock_across_the_autumn_dst_night() -> None:
    tz = zone("America/Santiago")
    start = datetime(2026, 4, 4, 22, 0, tzinfo=tz).timestamp()
    rows = buckets(start, start + 4 * 3600, "60", tz)
    assert [r.label.strftime("%H:%M%z") for r in rows] == ["22:00-0300", "23:00-0300", "23:00-0400", "00:00-0400"]
    day = buckets(start, start + 4 * 3600, "day", tz)
    assert [(r.end - r.start) for r in day] == [3 * 3600, 3600]  # Saturday lasts 25 h; clipped to the range


def test_a_day_that_starts_at_one_oclock_in_spring_is_one_interval() -> None:
    tz = zone("America/Santiago")
    start = datetime(2026, 9, 5, 0, 0, tzinfo=tz).timestamp()
    days = buckets(start, datetime(2026, 9, 8, 0, 0, tzinfo=tz).timestamp(), "day", tz)
    assert [d.label.strftime("%d %H:%M") for d in days] == ["05 00:00", "06 01:00", "07 00:00"]
    assert days[1].end - days[1].start == 23 * 3600


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [(Fraction(7493, 100), 1, "74.9"), (Fraction(7495, 100), 1, "75.0"), (Fraction(1, 3), 2, "0.33"), (0.15, 1, "0.1"), (2.25, 1, "2.3")],
)
def test_display_rounding_is_half_up_on_the_exact_value(value, places, expected) -> None:
    assert str(round_half_up(value, places)) == expected
