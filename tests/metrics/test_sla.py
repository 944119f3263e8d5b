"""Monthly SLA: targets per contract month, penalties in exact tenths, contract files."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.base.events import Event
from acd.metrics.sla import Contract, ContractError, evaluate_month, load_contract, tenths_half_up
from acd.metrics.timeutil import TimeInputError

from .factories import SANTIAGO
from .reference import sla_penalty_half_uf

MARCH = datetime(2026, 3, 3, 10, 0, tzinfo=SANTIAGO).timestamp()


def month_of_calls(within: int, late: int, short: int, long_abandons: int, waiting: int = 0) -> list[Event]:
    """Calls spread over 3 March: answered within 25 s, answered late, short and long abandons."""
    events: list[Event] = []
    kinds = ["within"] * within + ["late"] * late + ["short"] * short + ["long"] * long_abandons + ["waiting"] * waiting
    for i, kind in enumerate(kinds):
        t, cid = MARCH + 7 * i, f"c{i}"
        events.append(Event(type="call.queued", ts=t, call_id=cid, queue="q"))
        wait = {"within": 25.0, "late": 25.5, "short": 5.0, "long": 5.5}.get(kind)
        if kind in ("within", "late"):
            events.append(Event(type="call.answered", ts=t + wait, call_id=cid, queue="q", agent_id="a", data={"waited_s": wait}))
        elif kind in ("short", "long"):
            events.append(Event(type="call.abandoned", ts=t + wait, call_id=cid, queue="q", data={"waited_s": wait}))
    return sorted(events, key=lambda e: e.ts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    within=st.integers(0, 60),
    late=st.integers(0, 30),
    short=st.integers(0, 10),
    long_abandons=st.integers(0, 15),
    contract_month=st.integers(1, 5),
)
def test_penalty_equals_integer_arithmetic_on_the_counts(within, late, short, long_abandons, contract_month) -> None:
    start = f"2026-{3 - contract_month + 1:02d}" if contract_month <= 3 else f"2025-{12 - (contract_month - 4):02d}"
    result = evaluate_month(month_of_calls(within, late, short, long_abandons), 2026, 3, contract_start=start)
    assert result.contract_month == contract_month
    sl_min, ab_max = (650, 100) if contract_month <= 2 else (750, 50)
    offered = within + late + short + long_abandons
    sl, ab, half_uf = sla_penalty_half_uf(within, offered, short + long_abandons, short, sl_min, ab_max)
    assert result.service_level == (None if sl is None else Decimal(sl) / 10)
    assert result.abandonment_rate == (None if ab is None else Decimal(ab) / 10)
    assert result.penalty_uf == Decimal(half_uf) / 2


@pytest.mark.parametrize(
    ("exact", "tenths"),
    [(Fraction(7493, 100), 749), (Fraction(7495, 100), 750), (Fraction(749499, 10000), 749), (Fraction(504, 100), 50), (Fraction(505, 100), 51)],
)
def test_a_partial_tenth_counts_only_once_the_figure_rounds_half_up_past_it(exact, tenths) -> None:
    assert tenths_half_up(exact) == tenths


def test_a_service_level_of_74_93_percent_costs_half_a_uf() -> None:
    result = evaluate_month(month_of_calls(within=290, late=97, short=0, long_abandons=0), 2026, 3, contract_start="2026-01")
    assert result.figures.sl_offered == Fraction(29000, 387)  # 74.935...%
    assert (result.service_level, result.service_level_shortfall_tenths, result.penalty_uf) == (Decimal("74.9"), 1, Decimal("0.5"))


def test_abandonment_of_5_05_percent_costs_one_uf_and_5_04_nothing() -> None:
    over = evaluate_month(month_of_calls(within=94, late=0, short=3, long_abandons=5), 2026, 3, contract_start="2026-01")
    assert over.figures.abandonment_rate == Fraction(500, 99)  # 5.0505...% of 99 (short abandons excluded)
    assert (over.abandonment_rate, over.abandonment_excess_tenths, over.penalty_abandonment_uf) == (Decimal("5.1"), 1, Decimal("1"))
    under = evaluate_month(month_of_calls(within=113, late=0, short=0, long_abandons=6), 2026, 3, contract_start="2026-01")
    assert under.figures.abandonment_rate == Fraction(600, 119)  # 5.042...%
    assert (under.abandonment_rate, under.penalty_abandonment_uf) == (Decimal("5.0"), Decimal("0"))


def test_the_first_two_contract_months_have_the_softer_targets() -> None:
    events = month_of_calls(within=70, late=30, short=0, long_abandons=0)
    first = evaluate_month(events, 2026, 3, contract_start="2026-02")
    third = evaluate_month(events, 2026, 3, contract_start="2026-01")
    steady = evaluate_month(events, 2026, 3)
    assert (first.contract_month, first.tier.service_level_min, first.penalty_uf) == (2, 65, 0)
    assert (third.contract_month, third.tier.service_level_min, third.penalty_uf) == (3, 75, Decimal("25"))  # 50 tenths × 0.5
    assert (steady.contract_month, steady.penalty_uf) == (None, Decimal("25"))


def test_a_month_without_calls_has_no_figures_and_no_penalty() -> None:
    result = evaluate_month([], 2026, 3, contract_start="2026-01")
    assert (result.service_level, result.abandonment_rate, result.penalty_uf) == (None, None, 0)
    assert result.service_level_met is None and result.availability_met


def test_a_month_before_the_contract_is_an_error() -> None:
    with pytest.raises(TimeInputError, match="before the contract start"):
        evaluate_month([], 2025, 12, contract_start="2026-01")


def test_an_unfinished_month_is_marked_partial() -> None:
    now = datetime(2026, 3, 15, tzinfo=SANTIAGO).timestamp()
    assert evaluate_month([], 2026, 3, now=now).partial
    assert not evaluate_month([], 2026, 2, now=now).partial


def test_a_contract_file_overrides_targets_penalties_and_hours(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(
        "start: 2026-01\n"
        "tiers:\n"
        "  - {from_month: 1, to_month: 6, service_level_min: 70, abandonment_max: 8}\n"
        "  - {from_month: 7, service_level_min: 80.5, abandonment_max: 4}\n"
        "penalty_uf_per_tenth_service_level: 0.25\n"
        "business_hours: {lun-vie: '08:00-20:00', sab: '09:00-14:00'}\n"
        "holidays: [2026-03-03]\n",
        encoding="utf-8",
    )
    contract = load_contract(path)
    result = evaluate_month(month_of_calls(within=60, late=40, short=0, long_abandons=0), 2026, 3, contract)
    assert (result.contract_month, result.tier.service_level_min, result.penalty_uf) == (3, 70, Decimal("25"))  # 100 tenths × 0.25
    assert contract.schedule().state_at(datetime(2026, 3, 7, 10, 0, tzinfo=SANTIAGO).timestamp()) == "open"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tiers:\n  - {from_month: 2, service_level_min: 70, abandonment_max: 8}\n", "from_month 1"),
        ("tiers:\n  - {from_month: 1, service_level_min: 74.95, abandonment_max: 5}\n", "whole number of tenths"),
        ("business_hours: {weekdays: '09:00-18:00'}\n", "unknown weekday"),
        ("start: 2026-13\n", "month must be 01 to 12"),
        ("penalty_per_call: 3\n", "unknown field"),
    ],
)
def test_a_bad_contract_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match=message):
        load_contract(path)


def test_default_contract_is_the_tender() -> None:
    contract = Contract()
    assert [(t.from_month, t.to_month, t.service_level_min, t.abandonment_max) for t in contract.tiers] == [
        (1, 2, 65, 10),
        (3, None, 75, 5),
    ]
    assert (contract.threshold_s, contract.short_abandon_s, contract.unavailable_max_hours) == (25, 5, 1)
    assert (contract.penalty_uf_per_tenth_service_level, contract.penalty_uf_per_tenth_abandonment) == (Decimal("0.5"), 1)


def outage_on(day: int, start_h: float, minutes: float) -> list[Event]:
    """The engine stopped for ``minutes`` from ``start_h`` o'clock on a March 2026 day."""
    t0 = datetime(2026, 3, day, 8, 0, tzinfo=SANTIAGO).timestamp()
    down = t0 + (start_h - 8) * 3600
    return [
        Event(type="engine.started", ts=t0),
        Event(type="engine.stopped", ts=down),
        Event(type="engine.started", ts=down + minutes * 60),
    ]


@pytest.mark.parametrize(
    ("minutes", "whole_hours", "uf", "met"),
    [(59, 0, Decimal("0"), True), (60, 1, Decimal("2"), False), (90, 1, Decimal("2"), False), (150, 2, Decimal("4"), False)],
)
def test_unavailability_is_fined_two_uf_per_whole_business_hour(minutes: float, whole_hours: int, uf: Decimal, met: bool) -> None:
    result = evaluate_month(outage_on(4, 10, minutes), 2026, 3, Contract(holidays=[]))  # Wednesday 4 March, 10:00
    assert (result.unavailable_whole_hours, result.penalty_unavailability_uf, result.availability_met) == (whole_hours, uf, met)
    assert result.penalty_uf == uf  # no calls: the other lines owe nothing


def test_an_outage_after_friday_closing_or_on_a_holiday_costs_nothing() -> None:
    friday_evening = outage_on(6, 17, 90)  # Friday 6 March 17:00-18:30: the tender closes at 17:00 on Fridays
    assert evaluate_month(friday_evening, 2026, 3).penalty_unavailability_uf == 0
    thursday = outage_on(5, 17, 90)  # Thursday 17:00-18:30: open until 18:00, so 60 of the 90 minutes count
    assert evaluate_month(thursday, 2026, 3).unavailable_whole_hours == 1
    good_friday = [
        Event(type="engine.started", ts=datetime(2026, 4, 2, 8, tzinfo=SANTIAGO).timestamp()),
        Event(type="engine.stopped", ts=datetime(2026, 4, 3, 9, tzinfo=SANTIAGO).timestamp()),
        Event(type="engine.started", ts=datetime(2026, 4, 3, 17, tzinfo=SANTIAGO).timestamp()),
    ]
    assert evaluate_month(good_friday, 2026, 4).unavailable_seconds == 0  # Chile's public holiday, from the library


def test_each_fined_line_shows_its_formula_and_inputs() -> None:
    from acd.metrics.render import sla_dict, sla_text

    result = evaluate_month(outage_on(4, 10, 90) + month_of_calls(within=70, late=30, short=0, long_abandons=0), 2026, 3, Contract(holidays=[]))
    d = sla_dict(result, SANTIAGO)
    assert d["penalty_detail_uf"] == {"service_level": 25.0, "abandonment": 0.0, "unavailability": 2.0, "report_availability": 0.0}
    assert d["penalty_uf"] == 27.0
    assert d["formulas"]["unavailability"].startswith("2 UF x 1 whole business hours without service (1.50 h")
    assert d["formulas"]["service_level"].startswith("0.5 UF x 50 tenths short of 75%")
    assert "unavailability: 2 UF x 1 whole" in sla_text(result, SANTIAGO)
