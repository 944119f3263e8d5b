"""Service unavailability from engine/AMI events, counted in business hours."""

from __future__ import annotations

from datetime import datetime

from acd.metrics.downtime import business_spans, outages, unavailable_business_seconds
from acd.base.events import Event
from acd.metrics.sla import Contract, evaluate_month

from .factories import SANTIAGO

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=SANTIAGO).timestamp()  # Monday 2 March 2026
H = 3600.0
MONTH = (datetime(2026, 3, 1, tzinfo=SANTIAGO).timestamp(), datetime(2026, 4, 1, tzinfo=SANTIAGO).timestamp())


def at(hours: float, type_: str, **fields) -> Event:
    return Event(type=type_, ts=MONDAY + hours * H, **fields)


def spans(events: list[Event]) -> list[tuple[float, float, str]]:
    return [((o.start - MONDAY) / H, (o.end - MONDAY) / H, o.reason) for o in outages(events, *MONTH)]


def test_a_clean_restart_is_down_from_stop_to_start() -> None:
    log = [at(8, "engine.started"), at(10, "engine.stopped"), at(10.5, "engine.started")]
    assert spans(log) == [(10, 10.5, "engine.stopped")]


def test_with_ami_the_service_is_down_until_both_engine_and_ami_are_back_in_either_order() -> None:
    ami_first = [at(8, "ami.connected"), at(8, "engine.started"), at(10, "engine.stopped"), at(10.4, "ami.connected"), at(10.5, "engine.started")]
    ami_last = [at(8, "engine.started"), at(8, "ami.connected"), at(10, "engine.stopped"), at(10.4, "engine.started"), at(10.5, "ami.connected")]
    assert spans(ami_first) == spans(ami_last) == [(10, 10.5, "engine.stopped")]


def test_an_ami_disconnection_is_an_outage() -> None:
    log = [at(8, "engine.started"), at(8, "ami.connected"), at(11, "ami.disconnected", data={"reason": "ping timeout"}), at(11.25, "ami.connected")]
    assert spans(log) == [(11, 11.25, "ami.disconnected")]


def test_a_crash_counts_from_the_last_sign_of_life_to_the_restart() -> None:
    log = [
        at(8, "engine.started"),
        at(8, "ami.connected"),
        at(10, "call.queued", call_id="x", queue="q"),  # last thing the old process logged
        at(10.75, "ami.connected"),  # the new process: AMI first...
        at(10.8, "engine.started"),  # ...then the engine
    ]
    [(start, end, reason)] = spans(log)
    assert (start, end) == (10, 10.8) and "crash" in reason


def test_a_crash_is_recognised_without_ami_too() -> None:
    log = [at(8, "engine.started"), at(9, "agent.state", agent_id="a", data={"state": "available"}), at(9.5, "engine.started")]
    assert [(s, e) for s, e, _ in spans(log)] == [(9, 9.5)]


def test_a_site_without_ami_is_not_down_for_lack_of_it() -> None:
    log = [at(8, "engine.started"), at(12, "engine.stopped"), at(12.1, "engine.started")]
    assert [(s, round(e, 6)) for s, e, _ in spans(log)] == [(12, 12.1)]


def test_an_outage_still_open_at_month_end_runs_to_it() -> None:
    log = [at(8, "engine.started"), at(10, "engine.stopped")]
    [outage] = outages(log, *MONTH)
    assert outage.end == MONTH[1]


def test_only_business_hours_count_and_holidays_are_excluded() -> None:
    contract = Contract(business_hours={"mon-fri": "09:00-18:00"}, holidays=["2026-03-03"])
    night = [at(2, "engine.stopped"), at(3, "engine.started")]  # Monday 02:00-03:00
    evening = [at(17.5, "engine.stopped"), at(19, "engine.started")]  # Monday 17:30-19:00 → 30 min
    holiday = [at(24 + 10, "engine.stopped"), at(24 + 12, "engine.started")]  # Tuesday = holiday
    result = evaluate_month(night + evening + holiday, 2026, 3, contract)
    assert len(result.outages) == 3
    assert result.unavailable_seconds == 1800 and str(result.unavailable_hours) == "0.50"
    assert result.availability_met


def test_an_hour_or_more_of_business_downtime_breaks_the_availability_target() -> None:
    log = [at(9, "engine.started"), at(9, "ami.connected"), at(10, "ami.disconnected"), at(10.5, "ami.connected"),
           at(15, "engine.stopped"), at(15.5, "engine.started"), at(15.5, "ami.connected")]
    result = evaluate_month(log, 2026, 3)
    assert result.unavailable_seconds == H and not result.availability_met


def test_business_spans_follow_the_local_clock() -> None:
    schedule = Contract(business_hours={"sat": "22:00-24:00"}, holidays=[]).schedule()  # 4 April 2026 is Holy Saturday
    start = datetime(2026, 4, 4, 0, 0, tzinfo=SANTIAGO).timestamp()  # the Saturday Chile turns clocks back at 24:00
    [(lo, hi)] = business_spans(schedule, start, start + 2 * 86400)
    assert hi - lo == 3 * H  # 22:00 -03 to 24:00 -04 is three real hours
    assert unavailable_business_seconds(outages([Event(type="engine.stopped", ts=lo)], lo, hi), [(lo, hi)]) == 3 * H


def test_the_store_hands_availability_only_what_it_reads_and_the_outages_are_the_same(tmp_path) -> None:
    """``acd sla`` reads platform events and their predecessors, not the month's every event."""
    import asyncio

    from acd.metrics.report_availability import console_outages
    from acd.metrics.store import EventStore

    log = [
        at(-30, "engine.started"),  # before the month: the state it starts in
        at(8, "ami.connected"),
        *[at(8 + i / 100, "call.queued", call_id=f"c{i}", queue="q") for i in range(1, 150)],
        at(10, "agent.state", agent_id="a", data={"state": "available"}),  # last sign of life
        at(10.1, "console.heartbeat"),  # the console's, not the engine's
        at(10.75, "ami.connected"),  # crash: AMI of the new process first...
        at(10.8, "engine.started"),
        at(12, "engine.stopped"),
        at(12, "call.completed", call_id="c1"),  # same instant, logged after
        at(12.5, "engine.started"),
        at(13, "ami.disconnected"),
        at(13.25, "ami.connected"),
    ]

    async def body() -> list[Event]:
        async with await EventStore.open(tmp_path / "e.sqlite") as store:
            for event in log:
                store.append(event)
            await store.flush()
            return await store.availability_events(*MONTH)

    subset = asyncio.run(body())
    assert len(subset) < 16
    assert outages(subset, *MONTH) == outages(log, *MONTH)
    assert console_outages(subset, MONTH[0], MONDAY + 14 * H) == console_outages(log, MONTH[0], MONDAY + 14 * H)
    assert [(round((o.start - MONDAY) / H, 2), round((o.end - MONDAY) / H, 2)) for o in outages(subset, *MONTH)] == [
        (10, 10.8), (12, 13.25),  # stopped at 12: AMI is down too until it reconnects at 13.25
    ]
