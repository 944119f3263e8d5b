"""``acd simulate`` reports each queue with its own threshold, short-abandon limit and
formula, exactly as ``acd report --routing`` (and the live figures) would on the same events."""

from __future__ import annotations

from acd.metrics.live import report_rules
from acd.metrics.reports import compute_report
from acd.planning.sim import EventLog, ReportOptions, Scenario, constant_load, simulate, simulate_report
from tests.sim.conftest import MULTI_SKILL_YAML, config_of

HOUR = 3600.0
# billing answers within 10 s, tech within 60 s with its own short-abandon limit and formula.
ROUTING = (
    MULTI_SKILL_YAML.replace("  - name: billing\n", "  - name: billing\n    service_level: {threshold_s: 10}\n")
    .replace("    max_wait_s: 30\n", "    max_wait_s: 30\n    service_level: {threshold_s: 60}\n    short_abandon_s: 12\n    sl_formula: sl\n")
)


def scenario() -> Scenario:
    config = config_of(ROUTING)
    loads = (constant_load("billing", 80, 150, 0.0, 4 * HOUR), constant_load("tech", 50, 200, 0.0, 4 * HOUR), constant_load("general", 20, 120, 0.0, 4 * HOUR))
    return Scenario(config, loads, 0.0, 4 * HOUR, patience_s=90, answer_delay_s=2.0, seed=5)


def _report_of_the_same_events(flags: dict[str, object]) -> object:
    log = EventLog()
    simulate(scenario(), log)
    rules = report_rules(scenario().config)
    if flags:
        rules = {}
    return compute_report(log.events, 0.0, 4 * HOUR, interval="60", timezone="America/Santiago", by="queue", now=4 * HOUR, **{**rules, **flags})  # type: ignore[arg-type]


def test_simulated_report_applies_each_queues_own_rules_like_acd_report_with_the_routing_file() -> None:
    simulated = simulate_report(scenario(), ReportOptions(by="queue")).report
    assert simulated.total == _report_of_the_same_events({}).total  # type: ignore[attr-defined]
    assert [row.groups for row in simulated.rows] == [row.groups for row in _report_of_the_same_events({}).rows]  # type: ignore[attr-defined]
    one_threshold = _report_of_the_same_events({"threshold_s": 25.0})
    assert simulated.total.answered_within != one_threshold.total.answered_within  # type: ignore[attr-defined]  # the rules matter here


def test_flags_override_every_queues_rules_as_they_do_for_acd_report() -> None:
    simulated = simulate_report(scenario(), ReportOptions(by="queue", threshold_s=25.0, sl_formula="offered")).report
    flat = _report_of_the_same_events({"threshold_s": 25.0, "short_abandon_s": 5.0, "sl_formula": "offered"})
    assert simulated.total == flat.total  # type: ignore[attr-defined]
