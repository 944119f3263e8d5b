"""The helper that keeps tests on the real clock from straddling local midnight or a quarter hour (tests.wall_clock)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.wall_clock import CENTRE_TZ, clear_of_local_midnight, clear_of_quarter_hour, seconds_to_local_midnight

TZ = ZoneInfo(CENTRE_TZ)


def at(*fields: int, fold: int = 0) -> float:
    return datetime(*fields, tzinfo=TZ, fold=fold).timestamp()  # type: ignore[misc]


def test_a_test_waits_only_when_it_could_straddle_local_midnight() -> None:
    assert clear_of_local_midnight(10, now=at(2026, 12, 4, 12, 0)) == 0.0
    assert clear_of_local_midnight(10, now=at(2026, 12, 4, 23, 59, 55)) == 6.0  # 5 s to midnight, then 1 s into the new day
    assert clear_of_local_midnight(10, now=at(2026, 12, 4, 23, 59, 49)) == 0.0  # ends before midnight
    assert clear_of_local_midnight(10, now=at(2026, 12, 5, 0, 0, 1)) == 0.0  # starts after it


def test_midnight_is_found_across_chiles_clock_changes() -> None:
    # 5 September 2026 ends at 00:00 -04, which is 01:00 -03: the next day has no midnight
    assert seconds_to_local_midnight(at(2026, 9, 5, 23, 59)) == 60.0
    # 4 April 2026 lasts 25 hours: 23:00 comes twice, at -03 and then at -04
    assert seconds_to_local_midnight(at(2026, 4, 4, 23, 0)) == 2 * 3600.0
    assert seconds_to_local_midnight(at(2026, 4, 4, 23, 0, fold=1)) == 3600.0


def test_a_test_on_the_live_figures_waits_out_the_end_of_a_quarter_hour() -> None:
    assert clear_of_quarter_hour(5, now=at(2026, 12, 4, 15, 14, 58)) == 3.0  # 2 s to 15:15, then 1 s into it
    assert clear_of_quarter_hour(5, now=at(2026, 12, 4, 15, 15, 0)) == 0.0
    assert clear_of_quarter_hour(5, now=at(2026, 12, 4, 23, 59, 57)) == 4.0  # midnight is a quarter hour too
