"""The report's fast paths give exactly what the plain ones gave (they exist only for speed).

``round_half_up`` decides in integers instead of ``Fraction`` arithmetic, and
``summed`` adds a row's accumulators field by field instead of absorbing them one at a
time: both must agree with the originals on every value, halves and negatives included.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, strategies as st

from acd.metrics.ledger import Acc
from acd.metrics.reports import ratio, round_half_up, summed


def reference_round(value: Fraction | float, places: int) -> Fraction:
    exact = value if isinstance(value, Fraction) else Fraction(value)
    return Fraction(math.floor(exact * 10**places + Fraction(1, 2)), 10**places)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
fractions = st.fractions(max_denominator=10**9).filter(lambda f: abs(f) < 10**12)


@given(value=st.one_of(finite, fractions), places=st.integers(0, 4))
def test_round_half_up_is_the_exact_half_up_rounding(value: Fraction | float, places: int) -> None:
    assert Fraction(round_half_up(value, places)) == reference_round(value, places)


def test_round_half_up_on_halves_and_float_hairs() -> None:
    assert str(round_half_up(Fraction(1, 8), 2)) == "0.13"  # 0.125 up
    assert str(round_half_up(Fraction(-1, 8), 2)) == "-0.12"  # half up, toward +inf
    assert str(round_half_up(0.15, 1)) == "0.1"  # the float 0.15 is a hair below 0.15
    assert str(round_half_up(2.5, 0)) == "3"
    assert round_half_up(None) is None


@given(st.integers(0, 10**6), st.integers(-5, 10**6))
def test_ratio_of_integers_equals_the_fraction_formula(numerator: int, denominator: int) -> None:
    expected = None if denominator <= 0 else Fraction(numerator) * 100 / Fraction(denominator)
    assert ratio(numerator, denominator) == expected


seconds = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@st.composite
def accs(draw: st.DrawFn) -> Acc:
    acc = Acc(offered=draw(st.integers(0, 50)), answered=draw(st.integers(0, 50)), survey_score_sum=draw(st.integers(0, 200)))
    for value in draw(st.lists(seconds, max_size=4)):
        acc.wait_answered.add(value)
    for value in draw(st.lists(seconds, max_size=4)):
        acc.talk.add(value)
    for value in draw(st.lists(seconds, max_size=3)):
        acc.logged_in.add(value)
    for value in draw(st.lists(seconds, max_size=3)):
        acc.see_wait(value)
    return acc


@given(st.lists(accs(), min_size=1, max_size=12))
def test_summed_equals_absorbing_one_by_one(parts: list[Acc]) -> None:
    expected = Acc()
    for part in parts:
        expected.absorb(part)
    assert summed(parts) == expected
    assert summed([]) is None


def test_report_json_is_the_reports_dict_with_one_interval_per_line() -> None:
    import json
    from datetime import date, datetime

    from acd.bench.reports import TIMEZONE, simulate_day
    from acd.metrics.render import report_dict, report_json
    from acd.metrics.reports import compute_report
    from acd.metrics.timeutil import zone

    tz = zone(TIMEZONE)
    start = datetime(2026, 3, 2, tzinfo=tz).timestamp()
    report = compute_report(simulate_day(date(2026, 3, 2), 200, 1), start, start + 86400, timezone=TIMEZONE, interval="15", by="skill", now=start + 10 * 86400)
    text = report_json(report, tz, extra={"source": {"routing_file": None}})
    assert json.loads(text) == {**report_dict(report, tz), "source": {"routing_file": None}}
    rows = [line for line in text.splitlines() if line.startswith('    {"label": ')]
    assert len(rows) == 96 and all(json.loads(line.rstrip(",")) for line in rows)


@given(busy=seconds, available=seconds, formula=st.sampled_from(["offered", "asterisk-sl", "asterisk-sl2"]))
def test_occupancy_and_service_level_equal_their_fraction_formulas(busy: float, available: float, formula: str) -> None:
    from dataclasses import replace

    from acd.metrics.reports import figures_of

    acc = Acc(offered=9, answered=6, answered_within=4, abandoned=3, abandoned_within=1, short_abandons=1)
    acc.busy.add(busy)
    acc.available.add(available)
    figures = replace(figures_of(acc, formula), sl_formula=formula)
    expected = None if busy + available == 0 else Fraction(busy) * 100 / (Fraction(available) + Fraction(busy))
    assert figures.occupancy == expected
    assert figures.service_level == figures.service_levels[formula]
