"""Erlang A (M/M/N+M) against a brute-force birth–death chain and its limits."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.planning.erlang import QueueTooLongError, erlang_a, erlang_c_figures, required_agents

from .reference import erlang_a_chain

AHT = 180.0
FAST = settings(max_examples=40, deadline=None)


@pytest.mark.parametrize(
    ("agents", "traffic", "g", "tau"),
    [
        (1, 0.5, 1.0, 0.1),
        (1, 12.0, 4.0, 1.3),  # heavily overloaded, impatient
        (3, 2.5, 0.25, 0.0),
        (3, 7.3, 0.25, 0.5),  # overloaded, patient: long queue
        (5, 4.2, 0.5, 0.14),
        (8, 7.3, 1.0, 1.3),
        (8, 2.5, 4.0, 0.1),
        (6, 6.0, 2.0, 0.3),
    ],
)
def test_erlang_a_matches_brute_force_chain(agents: int, traffic: float, g: float, tau: float) -> None:
    ref = erlang_a_chain(agents, traffic, g, tau, queue_states=150)
    fig = erlang_a(agents, traffic, AHT, AHT / g, tau * AHT)
    # Relative 1e-9; the absolute floor covers the dense solve's ~1e-16 noise on tiny values.
    assert fig.p_wait == pytest.approx(ref["p_wait"], rel=1e-9, abs=1e-13)
    assert fig.abandonment_rate == pytest.approx(ref["abandonment_rate"], rel=1e-9, abs=1e-13)
    assert fig.service_level == pytest.approx(ref["service_level"], rel=1e-9, abs=1e-13)
    assert fig.asa_seconds / AHT == pytest.approx(ref["asa"], rel=1e-9, abs=1e-13)
    assert fig.occupancy == pytest.approx(ref["occupancy"], rel=1e-9, abs=1e-13)


def test_very_patient_callers_behave_like_erlang_c() -> None:
    a = erlang_a(13, 10.0, AHT, 1e12, 20)
    c = erlang_c_figures(13, 10.0, AHT, 20)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-8)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-8)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-8)
    assert a.abandonment_rate is not None and a.abandonment_rate < 1e-9


def test_abandonment_lowers_waiting_and_counts_against_service_level() -> None:
    a = erlang_a(13, 10.0, AHT, 60, 20)
    c = erlang_c_figures(13, 10.0, AHT, 20)
    assert a.p_wait < c.p_wait  # impatient callers shorten the queue
    assert a.abandonment_rate is not None and a.abandonment_rate > 0.01
    # answered within t over offered can never exceed the share that is answered at all
    assert a.service_level <= 1 - a.abandonment_rate


def test_overloaded_interval_is_stable_with_abandonment() -> None:
    fig = erlang_a(8, 12.0, AHT, 90, 25)
    assert fig.p_wait > 0.8
    # throughput balance: the agents are busy, the excess hangs up
    assert fig.abandonment_rate == pytest.approx(1 - 8 * fig.occupancy / 12.0, rel=1e-12)
    assert fig.occupancy > 0.95
    assert math.isfinite(fig.asa_seconds)


def test_zero_threshold_service_level_is_answered_without_waiting() -> None:
    fig = erlang_a(5, 4.0, AHT, 120, 0)
    assert fig.service_level == pytest.approx(1 - fig.p_wait, rel=1e-12)


def test_erlang_a_at_5000_agents() -> None:
    fig = erlang_a(5000, 4900.0, AHT, 120, 25)
    assert 0.0 < fig.p_wait < 1.0
    assert 0.99 < fig.service_level <= 1.0
    assert fig.abandonment_rate is not None and 0.0 < fig.abandonment_rate < 1e-3
    patient = erlang_a(5000, 4900.0, AHT, 1e12, 25)
    c = erlang_c_figures(5000, 4900.0, AHT, 25)
    assert patient.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert patient.service_level == pytest.approx(c.service_level, rel=1e-6)


def test_required_agents_with_patience_respects_abandonment_cap() -> None:
    plain = required_agents(100, 1800, AHT, 20, 0.75, patience_s=30)
    capped = required_agents(100, 1800, AHT, 20, 0.75, patience_s=30, max_abandonment=0.01)
    assert capped.agents > plain.agents
    assert capped.abandonment_rate is not None and capped.abandonment_rate <= 0.01
    fewer = erlang_a(capped.agents - 1, 10.0, AHT, 30, 20)
    assert fewer.abandonment_rate is not None and fewer.abandonment_rate > 0.01


def test_endless_patience_in_overload_is_refused_but_staffing_still_works() -> None:
    # 10 Erlangs on 5 agents with callers who practically never hang up: the queue
    # would hold ~1e7 callers, so the chain is refused with a clear error ...
    with pytest.raises(QueueTooLongError, match="patience"):
        erlang_a(5, 10.0, AHT, 1e9, 25)
    # ... while the search simply treats such head-counts as missing the target.
    assert required_agents(100, 1800, AHT, 25, 0.75, patience_s=1e9).agents == required_agents(100, 1800, AHT, 25, 0.75).agents


def test_patience_is_validated() -> None:
    with pytest.raises(ValueError, match="patience_s"):
        erlang_a(5, 4.0, AHT, 0, 20)
    with pytest.raises(ValueError, match="max_abandonment"):
        required_agents(100, 1800, AHT, 20, 0.75, max_abandonment=0.05)


@FAST
@given(
    traffic=st.floats(min_value=0.05, max_value=60.0),
    patience=st.floats(min_value=5.0, max_value=1800.0),
    threshold=st.floats(min_value=0.0, max_value=120.0),
)
def test_erlang_a_service_level_never_drops_when_an_agent_is_added(traffic: float, patience: float, threshold: float) -> None:
    start = max(0, math.floor(traffic) - 5)
    figs = [erlang_a(n, traffic, AHT, patience, threshold) for n in range(start, start + 25)]
    for fewer, more in itertools.pairwise(figs):
        assert more.service_level >= fewer.service_level - 1e-12
        assert more.abandonment_rate <= fewer.abandonment_rate + 1e-12  # type: ignore[operator]
    for fig in figs:
        assert 0.0 <= fig.p_wait <= 1.0
        assert 0.0 <= fig.abandonment_rate <= fig.p_wait + 1e-12  # type: ignore[operator]
        assert 0.0 <= fig.service_level <= 1.0


@FAST
@given(
    calls=st.floats(min_value=1.0, max_value=1500.0),
    patience=st.floats(min_value=10.0, max_value=1200.0),
    target=st.floats(min_value=0.05, max_value=0.95),
    cap=st.one_of(st.none(), st.floats(min_value=0.02, max_value=0.5)),
)
def test_required_agents_with_patience_is_minimal(calls: float, patience: float, target: float, cap: float | None) -> None:
    result = required_agents(calls, 1800, AHT, 25, target, patience_s=patience, max_abandonment=cap)
    n, a = result.agents, result.traffic_erlangs

    def meets(fig_n: int) -> bool:
        fig = erlang_a(fig_n, a, AHT, patience, 25)
        return fig.service_level >= target and (cap is None or (fig.abandonment_rate or 0.0) <= cap)

    assert meets(n)
    assert not meets(n - 1)
