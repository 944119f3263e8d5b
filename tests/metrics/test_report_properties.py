"""Every report figure equals the brute-force reference, over generated call sets.

The generated calls cluster waits on the 5 s and 25 s boundaries, mix overflows (with
and without a new ``call.queued``), ring-no-answer requeues, unfinished wrap-ups,
callbacks and surveys, and fall around Chile's DST nights and a month end.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.metrics.reports import Figures, compute_report

from .factories import SANTIAGO, WINDOW_S, agent_logs, call_sets, log_of
from .reference import Ref, reference_agents, reference_calls

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECONDARY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_matches(figures: Figures, ref: Ref, where: str) -> None:
    assert figures.offered == ref.offered, where
    assert figures.answered == ref.answered, where
    assert figures.answered_within == ref.within, where
    assert figures.abandoned == ref.abandoned, where
    assert figures.abandoned_within == ref.abandoned_within, where
    assert figures.short_abandons == ref.short, where
    assert figures.waiting == ref.waiting, where
    assert figures.timed_out == ref.timed_out, where
    assert figures.overflowed_out == ref.overflowed_out, where
    assert figures.sl_offered == ref.service_level, where
    assert figures.sl_asterisk == ref.sl_asterisk, where
    assert figures.sl2_asterisk == ref.sl2_asterisk, where
    assert figures.abandonment_rate == ref.abandonment_rate, where
    assert figures.longest_wait_s == ref.longest, where
    # sums of seconds are correctly rounded (fsum), so they equal the exact sum rounded once
    assert figures.wait_answered_s == float(sum(ref.answered_waits, Fraction(0))), where
    assert figures.handled == len(ref.handles), where
    assert figures.handle_s == float(sum(ref.handles, Fraction(0))), where
    for got, want in ((figures.asa_s, ref.asa), (figures.aht_s, ref.aht)):
        assert (got is None) == (want is None), where
        if got is not None:
            assert math.isclose(got, float(want), rel_tol=1e-12), where
    assert figures.callbacks_requested == ref.callbacks_requested, where
    assert figures.callbacks_completed == ref.callbacks_completed, where
    assert figures.survey_responses == len(ref.scores), where
    assert figures.survey_average == ref.survey_average, where
    assert figures.survey_top2_pct == ref.survey_top2, where


@PROPERTY_SETTINGS
@given(data=call_sets(), interval=st.sampled_from(["15", "30", "60", "day", "month"]), by=st.sampled_from([None, "queue", "skill"]))
def test_call_figures_per_interval_and_group_equal_the_reference(data, interval, by) -> None:
    anchor, specs = data
    start, end = anchor, anchor + WINDOW_S
    report = compute_report(log_of(specs), start, end, interval=interval, timezone="America/Santiago", by=by)
    ref = reference_calls(specs, start, end, interval, SANTIAGO, by=by)
    assert_matches(report.total, ref[(None, None)], "total")
    seen = set()
    for row in report.rows:
        key = row.label.timestamp()
        seen.add(key)
        assert_matches(row.figures, ref[(key, None)], f"row {row.label}")
        for group, figures in row.groups.items():
            assert_matches(figures, ref[(key, group)], f"row {row.label} group {group}")
    for group, figures in report.group_totals.items():
        assert_matches(figures, ref[(None, group)], f"total group {group}")
    # nothing the reference counted is missing from the report
    for (key, group), ref_figures in ref.items():
        if ref_figures.offered or ref_figures.overflowed_out or ref_figures.scores or ref_figures.callbacks_requested or ref_figures.callbacks_completed:
            assert key is None or key in seen
            if group is not None and key is not None:
                row = next(r for r in report.rows if r.label.timestamp() == key)
                assert group in row.groups


@SECONDARY
@given(data=call_sets(), queue=st.sampled_from(["ventas", "soporte", "nadie"]))
def test_queue_filter_keeps_only_calls_that_ended_in_that_queue(data, queue) -> None:
    anchor, specs = data
    start, end = anchor, anchor + WINDOW_S
    report = compute_report(log_of(specs), start, end, interval="60", queue=queue)
    ref = reference_calls(specs, start, end, "60", SANTIAGO, queue=queue)
    assert_matches(report.total, ref[(None, None)], "total")
    assert report.total.agent_logged_in_s is None  # agent time is not split by queue


@SECONDARY
@given(data=call_sets(), threshold=st.sampled_from([10.0, 20.0, 25.0, 30.5]), short=st.sampled_from([0.0, 3.0, 5.0, 10.0]))
def test_thresholds_are_inclusive_and_configurable(data, threshold, short) -> None:
    anchor, specs = data
    start, end = anchor, anchor + WINDOW_S
    report = compute_report(log_of(specs), start, end, interval="30", threshold_s=threshold, short_abandon_s=short)
    ref = reference_calls(specs, start, end, "30", SANTIAGO, threshold=threshold, short=short)
    assert_matches(report.total, ref[(None, None)], "total")
    for row in report.rows:
        assert_matches(row.figures, ref[(row.label.timestamp(), None)], f"row {row.label}")


@PROPERTY_SETTINGS
@given(log=agent_logs(), interval=st.sampled_from(["15", "30", "60"]), cut=st.integers(0, 2 * 3600))
def test_agent_time_and_occupancy_equal_per_second_sampling(log, interval, cut) -> None:
    start, end = int(log.anchor), int(log.anchor) + 2 * 3600
    now = start + cut  # states still open at "now" end there
    report = compute_report(log.events, start, end, interval=interval, now=now)
    ref = reference_agents(log.events, start, now, interval, SANTIAGO)
    total = report.total
    assert total.agent_logged_in_s == ref[None].logged_in
    assert total.agent_available_s == ref[None].available
    assert total.agent_busy_s == ref[None].busy
    assert total.occupancy == ref[None].occupancy
    for row in report.rows:
        want = ref[row.label.timestamp()]
        assert row.figures.agent_logged_in_s == want.logged_in, row.label
        assert row.figures.agent_available_s == want.available, row.label
        assert row.figures.agent_busy_s == want.busy, row.label
        assert row.figures.occupancy == want.occupancy, row.label


@SECONDARY
@given(data=call_sets(max_calls=12), seed=st.randoms(use_true_random=False))
def test_figures_do_not_depend_on_how_calls_interleave_in_the_log(data, seed) -> None:
    anchor, specs = data
    start, end = anchor, anchor + WINDOW_S
    shuffled = list(specs)
    seed.shuffle(shuffled)
    first = compute_report(log_of(specs), start, end, interval="15", by="queue")
    second = compute_report(log_of(shuffled), start, end, interval="15", by="queue")
    assert first == second
