"""``acd bench routing`` and the synthetic centre behind it (no timing assertions: machines vary)."""

from __future__ import annotations

import json

import pytest

from acd.cli import main
from acd.routing import RingAgent, Router
from acd.routing.synthetic import synthetic_config

SMALL = ["bench", "routing", "--agents", "60", "--skills", "8", "--waiting", "10", "--decisions", "200", "--seed", "3"]


def test_bench_json_reports_percentiles_per_decision_kind_and_the_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SMALL + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decisions"] == 200
    assert set(data["by_kind"]) == {"agent_free/busy", "agent_free/quiet", "call_arrival/busy", "call_arrival/quiet"}
    assert sum(kind["decisions"] for kind in data["by_kind"].values()) == 200
    assert data["waiting_at_start"] == 10
    assert 0 < data["p50_us"] <= data["p99_us"] <= data["max_us"]
    assert data["by_kind"]["call_arrival/quiet"]["rang_agent"] > 0
    assert data["by_kind"]["agent_free/busy"]["rang_agent"] > 0
    assert set(data["machine"]) == {"platform", "python", "cpu", "cores"}


def test_bench_table_is_human_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SMALL) == 0
    text = capsys.readouterr().out
    assert "p50_us" in text and "p99_us" in text and "max_us" in text
    assert any(line.startswith("all ") for line in text.splitlines())
    assert "1 ms goal" in text


def test_bench_rejects_a_centre_without_agents(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "routing", "--agents", "0"])
    assert exit_info.value.code == 2
    assert "--agents: must be a whole number >= 1" in capsys.readouterr().err


def test_synthetic_centre_is_valid_and_reproducible() -> None:
    first, second = synthetic_config(300, 16, seed=5), synthetic_config(300, 16, seed=5)
    assert first == second
    assert len(first.queues) == 16 + 4
    assert all(first.eligible_agents(queue) for queue in first.queues)


def test_busy_synthetic_centre_keeps_its_invariants() -> None:
    config = synthetic_config(300, 16, seed=2)
    router = Router(config)
    for agent in config.agents:
        router.agent_login(0, agent.id)
    queues = [queue.name for queue in config.queues]
    for index in range(600):
        for ring in router.call_arrived(index * 0.01, f"c{index}", queues[index % len(queues)]):
            if isinstance(ring, RingAgent):
                router.agent_answered(index * 0.01, ring.agent_id, ring.call_id)
    assert router.waiting_count() > 0
    assert router.check_invariants() == []
    router.advance(45)  # every waiting call has widened to proficiency 1
    assert router.check_invariants() == []
