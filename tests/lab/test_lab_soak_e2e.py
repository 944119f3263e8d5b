"""``acd bench lab-soak``, short: the engine's process is sampled under real traffic on the test lab.

The long run (memory flat over hours) is ``make bench``; here the harness itself is proven:
every caller completes, the engine process is sampled, idle CPU is measured.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.bench.cps_lab import CpsLab
from acd.bench.lab_soak import SoakOptions, describe, run_lab_soak
from tests.lab.conftest import SLOT

pytestmark = pytest.mark.lab


async def test_a_short_lab_soak_samples_the_engine_and_every_caller_completes(lab, tmp_path: Path) -> None:  # noqa: ANN001
    options = SoakOptions(minutes=0.5, sample_s=5, idle_s=5)
    result = await run_lab_soak(CpsLab.slot(SLOT, lab.secret), tmp_path, options, progress=print)
    why = describe(result) + f" (logs: {result['logs']})"
    assert result["calls"]["placed"] == 60 and result["calls"]["completed"] == 60, why
    assert len(result["samples"]) >= 5 and all(s["rss_kb"] > 10_000 for s in result["samples"]), why
    assert result["engine_cpu_ms_per_call"] > 0 and result["idle"]["cpu_percent_of_a_core"] >= 0, why
    assert result["growth_after_warmup"]["mb_per_hour"] is not None, why
