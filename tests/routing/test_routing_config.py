"""routing.yaml validation: good files load, every mistake is reported at its exact position."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.routing import DEFAULT_SL_FORMULA, load_routing_config, load_routing_text

REPO = Path(__file__).resolve().parents[2]


def problems(text: str) -> list[str]:
    config, found = load_routing_text(text, "routing.yaml")
    assert (config is None) == bool(found)
    return [str(problem) for problem in found]


def test_example_config_loads_without_problems() -> None:
    config, found = load_routing_config(REPO / "deploy" / "routing.example.yaml")
    assert found == []
    assert config is not None
    assert {queue.name for queue in config.queues} == {"billing", "tech", "sales", "billing-english", "general"}
    assert config.eligible_agents(config.queue("billing-english")) == {"ana": 7, "carla": 4}  # type: ignore[arg-type]


def test_help_line_config_serves_every_queue_the_sample_flows_hand_calls_to() -> None:
    config, found = load_routing_config(REPO / "deploy" / "routing.yaml")
    assert found == [] and config is not None
    assert {queue.name for queue in config.queues} == {"compradores", "proveedores", "general"}
    assert config.eligible_agents(config.queue("compradores")) == {"ana": 9, "carla": 4, "elena": 6, "felipe": 2}  # type: ignore[arg-type]


def test_defaults_follow_the_documented_values() -> None:
    config, found = load_routing_text("skills: [a]\nqueues:\n  - {name: q, skills: [a]}\n")
    assert found == [] and config is not None
    queue = config.queues[0]
    assert queue.service_level.threshold_s == 25
    assert queue.service_level.target == 0.75
    assert queue.short_abandon_s == 5
    assert queue.sl_formula == DEFAULT_SL_FORMULA
    assert config.timezone == "America/Santiago"


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    config, found = load_routing_config(tmp_path / "nope.yaml")
    assert config is None
    assert [str(problem) for problem in found] == [f"{tmp_path / 'nope.yaml'}:1:1: file not found"]


def test_unknown_skill_in_queue_points_at_the_list_item() -> None:
    text = """\
skills: [billing]
queues:
  - name: billing
    skills: [billing, spanish]
"""
    assert problems(text) == ["routing.yaml:4:23: queue 'billing': unknown skill 'spanish'"]


def test_unknown_skill_in_agent_points_at_the_key() -> None:
    text = """\
skills: [billing]
queues:
  - {name: billing, skills: [billing]}
agents:
  - id: a1
    name: Ana
    endpoint: PJSIP/agent1
    skills:
      billing: 5
      biling: 7
"""
    assert problems(text) == ["routing.yaml:10:7: agent 'a1': unknown skill 'biling'"]


@pytest.mark.parametrize(
    ("overflow_line", "expected"),
    [
        ("    overflow: nowhere", "routing.yaml:5:15: queue 'a': overflow to unknown queue 'nowhere'"),
        ("    overflow: a", "routing.yaml:5:15: queue 'a' cannot overflow to itself"),
    ],
)
def test_bad_overflow_target(overflow_line: str, expected: str) -> None:
    text = f"""\
skills: [x]
queues:
  - name: a
    skills: [x]
{overflow_line}
    max_wait_s: 60
"""
    assert problems(text) == [expected]


def test_overflow_cycle_is_reported_at_the_edge_that_closes_it() -> None:
    text = """\
skills: [x]
queues:
  - name: a
    skills: [x]
    max_wait_s: 60
    overflow: b
  - name: b
    skills: [x]
    expansion:
      - {after_s: 30, overflow: c}
  - name: c
    skills: [x]
    max_wait_s: 10
    overflow: a
"""
    assert problems(text) == ["routing.yaml:14:15: overflow cycle: a -> b -> c -> a"]


def test_duplicate_agent_id_and_endpoint_name_the_first_definition() -> None:
    text = """\
skills: [x]
queues:
  - {name: q, skills: [x]}
agents:
  - {id: a1, name: Ana, endpoint: PJSIP/agent1}
  - {id: a2, name: Bo, endpoint: PJSIP/agent1}
  - {id: a1, name: Cy, endpoint: PJSIP/agent3}
"""
    assert problems(text) == [
        "routing.yaml:6:34: agent 'a2': endpoint 'PJSIP/agent1' already belongs to another agent (line 5)",
        "routing.yaml:7:10: duplicate agent id 'a1' (first defined on line 5)",
    ]


@pytest.mark.parametrize("level", [0, 11])
def test_proficiency_outside_1_to_10_is_rejected(level: int) -> None:
    text = f"""\
skills: [x]
queues:
  - {{name: q, skills: [x]}}
agents:
  - id: a1
    name: Ana
    endpoint: PJSIP/agent1
    skills: {{x: {level}}}
"""
    bound = "greater than or equal to 1" if level < 1 else "less than or equal to 10"
    assert problems(text) == [f"routing.yaml:8:17: agents.0.skills.x: found {level} (an integer), expected {bound}"]


def test_negative_times_are_rejected_where_they_are() -> None:
    text = """\
skills: [x]
queues:
  - name: q
    skills: [x]
    wrap_up_s: -1
    expansion:
      - {after_s: -5, min_proficiency: 3}
"""
    assert problems(text) == [
        "routing.yaml:5:16: queues.0.wrap_up_s: found -1 (an integer), expected greater than or equal to 0",
        "routing.yaml:7:19: queues.0.expansion.0.after_s: found -5 (an integer), expected greater than or equal to 0",
    ]


def test_expansion_rules_must_ascend_widen_and_end_with_overflow() -> None:
    text = """\
skills: [x]
queues:
  - name: q
    skills: [x]
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 40, min_proficiency: 3}
      - {after_s: 20, min_proficiency: 5}
      - {after_s: 60, overflow: r}
      - {after_s: 90, min_proficiency: 1}
  - {name: r, skills: [x]}
"""
    assert problems(text) == [
        "routing.yaml:8:19: expansion rules must be in ascending after_s order: 20 does not come after 40",
        "routing.yaml:8:40: expansion may only widen: min_proficiency 5 is above the 3 already accepted",
        "routing.yaml:9:33: an overflow rule must be the last expansion rule (the call leaves the queue)",
    ]


def test_rule_needs_exactly_one_action() -> None:
    text = """\
skills: [x]
queues:
  - name: q
    skills: [x]
    expansion:
      - {after_s: 10}
"""
    assert problems(text) == [
        "routing.yaml:6:9: queues.0.expansion.0: found a mapping, expected a rule with exactly one of min_proficiency or overflow"
    ]


def test_unknown_field_and_bad_formula_are_positioned() -> None:
    text = """\
skills: [x]
queues:
  - name: q
    skills: [x]
    sl_formula: sl3
    wrapup_s: 5
"""
    assert problems(text) == [
        "routing.yaml:5:17: queues.0.sl_formula: found 'sl3' (text), expected 'answered_within/(offered-short_abandons)', 'sl' or 'sl2'",
        "routing.yaml:6:5: queues.0.wrapup_s: unknown field",
    ]


def test_overflow_without_max_wait_and_unknown_timezone() -> None:
    text = """\
timezone: America/Atlantis
skills: [x]
queues:
  - {name: q, skills: [x], overflow: r}
  - {name: r, skills: [x]}
"""
    assert problems(text) == [
        "routing.yaml:1:11: unknown timezone 'America/Atlantis': expected an IANA name such as America/Santiago",
        "routing.yaml:4:38: queue 'q': overflow needs max_wait_s (it says when to overflow)",
    ]


def test_duplicate_names_and_yaml_keys_are_reported() -> None:
    text = """\
skills: [x, x]
queues:
  - {name: q, skills: [x]}
  - name: q
    skills: [x]
    skills: [x]
"""
    assert problems(text) == [
        "routing.yaml:1:13: duplicate skill 'x' (first defined on line 1)",
        "routing.yaml:4:11: duplicate queue 'q' (first defined on line 3)",
        "routing.yaml:6:5: duplicate key 'skills' (first defined on line 5)",
    ]


def test_endpoint_must_be_a_dial_string() -> None:
    text = """\
skills: [x]
queues:
  - {name: q, skills: [x]}
agents:
  - {id: a1, name: Ana, endpoint: agent1}
"""
    assert problems(text) == ["routing.yaml:5:35: agents.0.endpoint: found 'agent1' (text), expected a dial string like PJSIP/agent1"]


def test_an_agent_id_or_endpoint_ending_in_a_line_break_is_rejected() -> None:
    """They go into AMI actions (Setvar values, Originate's Channel): "$" in a pattern also
    matched before a final newline, so "a1\\n" used to pass."""
    text = 'skills: [x]\nqueues:\n  - {name: "q\\n", skills: [x]}\nagents:\n  - {id: "a1\\n", name: Ana, endpoint: "PJSIP/agent1\\n"}\n'
    found = problems(text)
    assert len(found) == 3
    assert [line.split(": ")[1] for line in found] == ["queues.0.name", "agents.0.id", "agents.0.endpoint"]
