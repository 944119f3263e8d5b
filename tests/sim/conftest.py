"""Routing files for simulation tests, built in code so each test shows what it relies on."""

from __future__ import annotations

from typing import Callable

import pytest

from acd.routing import RoutingConfig, load_routing_text


def fcfs_yaml(agents: int, *, threshold_s: float = 20.0, wrap_up_s: float = 0.0) -> str:
    """One queue, one skill, ``agents`` identical agents: no expansion, no overflow."""
    rows = "".join(
        f"  - {{id: a{i}, name: Agent {i}, endpoint: PJSIP/a{i}, skills: {{s: 5}}}}\n" for i in range(agents)
    )
    return (
        "timezone: America/Santiago\nskills: [s]\nqueues:\n"
        f"  - {{name: q, skills: [s], wrap_up_s: {wrap_up_s}, ring_timeout_s: 30, short_abandon_s: 0,"
        f" service_level: {{threshold_s: {threshold_s}}}}}\n"
        f"agents:\n{rows}"
    )


MULTI_SKILL_YAML = """
timezone: America/Santiago
skills: [billing, tech, english]
queues:
  - name: billing
    skills: [billing]
    wrap_up_s: 5
    ring_timeout_s: 10
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 15, min_proficiency: 1}
  - name: tech
    skills: [tech]
    wrap_up_s: 5
    ring_timeout_s: 10
    max_wait_s: 30
    overflow: general
  - name: general
    skills: [english]
    wrap_up_s: 5
    ring_timeout_s: 10
agents:
  - {id: expert1, name: Expert 1, endpoint: PJSIP/e1, skills: {billing: 9}}
  - {id: expert2, name: Expert 2, endpoint: PJSIP/e2, skills: {billing: 8, english: 3}}
  - {id: junior1, name: Junior 1, endpoint: PJSIP/j1, skills: {billing: 2, english: 6}}
  - {id: techie1, name: Techie 1, endpoint: PJSIP/t1, skills: {tech: 7}}
  - {id: techie2, name: Techie 2, endpoint: PJSIP/t2, skills: {tech: 5, english: 4}}
  - {id: speaker, name: Speaker, endpoint: PJSIP/g1, skills: {english: 8}}
"""


def config_of(text: str) -> RoutingConfig:
    config, problems = load_routing_text(text)
    assert config is not None, problems
    return config


@pytest.fixture
def fcfs() -> Callable[..., RoutingConfig]:
    return lambda agents, **options: config_of(fcfs_yaml(agents, **options))


@pytest.fixture
def multi_skill() -> RoutingConfig:
    return config_of(MULTI_SKILL_YAML)
