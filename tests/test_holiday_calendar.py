"""One holiday calendar (the `holidays` library's Chile plus local changes) for the IVR,
callback hours and the SLA: years nobody typed in are known."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.app import AppError, callback_holidays
from acd.base.holiday_calendar import CHILE, HolidayCalendar, load_holidays_file
from acd.ivr.loader import load_flow_file
from acd.metrics.sla import load_contract
from acd.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
CALENDAR = REPO / "ivr_flows" / "calendars" / "feriados-cl.yaml"
SANTIAGO = ZoneInfo("America/Santiago")


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=SANTIAGO).timestamp()


def test_the_sites_calendar_knows_2027_without_anyone_editing_it() -> None:
    calendar, problems = load_holidays_file(CALENDAR)
    assert problems == [] and isinstance(calendar, HolidayCalendar)
    assert date(2027, 1, 1) in calendar
    assert date(2027, 6, 28) in calendar and date(2027, 6, 29) not in calendar  # San Pedro y San Pablo moved to Monday by law
    assert date(2027, 9, 17) in calendar  # the extra Fiestas Patrias day of 2027
    assert "Independencia" in (calendar.name(date(2027, 9, 18)) or "")  # names in Spanish
    assert date(2027, 9, 20) not in calendar


def test_local_additions_and_removals_change_the_library_calendar(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text("country: CL\nadd:\n  2027-12-24: Cierre de fin de año\nremove: [2027-10-31]\n")
    calendar, problems = load_holidays_file(path)
    assert problems == []
    assert date(2027, 12, 24) in calendar and calendar.name(date(2027, 12, 24)) == "Cierre de fin de año"  # type: ignore[union-attr]
    assert date(2027, 10, 31) not in calendar
    assert list(calendar.in_year(2027))[-2:] == [date(2027, 12, 24), date(2027, 12, 25)]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("country: XX\n", (1, 10), "'XX' is not a country"),
        ("country: CL\nadd: {2027-02-30: x}\n", (2, 7), "no such date"),
        ("country: CL\nremove: [mañana]\n", (2, 10), "bad date"),
        ("country: CL\nlanguage: fr\n", (2, 11), "'fr' is not one of"),
        ("country: CL\nremoved: []\n", (2, 1), "unknown field"),
    ],
)
def test_a_mistake_in_the_calendar_file_is_reported_at_its_place(tmp_path: Path, text: str, where: tuple[int, int], message: str) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    calendar, problems = load_holidays_file(path)
    assert calendar is None and len(problems) == 1
    assert (problems[0].line, problems[0].column) == where and message in problems[0].message


def test_the_ivr_schedule_reads_the_same_calendar_for_any_year() -> None:
    loaded = load_flow_file(REPO / "ivr_flows" / "mesa-ayuda.yaml")
    assert not loaded.problems
    schedule = loaded.flow.nodes["horario"].schedule  # type: ignore[union-attr]
    assert schedule.state_at(at(2027, 9, 17, 10)) == "holiday"
    assert schedule.state_at(at(2027, 9, 16, 10)) == "open"
    assert schedule.state_at(at(2027, 9, 24, 17, 30)) == "closed"  # a Friday after 17:00


def test_the_sample_contract_has_the_tenders_hours_and_the_sites_calendar() -> None:
    contract = load_contract(REPO / "deploy" / "contract.yaml")
    schedule = contract.schedule()
    assert schedule.state_at(at(2027, 1, 1, 10)) == "holiday"
    assert schedule.state_at(at(2027, 1, 7, 17, 30)) == "open"  # Thursday until 18:00
    assert schedule.state_at(at(2027, 1, 8, 17, 30)) == "closed"  # Friday until 17:00
    assert schedule.state_at(at(2027, 1, 9, 10)) == "closed"  # Saturday


def test_a_contract_naming_a_broken_calendar_says_which_file(tmp_path: Path) -> None:
    (tmp_path / "cal.yaml").write_text("country: CL\nadd: 3\n")
    (tmp_path / "contract.yaml").write_text("holidays: cal.yaml\n")
    from acd.metrics.sla import ContractError

    with pytest.raises(ContractError) as caught:
        load_contract(tmp_path / "contract.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert lines[0].startswith(f"{tmp_path / 'contract.yaml'}:1:11: holidays: the calendar file cal.yaml")
    assert lines[1].startswith(f"{tmp_path / 'cal.yaml'}:2:6: add:")


def test_callbacks_keep_the_sites_calendar_or_chiles_by_default(tmp_path: Path) -> None:
    (tmp_path / "acd.yaml").write_text("routing: {}\n")
    assert callback_holidays(load_settings(tmp_path / "acd.yaml", environ={})) is CHILE
    (tmp_path / "acd.yaml").write_text(f"routing: {{holidays: {CALENDAR}}}\n")
    holidays = callback_holidays(load_settings(tmp_path / "acd.yaml", environ={}))
    assert date(2027, 6, 28) in holidays
    (tmp_path / "bad.yaml").write_text("country: ZZ\n")
    (tmp_path / "acd.yaml").write_text("routing: {holidays: bad.yaml}\n")
    with pytest.raises(AppError, match="bad.yaml:1:10: country"):
        callback_holidays(load_settings(tmp_path / "acd.yaml", environ={}))


STALE_LIST = "- 2026-09-18\n- 2026-09-19\n- 2026-12-25\n"


def test_a_list_of_dates_that_stops_this_year_warns_about_the_coming_one() -> None:
    from acd.base.holiday_calendar import coming_years, stale_calendar_warning, years_without_dates

    listed = frozenset({date(2026, 9, 18), date(2026, 12, 25)})
    assert years_without_dates(listed, coming_years(date(2026, 12, 2))) == [2027]
    assert years_without_dates(listed, coming_years(date(2026, 1, 1))) == []  # the next twelve months stay in 2026
    assert years_without_dates(CHILE, [2030]) == []  # the library knows every year
    assert years_without_dates(frozenset(), [2027]) == []  # an empty list means no holidays, on purpose
    warning = stale_calendar_warning("cal.yaml", listed, [2027])
    assert warning is not None and "cal.yaml" in warning and "2027" in warning and "country: CL" in warning


def test_acd_ivr_validate_warns_of_a_stale_list_and_still_passes(tmp_path: Path, capsys, monkeypatch) -> None:
    import acd.ivr.validate as validate
    from acd.cli import main

    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / "feriados.yaml").write_text(STALE_LIST)
    (tmp_path / "main.yaml").write_text(
        "entry: horario\nnodes:\n  horario:\n    type: schedule\n    hours: {mon-fri: 09:00-18:00}\n"
        "    holidays: calendars/feriados.yaml\n    open: fin\n    closed: fin\n  fin: {type: hangup}\n"
    )
    monkeypatch.setattr(validate, "coming_years", lambda today: [2026, 2027])
    code = main(["ivr", "validate", "--no-sounds", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning:" in err and "node 'horario'" in err and "2027" in err
    (tmp_path / "calendars" / "feriados.yaml").write_text(STALE_LIST + "- 2027-01-01\n")
    assert main(["ivr", "validate", "--no-sounds", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_engine_logs_a_stale_callback_calendar(tmp_path: Path, caplog, monkeypatch) -> None:
    import acd.app as app

    (tmp_path / "cal.yaml").write_text(STALE_LIST)
    (tmp_path / "acd.yaml").write_text("routing: {holidays: cal.yaml}\n")
    monkeypatch.setattr(app, "coming_years", lambda today: [2026, 2027])
    with caplog.at_level("WARNING", logger="acd.app"):
        callback_holidays(load_settings(tmp_path / "acd.yaml", environ={}))
    assert any("routing.holidays" in record.getMessage() and "2027" in record.getMessage() for record in caplog.records)
