"""The lab soak's arithmetic: growth after the warm-up, per hour and per call; /proc samples."""

from __future__ import annotations

import os

from acd.bench.lab_soak import growth, process_sample


def test_growth_is_the_slope_after_the_first_third_per_hour_and_per_call() -> None:
    # 10 MB during the warm-up (caches filling), then 1 kB/s: 3.5 MB/h, 512 B per call at 2 calls/s
    samples = [{"t_s": t, "rss_kb": 50_000 + (10_000 if t >= 20 else t * 500) + max(0, t - 30) * 1.0} for t in range(0, 91, 10)]
    result = growth(samples, rate_cps=2.0)
    assert abs(result["mb_per_hour"] - 3.52) < 0.05 and abs(result["bytes_per_call"] - 512) < 10


def test_flat_memory_reads_as_zero_growth_and_no_samples_as_unknown() -> None:
    assert growth([{"t_s": t, "rss_kb": 60_000} for t in range(0, 100, 10)], 2.0) == {"mb_per_hour": 0.0, "bytes_per_call": 0.0}
    assert growth([], 2.0) == {"mb_per_hour": None, "bytes_per_call": None}


def test_a_live_process_is_sampled_and_a_gone_one_is_none() -> None:
    rss, cpu = process_sample(os.getpid())
    assert rss > 1000 and cpu > 0
    assert process_sample(2**22 + 12345) is None
