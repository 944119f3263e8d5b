"""A reproducible large routing configuration, for the benchmark and scale tests.

Shaped like a real multi-skill centre: one queue per skill plus a quarter as many
two-skill queues, the usual 0/20/40 s proficiency expansion, two-skill queues
overflowing to their first skill's queue after 60 s, and agents holding a handful of
skills at random proficiencies.
"""

from __future__ import annotations

import random

from acd.routing.config import RoutingConfig, validate_routing_data

EXPANSION = [
    {"after_s": 0, "min_proficiency": 7},
    {"after_s": 20, "min_proficiency": 3},
    {"after_s": 40, "min_proficiency": 1},
]


def synthetic_config(agents: int = 2000, skills: int = 64, *, seed: int = 1, skills_per_agent: int = 6, wrap_up_s: float = 0.0) -> RoutingConfig:
    """Build and validate the synthetic configuration (raises ValueError if it is invalid)."""
    rng = random.Random(seed)
    skill_names = [f"s{index:03d}" for index in range(skills)]
    queues: list[dict[str, object]] = [
        {"name": f"q-{name}", "skills": [name], "wrap_up_s": wrap_up_s, "expansion": EXPANSION} for name in skill_names
    ]
    pairs: set[tuple[str, str]] = set()
    while skills >= 2 and len(pairs) < skills // 4:
        first, second = rng.sample(skill_names, 2)
        pairs.add((first, second))
    for first, second in sorted(pairs):
        queues.append(
            {
                "name": f"q-{first}-{second}",
                "skills": [first, second],
                "priority": 1,
                "wrap_up_s": wrap_up_s,
                "expansion": EXPANSION + [{"after_s": 60, "overflow": f"q-{first}"}],
            }
        )
    per_agent = min(skills_per_agent, skills)
    agent_list = [
        {
            "id": f"a{index:05d}",
            "name": f"Agent {index}",
            "endpoint": f"PJSIP/agent{index}",
            "skills": {skill: rng.randint(1, 10) for skill in rng.sample(skill_names, per_agent)},
        }
        for index in range(agents)
    ]
    data = {"skills": skill_names, "queues": queues, "agents": agent_list}
    config, problems = validate_routing_data(data)
    if config is None:
        raise ValueError("synthetic config is invalid: " + "; ".join(str(problem) for problem in problems[:5]))
    return config
