"""Issue 21's hot standby on the real lab: two ``acd run`` share one PostgreSQL, callers wait
on hold, the leader is killed -9 (twice: each engine leads once and dies once); the standby
takes over, every caller is answered by the sipp agents, no agent is rung while talking,
nobody is connected twice, and ``acd report --format json`` on the PostgreSQL store equals
sipp's counts.  The same harness as ``acd bench takeover`` (which prints p50/max over 10 kills)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from acd.bench.cps_lab import CpsLab
from acd.bench.takeover import TakeoverOptions, run_takeover, summary
from tests.lab.conftest import SLOT

pytestmark = pytest.mark.lab


async def test_the_standby_takes_over_from_a_killed_leader_and_every_waiting_caller_is_answered(lab, postgres, tmp_path: Path) -> None:  # noqa: ANN001
    # ``postgres``: only so a missing PostgreSQL fails in CI like the other store tests (the harness starts its own)
    seed = int(os.environ.get("TAKEOVER_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    # 5 phones for 2 calls/s: a queue builds up, so each kill finds callers waiting on hold
    options = TakeoverOptions(kills=2, seed=seed, agents=5, warmup_s=5.0, tail_s=6.0)
    result = await run_takeover(CpsLab.slot(SLOT, lab.secret), tmp_path, options, progress=print)
    figures = result["kinds"][0]
    why = f"seed {seed} (TAKEOVER_SEED={seed} replays it)\n{summary(result)}"
    assert len(result["takeover_s"]["each"]) == 2 and not figures["problems"], why
    assert figures["placed"] >= 20, why
    held = [rep["states"]["hold"] for rep in figures["per_repetition"]]
    assert all(held), why  # each kill found callers waiting on hold
    assert figures["lost"] == 0, why
    assert figures["double_rings"] == 0 and figures["double_rings_phone_view"] == 0, why
    assert figures["connected_twice"] == 0, why
    assert figures["wrong_states"] == 0, why
    assert figures["report_drift"]["drift"] == {"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0}, why
    assert figures["details"]["engine_record_mismatches"] == [], why
