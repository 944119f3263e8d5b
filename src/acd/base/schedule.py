"""Business hours and holidays: parsing what ops staff write, and deciding open/closed.

Hours are written per weekday (``mon-thu: 09:00-18:00``); weekday names are accepted in
English or Spanish because the people editing these files are Chilean.  A time range
includes its start and excludes its end, so ``09:00-18:00`` is open at 09:00:00 and
closed at 18:00:00; ``24:00`` means the end of the day.  A holiday wins over the hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from acd.base.holiday_calendar import parse_holiday

ScheduleState = Literal["open", "closed", "holiday"]

_DAY_NAMES: dict[str, int] = {}
for _index, _names in enumerate(
    [
        ("mon", "monday", "lun", "lunes"),
        ("tue", "tuesday", "mar", "martes"),
        ("wed", "wednesday", "mie", "mié", "miercoles", "miércoles"),
        ("thu", "thursday", "jue", "jueves"),
        ("fri", "friday", "vie", "viernes"),
        ("sat", "saturday", "sab", "sáb", "sabado", "sábado"),
        ("sun", "sunday", "dom", "domingo"),
    ]
):
    for _name in _names:
        _DAY_NAMES[_name] = _index

DAY_ABBREVIATIONS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_HELP = "mon tue wed thu fri sat sun (or lun mar mie jue vie sab dom), a range like mon-fri, or a list like mon,wed"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes since midnight, start included, end excluded (1440 = 24:00)."""

    start: int
    end: int

    def contains(self, minute_of_day: float) -> bool:
        return self.start <= minute_of_day < self.end

    def __str__(self) -> str:
        return f"{_fmt(self.start)}-{_fmt(self.end)}"


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_weekdays(spec: str) -> list[int] | str:
    """``'mon-thu'`` → [0, 1, 2, 3]; returns an error message instead when not understood."""
    days: list[int] = []
    for part in spec.replace(" ", "").lower().split(","):
        if not part:
            return f"empty weekday in '{spec}'; use {WEEKDAY_HELP}"
        ends = part.split("-")
        if len(ends) > 2:
            return f"'{part}' is not a weekday or a range of weekdays; use {WEEKDAY_HELP}"
        indices = []
        for end in ends:
            if end not in _DAY_NAMES:
                return f"unknown weekday '{end}'; use {WEEKDAY_HELP}"
            indices.append(_DAY_NAMES[end])
        if len(indices) == 1:
            days.append(indices[0])
            continue
        first, last = indices
        if last < first:
            return f"weekday range '{part}' runs backwards; write it from the earlier day, e.g. mon-fri"
        days.extend(range(first, last + 1))
    return days


def parse_time(text: str, *, is_end: bool) -> int | str:
    """``'09:30'`` → 570 minutes; an error message when it is not a valid HH:MM."""
    match = _TIME.match(text.strip())
    if match is None:
        return f"bad time '{text}': use HH:MM, e.g. 09:00"
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes == 0 and is_end:
        return 24 * 60
    if hours > 23 or minutes > 59:
        return f"bad time '{text}': hours go from 00 to 23 and minutes from 00 to 59 (24:00 only as an end)"
    return hours * 60 + minutes


def parse_ranges(text: str) -> list[TimeRange] | str:
    """``'09:00-13:00, 14:00-18:00'`` → two ranges; an error message when malformed."""
    ranges: list[TimeRange] = []
    for part in text.split(","):
        ends = part.strip().split("-")
        if len(ends) != 2:
            return f"bad hours '{part.strip()}': write a range like 09:00-18:00"
        start = parse_time(ends[0], is_end=False)
        if isinstance(start, str):
            return start
        end = parse_time(ends[1], is_end=True)
        if isinstance(end, str):
            return end
        if end <= start:
            return f"bad hours '{part.strip()}': the end must be later than the start"
        ranges.append(TimeRange(start, end))
    return ranges


class Holidays(Protocol):
    """Holiday dates: a frozenset, or a :class:`acd.base.holiday_calendar.HolidayCalendar` (any year)."""

    def __contains__(self, day: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening hours per weekday (0 = Monday) in one timezone, plus holiday dates."""

    timezone: str
    hours: tuple[tuple[TimeRange, ...], ...]  # seven entries, Monday first
    holidays: Holidays

    def state_at(self, unix_time: float) -> ScheduleState:
        local = datetime.fromtimestamp(unix_time, tz=ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return "holiday"
        minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
        if any(span.contains(minute) for span in self.hours[local.weekday()]):
            return "open"
        return "closed"

    def describe(self) -> str:
        """``mon-thu 09:00-18:00; fri 09:00-17:00 (America/Santiago)``: equal neighbours grouped."""
        parts = []
        day = 0
        while day < 7:
            last = day
            while last + 1 < 7 and self.hours[last + 1] == self.hours[day]:
                last += 1
            if self.hours[day]:
                days = DAY_ABBREVIATIONS[day] + (f"-{DAY_ABBREVIATIONS[last]}" if last > day else "")
                parts.append(f"{days} {', '.join(str(s) for s in self.hours[day])}")
            day = last + 1
        text = "; ".join(parts) or "always closed"
        if isinstance(self.holidays, frozenset):
            text += f"; {len(self.holidays)} holidays" if self.holidays else ""
        else:
            text += f"; {self.holidays.describe()}"  # type: ignore[attr-defined]
        return f"{text} ({self.timezone})"


def schedule_from_hours(hours: dict[str, str], timezone: str, holidays: Holidays = frozenset()) -> Schedule:
    """``{"mon-thu": "09:00-18:00", "fri": "09:00-17:00"}`` → Schedule (input already validated)."""
    week: list[list[TimeRange]] = [[] for _ in range(7)]
    for days, ranges in hours.items():
        parsed_days = parse_weekdays(days)
        parsed_ranges = parse_ranges(str(ranges))
        if isinstance(parsed_days, str) or isinstance(parsed_ranges, str):
            raise ValueError(parsed_days if isinstance(parsed_days, str) else parsed_ranges)
        for day in parsed_days:
            week[day].extend(parsed_ranges)
    return Schedule(timezone, tuple(tuple(sorted(day, key=lambda r: r.start)) for day in week), holidays)


__all__ = [
    "Holidays",
    "schedule_from_hours",
    "Schedule",
    "ScheduleState",
    "TimeRange",
    "WEEKDAY_HELP",
    "parse_holiday",
    "parse_ranges",
    "parse_time",
    "parse_weekdays",
]
