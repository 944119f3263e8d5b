"""The router's and the simulator's outcomes are pinned: a refactor must not change one decision.

A fixed-seed simulation of four busy hours over ``deploy/routing.yaml`` (three queues,
patience, abandonment, overflow) prints the same report as ``acd report``; its SHA-256 is
kept in ``outcome_fingerprint.txt``.  Architecture steps and speed work must leave it
alone.  A change that *means* to alter routing decisions updates the file, and says so in
its commit:

    python -m pytest tests/sim/test_outcome_fingerprint.py --update-fingerprint

(the session that moved the dispatcher, the API's client and the benchmarks checked the
same digest before and after the move.)
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).with_name("outcome_fingerprint.txt")
ARGS = [
    "simulate", "--routing", "deploy/routing.yaml", "--hours", "4",
    "--calls-per-hour", "general=300", "--calls-per-hour", "compradores=120", "--calls-per-hour", "proveedores=80",
    "--aht", "180", "--patience", "90", "--seed", "11", "--json",
]


def simulated_report_digest() -> str:
    run = subprocess.run([sys.executable, "-m", "acd", *ARGS], cwd=ROOT, capture_output=True, check=True, timeout=120)
    return hashlib.sha256(run.stdout).hexdigest()


def test_simulated_outcomes_equal_the_pinned_fingerprint(request: pytest.FixtureRequest) -> None:
    digest = simulated_report_digest()
    if request.config.getoption("--update-fingerprint"):
        PINNED.write_text(digest + "\n", encoding="utf-8")
    assert digest == PINNED.read_text(encoding="utf-8").strip(), (
        "routing/simulator outcomes changed; if that is intended, re-pin with --update-fingerprint and say why in the commit"
    )


def test_a_different_seed_gives_a_different_fingerprint() -> None:
    """The digest covers the decisions: another seed (other arrivals) must not collide."""
    other = subprocess.run(
        [sys.executable, "-m", "acd", *[("12" if a == "11" else a) for a in ARGS]], cwd=ROOT, capture_output=True, check=True, timeout=120
    )
    assert hashlib.sha256(other.stdout).hexdigest() != PINNED.read_text(encoding="utf-8").strip()
