"""Report availability (contract: >= 95 % of the hours, 1 UF per point short) from the console's heartbeats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from acd.base.events import Event
from acd.metrics.downtime import outages
from acd.metrics.report_availability import console_outages
from acd.metrics.sla import Contract, evaluate_month, month_range
from acd.metrics.store import EventStore

from .factories import SANTIAGO

START, END = month_range(2026, 4, "America/Santiago")  # April: 30 days, 720 hours
HOUR = 3600.0


def beats(start: float, end: float, period: float = 60.0, *, started: bool = True) -> list[Event]:
    events = [Event(type="console.started", ts=start, data={"period_s": period})] if started else []
    ts = start + period
    while ts < end:
        events.append(Event(type="console.heartbeat", ts=ts))
        ts += period
    return events


def test_a_console_beating_all_month_makes_reports_fully_available() -> None:
    result = evaluate_month(beats(START - 600, END + 600), 2026, 4, Contract(holidays=[]))
    assert result.report_availability == Decimal("100.0")
    assert result.penalty_report_availability_uf == 0 and result.report_availability_met is True


def test_a_crash_is_counted_from_the_last_heartbeat_until_the_console_serves_again() -> None:
    crash = START + 10 * 24 * HOUR
    events = beats(START - 600, crash) + beats(crash + 36 * HOUR, END + 600)  # 36 h down = 5 % of 720 h
    availability = console_outages(events, START, END)
    assert [round(o.seconds) for o in availability.outages] == [round(36 * HOUR + 60)]  # from the last beat
    result = evaluate_month(events, 2026, 4, Contract(holidays=[]))
    assert result.report_availability == Decimal("95.0")  # 94.99 % rounds half-up to 95.0: no fine
    assert result.penalty_report_availability_uf == 0


def test_each_whole_point_short_of_95_percent_costs_one_uf() -> None:
    stop = START + 5 * 24 * HOUR
    down = 0.0744 * 720 * HOUR  # 92.56 % available: 2.4 points short -> 2 whole points
    events = beats(START - 600, stop) + [Event(type="console.stopped", ts=stop)] + beats(stop + down, END + 600)
    result = evaluate_month(events, 2026, 4, Contract(holidays=[]))
    assert result.report_availability == Decimal("92.6")
    assert result.report_availability_shortfall_points == 2
    assert result.penalty_report_availability_uf == Decimal("2")
    assert result.penalty_uf == Decimal("2")  # no calls: the other lines cost nothing


def test_one_late_heartbeat_is_not_an_outage() -> None:
    first = beats(START - 600, START + HOUR)
    late = first[-1].ts + 110  # due after 60 s, came after 110 s: within two periods
    events = first + beats(late - 60, END + 600, started=False)
    assert events[len(first)].ts == late
    assert console_outages(events, START, END).outages == ()
    assert len(console_outages(first + beats(late + 20 - 60, END + 600, started=False), START, END).outages) == 1  # 130 s: one


def test_a_site_that_never_ran_the_console_is_not_measured_rather_than_zero() -> None:
    result = evaluate_month([], 2026, 4, Contract(holidays=[]))
    assert result.report_availability is None and result.report_availability_met is None
    assert result.penalty_report_availability_uf == 0
    first = START + 20 * 24 * HOUR  # deployed on the 21st: measured from then on only
    result = evaluate_month(beats(first, END + 600), 2026, 4, Contract(holidays=[]))
    assert result.reports.measured_from == first and result.report_availability == Decimal("100.0")


def test_the_consoles_heartbeats_never_shorten_an_engine_crash() -> None:
    crash_at = START + HOUR
    engine = [Event(type="engine.started", ts=START), Event(type="engine.heartbeat", ts=crash_at), Event(type="engine.started", ts=crash_at + 2 * HOUR)]
    console = beats(START, START + 4 * HOUR)
    down = outages(sorted(engine + console, key=lambda e: e.ts), START, END)
    assert [(o.start, o.end) for o in down] == [(crash_at, crash_at + 2 * HOUR)]


async def test_a_console_down_since_before_the_month_is_down_from_the_first_hour(tmp_path: Path) -> None:
    async with await EventStore.open(tmp_path / "m.sqlite", batch_interval_s=0.05) as store:
        for event in beats(START - 5 * 24 * HOUR, START - 3 * 24 * HOUR) + beats(START + 72 * HOUR, END + 600):
            store.append(event)
        events = await store.report_events(START, END)
    result = evaluate_month(events, 2026, 4, Contract(holidays=[]))
    assert result.reports.measured_from == START
    assert result.reports.outages[0].start == START and result.report_availability == Decimal("90.0")
    assert result.report_availability_shortfall_points == 5


def test_the_sla_text_prints_the_reports_line_and_its_formula() -> None:
    from acd.metrics.render import sla_text

    text = sla_text(evaluate_month(beats(START - 600, END + 600), 2026, 4, Contract(holidays=[])), SANTIAGO)
    assert "reports" in text and "report_availability: 1 UF x 0 whole points short of 95%" in text
    assert "not measured" in sla_text(evaluate_month([], 2026, 4, Contract(holidays=[])), SANTIAGO)
    assert datetime.fromtimestamp(START, SANTIAGO).day == 1
