"""Contract SLA compliance and penalties for one calendar month.

The tender sets, per month of the contract (month 1 = the month the contract starts):

* months 1-2: service level >= 65 % (answered within 25 s) and abandonment <= 10 %;
* month 3 onward: service level >= 75 % and abandonment <= 5 %;
* penalty 0.5 UF per tenth of a percentage point of service-level shortfall and 1 UF
  per tenth of a point of abandonment excess, without cap;
* less than 1 business hour of service unavailability per month, 2 UF per whole
  business hour without service;
* reports available at least 95 % of the hours, 1 UF per whole percentage point short
  (measured from the web console's heartbeats: ``acd.metrics.report_availability``).

Service level and abandonment use the report definitions (``acd.metrics.reports``):
answered_within_25s / (offered - short_abandons) and
(abandoned - short_abandons) / (offered - short_abandons), over every queue, for
calls offered in the month (local time of the contract's timezone).

**Rounding rule (decided here, applied once):** the measured percentage is computed
exactly (as a fraction) and rounded **half-up to one decimal** — the precision in
which the contract states its targets and in which the monthly figure is reported to
the client.  Shortfall and excess are then whole tenths: 74.93 % rounds to 74.9 %, one
tenth short of 75 % → 0.5 UF; 74.95 % rounds to 75.0 % → no penalty; abandonment
5.04 % → 5.0 % → none; 5.05 % → 5.1 % → 1 tenth → 1 UF.  Rationale: the party checking
the invoice recomputes the published one-decimal figure, so a penalty must follow from
that figure alone, and half-up is the usual rounding in Chilean public procurement.
All arithmetic is integer/``Decimal``: no binary floating point touches a penalty.

Everything is configurable through a contract file (``--contract FILE``), see
``Contract``.  Business hours default to the tender's (Monday-Thursday 09:00-18:00,
Friday 09:00-17:00) and holidays to Chile's public holidays of any year
(:mod:`acd.base.holiday_calendar`); a contract file may name the site's calendar file
(``holidays: ../ivr_flows/calendars/feriados-cl.yaml``), the one the IVR reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from acd.base.holiday_calendar import CHILE, HolidayCalendar, load_holidays_file
from acd.base.schedule import Holidays, Schedule, TimeRange, parse_holiday, parse_ranges, parse_weekdays
from acd.metrics.downtime import Outage, business_spans, outages, unavailable_business_seconds
from acd.metrics.report_availability import ReportAvailability, console_outages
from acd.base.events import Event
from acd.metrics.reports import Figures, Report, compute_report, round_half_up
from acd.metrics.store import Incident
from acd.metrics.timeutil import DEFAULT_TIMEZONE, TimeInputError, month_start, next_month, parse_month, zone
from acd.yamlpos import DEFAULT_LIMITS, Problem, YamlLimits, load_yaml_file, pydantic_problems


class Tier(BaseModel):
    """Targets for contract months ``from_month`` .. ``to_month`` (open-ended when None)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    from_month: int = Field(ge=1, le=1200)
    to_month: int | None = Field(None, ge=1, le=1200)
    service_level_min: Decimal = Field(ge=0, le=100, description="percent")
    abandonment_max: Decimal = Field(ge=0, le=100, description="percent")

    @field_validator("service_level_min", "abandonment_max")
    @classmethod
    def _tenths(cls, value: Decimal) -> Decimal:
        if (value * 10) % 1 != 0:
            raise ValueError("a target must be a whole number of tenths of a point, e.g. 75 or 74.5")
        return value


TENDER_HOURS = {"mon-thu": "09:00-18:00", "fri": "09:00-17:00"}  # calls and callbacks alike

DEFAULT_TIERS = (
    Tier(from_month=1, to_month=2, service_level_min=Decimal("65"), abandonment_max=Decimal("10")),
    Tier(from_month=3, to_month=None, service_level_min=Decimal("75"), abandonment_max=Decimal("5")),
)


class Contract(BaseModel):
    """The contract's service levels and penalties; every field has the tender's default."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, arbitrary_types_allowed=True)

    start: str | None = Field(None, description="first month of the contract, YYYY-MM")
    timezone: str = DEFAULT_TIMEZONE
    threshold_s: float = Field(25.0, gt=0, le=3600)
    short_abandon_s: float = Field(5.0, ge=0, le=3600)
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    penalty_uf_per_tenth_service_level: Decimal = Field(Decimal("0.5"), ge=0, le=10_000)
    penalty_uf_per_tenth_abandonment: Decimal = Field(Decimal("1"), ge=0, le=10_000)
    unavailable_max_hours: Decimal = Field(Decimal("1"), ge=0, le=744, description="hours per month (a month has at most 744)")
    penalty_uf_per_unavailable_hour: Decimal = Field(Decimal("2"), ge=0, le=10_000, description="per whole business hour without service")
    report_availability_min: Decimal = Field(Decimal("95"), ge=0, le=100, description="percent of the hours reports must be available")
    penalty_uf_per_report_availability_point: Decimal = Field(Decimal("1"), ge=0, le=10_000, description="per whole percentage point short")
    business_hours: dict[str, str] = Field(default_factory=lambda: dict(TENDER_HOURS))
    holidays: tuple[date, ...] | str | None = Field(
        None, description="dates ([] for none), or a holiday calendar file relative to the contract file; unset: Chile's public holidays"
    )
    calendar: HolidayCalendar | frozenset[date] | None = Field(None, exclude=True, description="the calendar file's contents, set by load_contract")

    @field_validator("start")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_month(value)
            except TimeInputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except TimeInputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: object) -> object:
        if isinstance(value, str):
            return value  # a calendar file: read by load_contract, which knows the folder
        if not isinstance(value, (list, tuple)):
            return value
        parsed = [parse_holiday(item) for item in value]
        for item in parsed:
            if isinstance(item, str):
                raise ValueError(item)
        return parsed

    @model_validator(mode="after")
    def _check(self) -> "Contract":
        if not self.tiers or self.tiers[0].from_month != 1:
            raise ValueError("tiers must start at from_month 1")
        for before, after in zip(self.tiers, self.tiers[1:]):
            if before.to_month is None or after.from_month != before.to_month + 1:
                raise ValueError("tiers must follow each other without gaps or overlaps")
        if self.tiers[-1].to_month is not None:
            raise ValueError("the last tier must be open-ended (no to_month)")
        self.schedule()  # validates business_hours
        return self

    def tier(self, contract_month: int | None) -> Tier:
        """Targets for a contract month; without a contract start, the steady-state (last) tier."""
        if contract_month is None:
            return self.tiers[-1]
        for tier in self.tiers:
            if tier.from_month <= contract_month and (tier.to_month is None or contract_month <= tier.to_month):
                return tier
        return self.tiers[-1]

    def schedule(self) -> Schedule:
        hours: list[list[TimeRange]] = [[] for _ in range(7)]
        for days_spec, ranges_spec in self.business_hours.items():
            days = parse_weekdays(days_spec)
            if isinstance(days, str):
                raise ValueError(f"business_hours: {days}")
            ranges = parse_ranges(ranges_spec)
            if isinstance(ranges, str):
                raise ValueError(f"business_hours: {ranges}")
            for day in days:
                hours[day].extend(ranges)
        return Schedule(self.timezone, tuple(tuple(sorted(h, key=lambda r: r.start)) for h in hours), self.holiday_set())

    def holiday_set(self) -> Holidays:
        """The calendar file's holidays, else the dates listed, else Chile's public holidays."""
        if self.calendar is not None:
            return self.calendar
        if isinstance(self.holidays, tuple):
            return frozenset(self.holidays)
        return CHILE


class ContractError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def load_contract(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> Contract:
    doc, problems = load_yaml_file(path, limits)
    if problems or doc is None:
        raise ContractError(problems)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ContractError([doc.problem((), "a contract file must be a mapping (start:, tiers:, ...)")])
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(pydantic_problems(doc, exc)) from None
    if isinstance(contract.holidays, str):
        calendar, problems = load_holidays_file(Path(path).parent / contract.holidays, limits)
        if calendar is None:
            raise ContractError([doc.problem(("holidays",), f"holidays: the calendar file {contract.holidays} has problems"), *problems])
        contract = contract.model_copy(update={"calendar": calendar})
    return contract


def contract_month(year: int, month: int, start: str | None) -> int | None:
    """1 for the contract's first month; None without a start; raises for a month before it."""
    if start is None:
        return None
    start_year, start_month = parse_month(start)
    index = (year - start_year) * 12 + (month - start_month) + 1
    if index < 1:
        raise TimeInputError(f"{year:04d}-{month:02d} is before the contract start {start}")
    return index


def tenths_half_up(value: Fraction) -> int:
    """A percentage in whole tenths of a point, rounded half-up: 74.95 → 750, 74.9499 → 749."""
    scaled = value * 10
    return int((scaled + Fraction(1, 2)) // 1)


@dataclass(frozen=True, slots=True)
class SlaResult:
    month: str
    contract_start: str | None
    contract_month: int | None
    start: float
    end: float
    partial: bool
    tier: Tier
    contract: Contract
    figures: Figures
    service_level: Decimal | None  # one decimal, half-up
    abandonment_rate: Decimal | None
    service_level_shortfall_tenths: int
    abandonment_excess_tenths: int
    penalty_service_level_uf: Decimal
    penalty_abandonment_uf: Decimal
    outages: list[Outage]
    unavailable_seconds: float
    incidents: list[Incident]
    reports: ReportAvailability

    @property
    def penalty_uf(self) -> Decimal:
        return (
            self.penalty_service_level_uf
            + self.penalty_abandonment_uf
            + self.penalty_unavailability_uf
            + self.penalty_report_availability_uf
        )

    @property
    def report_availability(self) -> Decimal | None:
        """Percent of the measured hours the console served reports, one decimal half-up; None: not measured."""
        fraction = self.reports.fraction
        return None if fraction is None else Decimal(tenths_half_up(fraction * 100)).scaleb(-1)

    @property
    def report_availability_shortfall_points(self) -> int:
        """Whole percentage points under the target (half a point short is no point short)."""
        if self.report_availability is None:
            return 0
        return int(max(Decimal(0), self.contract.report_availability_min - self.report_availability) // 1)

    @property
    def penalty_report_availability_uf(self) -> Decimal:
        return self.contract.penalty_uf_per_report_availability_point * self.report_availability_shortfall_points

    @property
    def report_availability_met(self) -> bool | None:
        return None if self.report_availability is None else self.report_availability >= self.contract.report_availability_min

    @property
    def unavailable_whole_hours(self) -> int:
        """Whole business hours without service: the fined unit (90 minutes → 1 hour).

        The tender fines "2 UF por cada hora hábil en donde el servicio no se encuentre
        disponible" against a target of "inferior a 1 hora hábil": counting whole hours
        keeps the two consistent — a month that meets the target (< 1 h) owes nothing, and
        a part of an hour is not an hour without service.
        """
        return int(Fraction(self.unavailable_seconds) // 3600)

    @property
    def penalty_unavailability_uf(self) -> Decimal:
        return self.contract.penalty_uf_per_unavailable_hour * self.unavailable_whole_hours

    @property
    def unavailable_hours(self) -> Decimal:
        return round_half_up(Fraction(self.unavailable_seconds) / 3600, 2) or Decimal("0.00")

    @property
    def service_level_met(self) -> bool | None:
        return None if self.service_level is None else self.service_level_shortfall_tenths == 0

    @property
    def abandonment_met(self) -> bool | None:
        return None if self.abandonment_rate is None else self.abandonment_excess_tenths == 0

    @property
    def availability_met(self) -> bool:
        return Fraction(self.unavailable_seconds) < Fraction(self.contract.unavailable_max_hours) * 3600


def month_range(year: int, month: int, timezone: str) -> tuple[float, float]:
    tz = zone(timezone)
    return month_start(year, month, tz), month_start(*next_month(year, month), tz)


def sla_report_options(contract: Contract, interval: str = "month") -> dict[str, object]:
    """The report options the contract's figures are computed with."""
    return {
        "interval": interval,
        "timezone": contract.timezone,
        "threshold_s": contract.threshold_s,
        "short_abandon_s": contract.short_abandon_s,
    }


def evaluate_month(
    events: Iterable[Event],
    year: int,
    month: int,
    contract: Contract = Contract(),
    *,
    contract_start: str | None = None,
    now: float | None = None,
    incidents: Iterable[Incident] = (),
    report: Report | None = None,
) -> SlaResult:
    """Service level, abandonment, penalties and unavailability of one month.

    ``report``: the month's report (interval ``month``, the contract's timezone and
    thresholds; see :func:`sla_report_options`) already computed, e.g. from stored cells
    (``acd.metrics.aggregates``); ``events`` then need only hold what availability reads
    (``EventStore.availability_events``)."""
    start_month = contract_start if contract_start is not None else contract.start
    index = contract_month(year, month, start_month)
    tier = contract.tier(index)
    start, end = month_range(year, month, contract.timezone)
    events = list(events)
    if report is None:
        report = compute_report(events, start, end, now=now, **sla_report_options(contract))
    figures = report.total
    sl_exact, ab_exact = figures.sl_offered, figures.abandonment_rate
    sl_tenths = tenths_half_up(sl_exact) if sl_exact is not None else None
    ab_tenths = tenths_half_up(ab_exact) if ab_exact is not None else None
    shortfall = max(0, int(tier.service_level_min * 10) - sl_tenths) if sl_tenths is not None else 0
    excess = max(0, ab_tenths - int(tier.abandonment_max * 10)) if ab_tenths is not None else 0
    until = end if now is None else min(end, now)
    down = outages(events, start, until)
    seconds = unavailable_business_seconds(down, business_spans(contract.schedule(), start, until))
    return SlaResult(
        month=f"{year:04d}-{month:02d}",
        contract_start=start_month,
        contract_month=index,
        start=start,
        end=end,
        partial=now is not None and now < end,
        tier=tier,
        contract=contract,
        figures=figures,
        service_level=None if sl_tenths is None else Decimal(sl_tenths).scaleb(-1),
        abandonment_rate=None if ab_tenths is None else Decimal(ab_tenths).scaleb(-1),
        service_level_shortfall_tenths=shortfall,
        abandonment_excess_tenths=excess,
        penalty_service_level_uf=contract.penalty_uf_per_tenth_service_level * shortfall,
        penalty_abandonment_uf=contract.penalty_uf_per_tenth_abandonment * excess,
        outages=down,
        unavailable_seconds=seconds,
        incidents=[i for i in incidents if i.overlaps(start, end)],
        reports=console_outages(events, start, until),
    )


__all__ = [
    "Contract",
    "ContractError",
    "SlaResult",
    "Tier",
    "contract_month",
    "evaluate_month",
    "load_contract",
    "month_range",
    "sla_report_options",
    "tenths_half_up",
]
