"""``acd bench soak`` in miniature: the real engine in-process (FastAGI IVR sessions over
TCP, dispatcher, router, live figures, SQLite event log) on a virtual clock; once warm,
what stays allocated must not grow with the calls that went through.

A leak of one small object per call shows: before issue 13's fixes the live figures kept
about 20 Python objects per call of the day (``blocks_per_call`` ≈ 20), the dispatcher
a few more for some calls.  The window for late surveys is shortened so the warm-up is
minutes of virtual time, not an hour.
"""

from __future__ import annotations

import pytest

from acd.bench.soak import Traffic, run_soak
from acd.metrics import ledger


async def test_memory_is_flat_after_warm_up(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ledger, "EXTRA_WINDOW_S", 120.0)
    traffic = Traffic(cps=4.0, patience_mean_s=120.0)  # more abandons, while waiting and while ringing
    result = await run_soak(0.2, traffic, warmup_hours=0.08, sample_every_h=0.02, trace=False, work=tmp_path)
    assert result.calls > 2000 and result.answered > 1000 and result.abandoned > 50
    assert result.blocks_per_call < 1.0, [(s.hour, s.calls, s.blocks) for s in result.samples]
