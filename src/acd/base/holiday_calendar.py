"""One holiday calendar for the IVR's schedules, callback hours and the contract's SLA.

Hand-kept lists of holidays go stale: on 1 January of a year nobody typed in, the IVR
opens on a public holiday and the SLA counts a business day.  So the calendar file names
a country, and the public holidays of *every* year come from the maintained ``holidays``
library (Chile's moving holidays — San Pedro y San Pablo, Encuentro de Dos Mundos, the
extra Fiestas Patrias days fixed by law — included); the file only says what differs
locally::

    country: CL          # public holidays from the `holidays` library, any year
    language: es         # names as the library spells them in Spanish
    add:                 # local closures: date: name
      2026-12-24: Cierre de fin de año
    remove: [2027-10-31] # library holidays the service works anyway

A file that is only a list of dates (or ``date: name`` pairs), the older form, is still
read: those dates and nothing else.

The calendar answers ``day in calendar`` like the frozenset of dates it replaces, so a
:class:`~acd.base.schedule.Schedule` holds either.  It sits in ``acd.base``, below ``ivr``,
``routing`` and ``metrics`` (it imports only ``yamlpos``) so all three can share it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

import holidays as holiday_library

from acd.yamlpos import DEFAULT_LIMITS, PositionedDocument, Problem, YamlLimits, load_yaml_file

_KEYS = ("country", "subdivision", "language", "add", "remove")


@functools.lru_cache(maxsize=16)
def _library(country: str, subdivision: str | None, language: str | None) -> Any:
    """The library's calendar; it computes each year the first time a date of it is asked."""
    return holiday_library.country_holidays(country, subdiv=subdivision, language=language)


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays of ``country`` (any year), plus ``added``, minus ``removed``."""

    country: str
    subdivision: str | None = None
    language: str | None = None
    added: tuple[tuple[date, str], ...] = ()
    removed: frozenset[date] = frozenset()

    def __contains__(self, day: object) -> bool:
        if isinstance(day, datetime):
            day = day.date()
        if not isinstance(day, date):
            return False
        if any(day == extra for extra, _ in self.added):
            return True
        return day not in self.removed and day in _library(self.country, self.subdivision, self.language)

    def name(self, day: date) -> str | None:
        for extra, label in self.added:
            if extra == day:
                return label
        if day in self.removed:
            return None
        return _library(self.country, self.subdivision, self.language).get(day)

    def in_year(self, year: int) -> dict[date, str]:
        """Every holiday of ``year``, in date order, with its name."""
        library = holiday_library.country_holidays(self.country, subdiv=self.subdivision, language=self.language, years=year)
        days = {day: str(label) for day, label in library.items() if day not in self.removed}
        days.update({day: label for day, label in self.added if day.year == year})
        return dict(sorted(days.items()))

    def describe(self) -> str:
        local = f", {len(self.added)} added, {len(self.removed)} removed" if self.added or self.removed else ""
        return f"public holidays of {self.country}{'-' + self.subdivision if self.subdivision else ''}{local}"


def parse_holiday(value: object) -> date | str:
    """A holiday as written: a YAML date or 'YYYY-MM-DD' text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            if re.match(r"^\d{4}-\d{2}-\d{2}$", value.strip()):
                return f"no such date '{value}' in the calendar"
            return f"bad date '{value}': use YYYY-MM-DD, e.g. 2025-09-18"
    return f"bad date {value!r}: use YYYY-MM-DD, e.g. 2025-09-18"


CHILE = HolidayCalendar("CL", language="es")  # the help line's default: the tender closes on them


def is_calendar_mapping(data: Any) -> bool:
    """A file in the calendar form (``country:`` ...) rather than a bare list of dates."""
    return isinstance(data, dict) and "country" in data


def parse_calendar(doc: PositionedDocument) -> tuple[HolidayCalendar | None, list[Problem]]:
    """Build a calendar from a loaded ``country:`` document; every mistake positioned."""
    data: dict[str, Any] = doc.data
    problems: list[Problem] = []
    for key in data:
        if key not in _KEYS:
            problems.append(doc.problem((key,), f"{key}: unknown field (expected one of {', '.join(_KEYS)})", key=True))
    country = data.get("country")
    subdivision = data.get("subdivision")
    language = data.get("language")
    if not isinstance(country, str) or country.upper() not in holiday_library.list_supported_countries():
        problems.append(doc.problem(("country",), f"country: {country!r} is not a country the holidays library knows (e.g. CL)"))
        return None, problems
    country = country.upper()
    supported = holiday_library.list_supported_countries()[country]
    if subdivision is not None and subdivision not in supported:
        problems.append(doc.problem(("subdivision",), f"subdivision: {subdivision!r} is not one of {', '.join(supported)}"))
    languages = getattr(holiday_library.country_holidays(country), "supported_languages", ())
    if language is not None and language not in languages:
        problems.append(doc.problem(("language",), f"language: {language!r} is not one of {', '.join(languages)}"))
    added: list[tuple[date, str]] = []
    raw_added = data.get("add") or {}
    if isinstance(raw_added, list):
        raw_added = {item: "" for item in raw_added}
    if not isinstance(raw_added, dict):
        problems.append(doc.problem(("add",), "add: expected a mapping of date: name (2026-12-24: Cierre)"))
        raw_added = {}
    for key, label in raw_added.items():
        parsed = parse_holiday(key)
        if isinstance(parsed, str):
            problems.append(doc.problem(("add", key), f"add: {parsed}", key=True))
        else:
            added.append((parsed, str(label or "feriado local")))
    removed: set[date] = set()
    raw_removed = data.get("remove") or []
    if not isinstance(raw_removed, list):
        problems.append(doc.problem(("remove",), "remove: expected a list of dates"))
        raw_removed = []
    for index, item in enumerate(raw_removed):
        parsed = parse_holiday(item)
        if isinstance(parsed, str):
            problems.append(doc.problem(("remove", index), f"remove: {parsed}"))
        else:
            removed.add(parsed)
    if problems:
        return None, problems
    return HolidayCalendar(country, subdivision, language, tuple(sorted(added)), frozenset(removed)), []


def holidays_from_document(doc: PositionedDocument) -> tuple[HolidayCalendar | frozenset[date] | None, list[Problem]]:
    """A loaded holiday file in either form: a ``country:`` calendar, or dates (a list, or ``date: name``)."""
    data = doc.data
    if is_calendar_mapping(data):
        return parse_calendar(doc)
    days: set[date] = set()
    problems: list[Problem] = []
    if isinstance(data, dict):
        for key in data:
            parsed = parse_holiday(key)
            if isinstance(parsed, str):
                problems.append(doc.problem((key,), parsed, key=True))
            else:
                days.add(parsed)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            parsed = parse_holiday(item)
            if isinstance(parsed, str):
                problems.append(doc.problem((index,), parsed))
            else:
                days.add(parsed)
    elif data is not None:
        message = "a holiday file is country: CL (with add:/remove:), a list of dates (- 2025-09-18) or a mapping (2025-09-18: Fiestas Patrias)"
        problems.append(doc.problem((), message))
    return frozenset(days), problems


def coming_years(today: date) -> list[int]:
    """The calendar years the next twelve months touch."""
    return sorted({today.year, (today + timedelta(days=364)).year})


def years_without_dates(holidays: object, years: Iterable[int]) -> list[int]:
    """Those of ``years`` in which a list of dates names no holiday.

    A ``country:`` calendar knows every year, and an empty list says "no holidays" on
    purpose; a non-empty list that stops at this year is the stale hand-kept calendar this
    module exists to retire: on 1 January the IVR would open on every public holiday and
    the SLA would count them as business days.  So that case is worth a warning.
    """
    if not isinstance(holidays, frozenset) or not holidays:
        return []
    return sorted(year for year in set(years) if not any(day.year == year for day in holidays))


def stale_calendar_warning(where: str, holidays: object, years: Iterable[int]) -> str | None:
    """One line naming ``where`` and the uncovered years, or None when the calendar covers them."""
    missing = years_without_dates(holidays, years)
    if not missing:
        return None
    listed = " and ".join(str(year) for year in missing)
    return (
        f"{where}: the holiday list names no date in {listed}; those days would count as working days. "
        "Write 'country: CL' in the calendar file (public holidays of every year) or add the dates"
    )


def load_holidays_file(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[HolidayCalendar | frozenset[date] | None, list[Problem]]:
    """Read a holiday file (callback hours, the SLA contract); None with the problems when it is wrong.

    Only ``.yaml``/``.yml`` files, read under ``limits``: a contract or settings file naming
    some other file must not make ``acd sla`` quote it.
    """
    if Path(path).suffix not in (".yaml", ".yml"):
        return None, [Problem(str(path), 1, 1, "a holiday calendar is a .yaml file (e.g. calendars/feriados-cl.yaml)")]
    doc, problems = load_yaml_file(path, limits)
    if doc is None or problems:
        return None, problems
    holidays, problems = holidays_from_document(doc)
    return (None, problems) if problems else (holidays, [])
