"""Issue 13's done-when, short: each fault once under sipp traffic, and nothing may go wrong.

The full sweep (each fault x5) is ``acd bench faults`` in ``make bench``; this is the same
harness (acd.bench.faults) with one fault per kind at a seeded random moment, on the test
slot's lab.  Every figure must be zero and ``acd report`` must equal sipp's counts; a
failure message carries the harness's summary (which caller, which agent, when, after
which fault) and the logs' folder.  ``FAULTS_SEED`` replays a failing seed.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from acd.bench.cps_lab import CpsLab
from acd.bench.faults import KINDS, FaultOptions, run_faults, summary
from tests.lab.conftest import SLOT

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("kind", KINDS)
async def test_one_fault_loses_no_caller_rings_no_busy_agent_and_keeps_the_report_right(lab, tmp_path: Path, kind: str) -> None:  # noqa: ANN001
    seed = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    options = FaultOptions(kinds=(kind,), repeat=1, seed=seed, warmup_s=4.0, tail_s=6.0)
    result = await run_faults(CpsLab.slot(SLOT, lab.secret), tmp_path, options, progress=print)
    figures = result["kinds"][0]
    why = f"seed {seed} (FAULTS_SEED={seed} replays it)\n{summary(result)}"
    assert figures["repetitions"] == 1 and not figures["problems"], why
    assert figures["placed"] >= 10, why
    assert figures["lost"] == 0, why
    assert figures["double_rings"] == 0 and figures["double_rings_phone_view"] == 0, why
    assert figures["connected_twice"] == 0, why
    assert figures["wrong_states"] == 0, why
    assert figures["report_drift"]["drift"] == {"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0}, why
    # and call by call: every caller's record agrees with the phones (one call.queued each: a
    # re-queue after a restart is a call.requeued)
    assert figures["details"]["engine_record_mismatches"] == [], why


async def test_an_engine_killed_with_a_backlog_on_hold_re_queues_every_waiting_caller(lab, tmp_path: Path) -> None:  # noqa: ANN001
    # offered 1.5 x what the 8 phones take: a queue builds, and kill -9 hits at least 4 parked callers
    seed = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    base = FaultOptions(kinds=("kill9",), repeat=1, seed=seed, warmup_s=4.0, tail_s=6.0, backlog=4)
    options = replace(base, rate=round(1.5 * base.capacity_cps(), 1))
    result = await run_faults(CpsLab.slot(SLOT, lab.secret), tmp_path, options, progress=print)
    figures = result["kinds"][0]
    why = f"seed {seed} (FAULTS_SEED={seed} replays it)\n{summary(result)}"
    assert figures["repetitions"] == 1 and not figures["problems"], why  # a fault with < 4 on hold is a problem
    assert figures["per_repetition"][0]["states"]["hold"] >= 4, why
    assert figures["lost"] == 0 and figures["double_rings"] == 0 and figures["connected_twice"] == 0, why
    assert figures["wrong_states"] == 0, why
    assert figures["report_drift"]["drift"] == {"offered": 0, "answered": 0, "abandoned": 0, "waiting": 0}, why
    assert figures["details"]["engine_record_mismatches"] == [], why
