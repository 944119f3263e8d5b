"""Business hours in America/Santiago: boundaries, weekdays, holidays, daylight saving."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from acd.ivr.model import ScheduleNode
from acd.base.schedule import parse_ranges, parse_time, parse_weekdays
from acd.ivr.testing import EventRecorder, FakeClock, ScriptedChannel
from acd.ivr.runner import FlowRunner
from acd.ivr.validate import validate_paths

from .conftest import SANTIAGO, flow_from, write

FLOW = """
entry: horario
nodes:
  horario:
    type: schedule
    hours:
      mon-thu: 09:00-18:00
      fri: 09:00-17:00
    holidays: calendars/feriados.yaml
    open: abierto
    closed: cerrado
    holiday: feriado
  abierto:
    type: hangup
  cerrado:
    type: hangup
  feriado:
    type: hangup
"""


@pytest.fixture
def schedule_node(tmp_path: Path) -> ScheduleNode:
    write(tmp_path, "calendars/feriados.yaml", "2025-09-18: Independencia Nacional\n2025-09-19: Glorias del Ejército\n")
    node = flow_from(tmp_path, FLOW).nodes["horario"]
    assert isinstance(node, ScheduleNode)
    return node


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=SANTIAGO).timestamp()


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (at(2025, 3, 3, 8, 59, 59), "closed"),  # Monday just before opening
        (at(2025, 3, 3, 9, 0, 0), "open"),  # opening minute is open
        (at(2025, 3, 6, 17, 59, 59), "open"),  # Thursday last second
        (at(2025, 3, 6, 18, 0, 0), "closed"),  # closing minute is closed
        (at(2025, 3, 7, 16, 59, 59), "open"),  # Friday closes earlier
        (at(2025, 3, 7, 17, 0, 0), "closed"),
        (at(2025, 3, 8, 11, 0, 0), "closed"),  # Saturday not listed
        (at(2025, 3, 9, 11, 0, 0), "closed"),  # Sunday not listed
        (at(2025, 9, 18, 11, 0, 0), "holiday"),  # Thursday, but a holiday
        (at(2025, 9, 19, 0, 0, 0), "holiday"),  # holiday from local midnight
        (at(2025, 9, 17, 23, 59, 59), "closed"),  # the evening before
    ],
)
def test_schedule_state_at_boundaries(schedule_node: ScheduleNode, moment: float, state: str) -> None:
    assert schedule_node.schedule.state_at(moment) == state


def test_schedule_uses_local_time_across_daylight_saving_change(schedule_node: ScheduleNode) -> None:
    # Chile: UTC-3 in summer, UTC-4 in winter; 09:30 local is open in both seasons.
    assert schedule_node.schedule.state_at(at(2025, 1, 7, 9, 30)) == "open"
    assert schedule_node.schedule.state_at(at(2025, 7, 8, 9, 30)) == "open"
    assert schedule_node.schedule.state_at(at(2025, 7, 8, 8, 30)) == "closed"


async def test_schedule_node_routes_with_the_injected_clock(tmp_path: Path) -> None:
    write(tmp_path, "calendars/feriados.yaml", "- 2025-09-18\n")
    flow = flow_from(tmp_path, FLOW)
    outcomes = {}
    for label, moment in {"open": at(2025, 3, 4, 10), "closed": at(2025, 3, 4, 20), "holiday": at(2025, 9, 18, 10)}.items():
        clock = FakeClock(moment)
        events = EventRecorder()
        result = await FlowRunner(emit=events, clock=clock).run(flow, ScriptedChannel(clock=clock))
        outcomes[label] = result.last_node
        assert events.of("ivr.node")[0].ts == moment
    assert outcomes == {"open": "abierto", "closed": "cerrado", "holiday": "feriado"}


def test_weekday_names_in_english_spanish_ranges_and_lists() -> None:
    assert parse_weekdays("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_weekdays("lun-jue") == [0, 1, 2, 3]
    assert parse_weekdays("sáb,dom") == [5, 6]
    assert parse_weekdays("Friday") == [4]
    assert isinstance(parse_weekdays("fri-mon"), str)
    assert isinstance(parse_weekdays("mon-"), str)


def test_time_ranges_accept_24_00_only_as_an_end() -> None:
    assert parse_time("24:00", is_end=True) == 1440
    assert isinstance(parse_time("24:00", is_end=False), str)
    assert isinstance(parse_time("12:60", is_end=False), str)
    assert isinstance(parse_time("9", is_end=False), str)
    assert [str(r) for r in parse_ranges("09:00-13:00, 14:00-24:00")] == ["09:00-13:00", "14:00-24:00"]  # type: ignore[union-attr]
    assert isinstance(parse_ranges("18:00-09:00"), str)


def test_holiday_file_problems_point_into_the_holiday_file(tmp_path: Path) -> None:
    write(tmp_path, "calendars/feriados.yaml", "2025-09-18: ok\n2025-02-30: no existe\nmañana: tampoco\n")
    write(tmp_path, "flow.yaml", FLOW)
    holiday_file = tmp_path / "calendars" / "feriados.yaml"
    assert [str(p) for p in validate_paths([tmp_path]).problems] == [
        f"{holiday_file}:2:1: no such date '2025-02-30' in the calendar",
        f"{holiday_file}:3:1: bad date 'mañana': use YYYY-MM-DD, e.g. 2025-09-18",
    ]


def test_impossible_date_in_a_holiday_list_is_a_positioned_problem(tmp_path: Path) -> None:
    write(tmp_path, "calendars/feriados.yaml", "- 2025-09-18\n- 2025-02-30\n")
    write(tmp_path, "flow.yaml", FLOW)
    holiday_file = tmp_path / "calendars" / "feriados.yaml"
    assert [str(p) for p in validate_paths([tmp_path]).problems] == [
        f"{holiday_file}:2:3: no such date '2025-02-30' in the calendar"
    ]


def test_missing_holiday_file_points_at_the_holidays_value(tmp_path: Path) -> None:
    write(tmp_path, "flow.yaml", FLOW)
    report = validate_paths([tmp_path])
    expected = tmp_path / "calendars" / "feriados.yaml"
    assert [str(p) for p in report.problems] == [
        f"{tmp_path / 'flow.yaml'}:8:15: nodes.horario.holidays: holiday file 'calendars/feriados.yaml' not found (looked for {expected})"
    ]


def test_inline_holiday_list_is_accepted(tmp_path: Path) -> None:
    flow = flow_from(tmp_path, FLOW.replace("holidays: calendars/feriados.yaml", "holidays: [2025-12-25, '2026-01-01']"))
    node = flow.nodes["horario"]
    assert isinstance(node, ScheduleNode)
    assert node.schedule.holidays == frozenset({date(2025, 12, 25), date(2026, 1, 1)})
