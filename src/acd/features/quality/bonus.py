"""The month's quality figure for the contract's bonus, as ``acd sla``, ``acd quality`` and the console show it.

One function, so the three agree: the grades of the calls made in the month (contract
timezone), the counting grade per call (:func:`~acd.features.quality.grades.current`),
their mean against the target of that contract month (``quality.bonus_targets``), and
the same per agent and per team (the routing file's ``team:`` of each agent).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from acd.features.quality.grades import GradeError, GradeStore, MonthQuality, bonus_target, month_quality
from acd.routing import load_routing_config
from acd.settings import Settings


def targets_of(settings: Settings) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(value)) for value in settings.quality.bonus_targets)


def teams_of(settings: Settings) -> dict[str, str]:
    """Agent id -> team, from the routing file's ``team:`` (none, or an unreadable file: no teams)."""
    config, _problems = load_routing_config(settings.resolve(settings.routing.config), settings.limits.yaml())
    return {agent.id: agent.team for agent in config.agents if agent.team} if config is not None else {}


def quality_of_month(settings: Settings, start: float, end: float, contract_month: int | None) -> MonthQuality:
    """The month ``[start, end)``; no grades file yet: nothing graded (the bonus not met)."""
    target = bonus_target(contract_month, targets_of(settings))
    try:
        store = GradeStore.from_settings(settings, create=False)
    except GradeError:
        return month_quality([], target)
    return month_quality(store.between(start, end), target, teams_of(settings))


def quality_dict(quality: MonthQuality, contract_month: int | None) -> dict[str, Any]:
    return {
        "contract_month": contract_month,
        "graded_calls": quality.calls,
        "average_score": None if quality.average is None else float(quality.average),
        "target": float(quality.target),
        "met": quality.met,
        "agents": [
            {"agent": a.agent, "graded_calls": a.calls, "average_score": float(a.average), "critical_failed": a.critical_failed}
            for a in quality.agents
        ],
        "teams": [
            {"team": t.agent, "graded_calls": t.calls, "average_score": float(t.average), "critical_failed": t.critical_failed}
            for t in quality.teams
        ],
    }


def quality_text(quality: MonthQuality) -> str:
    if quality.average is None:
        return f"quality bonus: no graded calls this month (target {quality.target} %): not met\n"
    verdict = "met" if quality.met else "not met"
    return f"quality bonus: {quality.average} % over {quality.calls} graded calls (target {quality.target} %): {verdict}\n"
