"""The lab soak's arithmetic: growth after the warm-up, per hour and per call; /proc samples."""

from __future__ import annotations

import os

import random

from acd.bench.lab_soak import growth, memory_map, process_sample
from acd.bench.machine import FLAT_BYTES_PER_CALL, slope_interval


def test_growth_is_the_slope_after_the_first_third_per_hour_and_per_call() -> None:
    # 10 MB during the warm-up (caches filling), then 1 kB/s: 3.5 MB/h, 512 B per call at 2 calls/s
    samples = [{"t_s": t, "rss_kb": 50_000 + (10_000 if t >= 20 else t * 500) + max(0, t - 30) * 1.0} for t in range(0, 91, 10)]
    result = growth(samples, rate_cps=2.0)
    assert abs(result["mb_per_hour"] - 3.52) < 0.05 and abs(result["bytes_per_call"] - 512) < 10


def test_flat_memory_reads_as_zero_growth_and_no_samples_as_unknown() -> None:
    flat = growth([{"t_s": t, "rss_kb": 60_000} for t in range(0, 100, 10)], 2.0)
    assert (flat["mb_per_hour"], flat["bytes_per_call"], flat["verdict"]) == (0.0, 0.0, "flat")
    assert growth([], 2.0) == {"mb_per_hour": None, "bytes_per_call": None, "verdict": "undecided"}


def test_the_verdict_needs_the_whole_interval_on_one_side_of_the_threshold() -> None:
    noise = random.Random(4)
    # 2 calls/s; kB/s for 100 B/call (below the threshold) and 1 kB/call (above), RSS noisy by +-200 kB
    def run(bytes_per_call: float, jitter_kb: float, seconds: int) -> dict:
        return growth([{"t_s": t, "rss_kb": 60_000 + t * bytes_per_call * 2 / 1024 + noise.uniform(-jitter_kb, jitter_kb)}
                       for t in range(0, seconds, 15)], 2.0)
    assert run(100, 4, 3600)["verdict"] == "flat"
    assert run(1000, 4, 3600)["verdict"] == "not flat"
    assert run(FLAT_BYTES_PER_CALL, 400, 300)["verdict"] == "undecided"  # few noisy samples: the interval straddles it
    assert run(1000, 4, 3600)["kb_per_1000_calls_95"]["low"] < 1000 / 1.024 < run(1000, 4, 3600)["kb_per_1000_calls_95"]["high"] + 5


def test_the_slope_interval_holds_the_true_slope_and_narrows_with_samples() -> None:
    noise = random.Random(7)
    few = slope_interval([(x, 3 * x + noise.gauss(0, 5)) for x in range(10)])
    many = slope_interval([(x, 3 * x + noise.gauss(0, 5)) for x in range(1000)])
    assert few.low < 3 < few.high and many.low < 3 < many.high and many.half_width < few.half_width / 10
    assert slope_interval([(0, 1), (1, 2)]).half_width == float("inf")


def test_the_memory_map_splits_resident_pages_by_mapping() -> None:
    kinds = memory_map(os.getpid())
    assert kinds is not None and set(kinds) == {"heap", "anon", "file"} and kinds["file"] > 1000
    assert memory_map(2**22 + 12345) is None


def test_a_live_process_is_sampled_and_a_gone_one_is_none() -> None:
    rss, cpu = process_sample(os.getpid())
    assert rss > 1000 and cpu > 0
    assert process_sample(2**22 + 12345) is None


def test_a_warm_up_given_in_minutes_leaves_the_growth_before_it_out() -> None:
    # memory grows for the first hour (a window filling), then stays flat: only a warm-up past it sees flat
    samples = [{"t_s": t, "rss_kb": 60_000 + min(t, 3600) * 2.0} for t in range(0, 5400, 15)]
    assert growth(samples, 2.0)["verdict"] == "not flat"  # the default third (30 min) still sees the window fill
    past = growth(samples, 2.0, warm_up_s=3600)
    assert past["verdict"] == "flat" and abs(past["bytes_per_call"]) < 1
