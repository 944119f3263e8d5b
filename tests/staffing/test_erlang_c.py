"""Erlang B/C and the Erlang C staffing search against independent references."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.planning.erlang import (
    average_speed_of_answer,
    erlang_b,
    erlang_b_array,
    erlang_c,
    erlang_c_arrays,
    occupancy,
    required_agents,
    required_agents_array,
    scheduled_agents,
    service_level,
    traffic_intensity,
)

from .reference import erlang_b_exact, erlang_c_exact, erlang_c_lgamma

FAST = settings(max_examples=60, deadline=None)


def test_traffic_of_100_calls_in_half_an_hour_at_180_s_is_10_erlangs() -> None:
    assert traffic_intensity(100, 1800, 180) == pytest.approx(10.0, rel=1e-15)


def test_textbook_example_13_agents_for_10_erlangs() -> None:
    # 100 calls / 30 min, AHT 180 s, 13 agents, 20 s threshold.
    assert erlang_c(13, 10.0) == pytest.approx(0.2853, abs=5e-5)
    assert service_level(13, 10.0, 180, 20) == pytest.approx(0.7956, abs=5e-5)
    assert average_speed_of_answer(13, 10.0, 180) == pytest.approx(17.12, abs=5e-3)
    assert occupancy(13, 10.0) == pytest.approx(10 / 13, rel=1e-15)
    assert required_agents(100, 1800, 180, 20, 0.75).agents == 13
    assert required_agents(100, 1800, 180, 20, 0.80).agents == 14


@pytest.mark.parametrize(
    ("agents", "traffic"),
    [(1, Fraction(1, 2)), (5, Fraction(2)), (10, Fraction(5)), (13, Fraction(10)), (30, Fraction(247, 10)), (60, Fraction(1001, 20))],
)
def test_erlang_b_and_c_match_exact_rational_sums(agents: int, traffic: Fraction) -> None:
    assert erlang_b(agents, float(traffic)) == pytest.approx(float(erlang_b_exact(agents, traffic)), rel=1e-12)
    assert erlang_c(agents, float(traffic)) == pytest.approx(float(erlang_c_exact(agents, traffic)), rel=1e-12)


def test_service_level_and_asa_follow_from_the_exact_probability_of_waiting() -> None:
    c = float(erlang_c_exact(13, Fraction(10)))
    assert service_level(13, 10.0, 180, 20) == pytest.approx(1 - c * math.exp(-3 * 20 / 180), rel=1e-12)
    assert average_speed_of_answer(13, 10.0, 180) == pytest.approx(c * 180 / 3, rel=1e-12)


def test_erlang_b_classic_table_value() -> None:
    # Erlang B tables: 5 Erlangs on 10 trunks block 1.84 % of calls.
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=5e-6)


def test_5000_agents_at_4900_erlangs_is_finite_and_matches_log_space_sum() -> None:
    c = erlang_c(5000, 4900.0)
    assert 0.0 < c < 1.0
    assert c == pytest.approx(erlang_c_lgamma(5000, 4900.0), rel=1e-9)
    sl = service_level(5000, 4900.0, 180, 25)
    assert 0.0 < sl <= 1.0
    assert math.isfinite(average_speed_of_answer(5000, 4900.0, 180))


def test_required_agents_at_4900_erlangs_is_minimal() -> None:
    calls = 4900 * 1800 / 180
    result = required_agents(calls, 1800, 180, 25, 0.75)
    assert result.traffic_erlangs == pytest.approx(4900.0)
    assert 4900 < result.agents < 5000
    assert service_level(result.agents, result.traffic_erlangs, 180, 25) >= 0.75
    assert service_level(result.agents - 1, result.traffic_erlangs, 180, 25) < 0.75


def test_tiny_blocking_underflows_to_zero_instead_of_failing() -> None:
    assert erlang_b(5000, 1.0) == 0.0
    assert erlang_c(5000, 1.0) == 0.0
    assert service_level(5000, 1.0, 180, 0) == 1.0


def test_unstable_queue_has_no_service_and_unbounded_wait() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(10, 12.0, 180, 25) == 0.0
    assert average_speed_of_answer(9, 10.0, 180) == math.inf
    assert occupancy(9, 10.0) == 1.0


def test_no_traffic_needs_no_agents_and_is_perfect() -> None:
    result = required_agents(0, 1800, 180, 25, 0.75)
    assert result.agents == 0
    assert result.service_level == 1.0
    assert result.p_wait == 0.0
    assert result.asa_seconds == 0.0


def test_occupancy_cap_adds_agents_and_accepts_the_exact_boundary() -> None:
    # 11.05 Erlangs on 13 agents is exactly 85 %, although 11.05/13 is 0.8500000000000001
    # in binary floating point: the boundary head-count must be accepted, not 14.
    free = required_agents(110.5, 1800, 180, 25, 0.2)
    capped = required_agents(110.5, 1800, 180, 25, 0.2, max_occupancy=0.85)
    assert free.agents == 12
    assert capped.agents == 13
    assert capped.occupancy == pytest.approx(0.85)


def test_shrinkage_rounds_up_but_not_on_floating_point_noise() -> None:
    assert scheduled_agents(21, 0.3) == 30  # 21 / (1 - 0.3) is 30.000000000000004 in binary
    assert scheduled_agents(9, 0.55) == 20
    assert scheduled_agents(13, 0.3) == 19
    assert scheduled_agents(13, 0.0) == 13
    assert required_agents(100, 1800, 180, 20, 0.75, shrinkage=0.3).scheduled_agents == 19


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"target": 1.2}, "target"),
        ({"target": 0.0}, "target"),
        ({"target": 1.0}, "target"),
        ({"calls": -1.0}, "calls"),
        ({"aht_s": 0.0}, "aht_s"),
        ({"interval_s": 0.0}, "interval_s"),
        ({"threshold_s": -1.0}, "threshold_s"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"max_occupancy": 0.0}, "max_occupancy"),
        ({"max_occupancy": 1.5}, "max_occupancy"),
        ({"calls": math.nan}, "calls"),
    ],
)
def test_impossible_parameters_are_rejected_by_name(kwargs: dict[str, float], word: str) -> None:
    params = {"calls": 100.0, "interval_s": 1800.0, "aht_s": 180.0, "threshold_s": 25.0, "target": 0.75, **kwargs}
    with pytest.raises(ValueError, match=word):
        required_agents(**params)


def test_vectorised_erlang_matches_scalar_bit_for_bit() -> None:
    traffic = np.array([0.0, 0.4, 3.0, 10.0, 47.5, 260.0])
    aht = np.array([180.0, 60.0, 300.0, 180.0, 240.0, 200.0])
    agents = required_agents_array(traffic, aht, 25, 0.8)
    for a, t, n in zip(aht, traffic, agents):
        assert n == required_agents(t * 1800 / a, 1800, a, 25, 0.8).agents
    figs = erlang_c_arrays(agents, traffic, aht, 25)
    for i, (n, t, a) in enumerate(zip(agents, traffic, aht)):
        assert figs["service_level"][i] == service_level(int(n), float(t), float(a), 25)
        assert figs["p_wait"][i] == erlang_c(int(n), float(t))
    assert list(erlang_b_array([3, 7, 0], [2.0, 2.0, 2.0])) == [erlang_b(3, 2.0), erlang_b(7, 2.0), 1.0]


@FAST
@given(
    traffic=st.floats(min_value=0.01, max_value=300.0),
    aht=st.floats(min_value=5.0, max_value=3600.0),
    threshold=st.floats(min_value=0.0, max_value=300.0),
)
def test_service_level_never_drops_when_an_agent_is_added(traffic: float, aht: float, threshold: float) -> None:
    start = max(0, math.floor(traffic) - 2)
    levels = [service_level(n, traffic, aht, threshold) for n in range(start, start + 40)]
    assert all(b >= a for a, b in itertools.pairwise(levels))


@FAST
@given(agents=st.integers(min_value=0, max_value=400), traffic=st.floats(min_value=0.0, max_value=500.0))
def test_probability_of_waiting_is_a_probability(agents: int, traffic: float) -> None:
    c = erlang_c(agents, traffic)
    assert 0.0 <= c <= 1.0
    assert 0.0 <= erlang_b(agents, traffic) <= 1.0


@FAST
@given(
    calls=st.floats(min_value=0.5, max_value=3000.0),
    aht=st.floats(min_value=10.0, max_value=900.0),
    threshold=st.floats(min_value=0.0, max_value=120.0),
    target=st.floats(min_value=0.05, max_value=0.99),
    cap=st.one_of(st.none(), st.floats(min_value=0.5, max_value=1.0)),
)
def test_required_agents_is_the_smallest_head_count_meeting_the_goal(
    calls: float, aht: float, threshold: float, target: float, cap: float | None
) -> None:
    result = required_agents(calls, 1800, aht, threshold, target, max_occupancy=cap)
    n, a = result.agents, result.traffic_erlangs
    assert service_level(n, a, aht, threshold) >= target
    assert cap is None or a / n <= cap + 1e-12
    fewer_fails = service_level(n - 1, a, aht, threshold) < target or (cap is not None and a / (n - 1) > cap + 1e-12)
    assert fewer_fails
