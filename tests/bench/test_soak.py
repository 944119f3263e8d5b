"""``acd bench soak`` in miniature: once warm, the engine's memory does not grow with calls.

The real engine runs in-process (FastAGI IVR sessions over TCP, dispatcher, router, live
figures, waiting service, SQLite event log) on a virtual clock, Asterisk played by the
soak.  About 2,600 calls go through in ~10 minutes of virtual time; the Python objects
alive after the warm-up must not grow with them.

Before issue 13's fixes this run grew ~15 objects per call (the live figures kept each
call's episode for the day, the dispatcher some callers' attached data and cancelled
rings); after them the growth is noise around 0 (sawtooth of bounded structures).
The window in which a late survey still finds its call is shortened to a minute so the
warm-up is minutes, not an hour.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.bench.soak import Traffic, run_soak
from acd.metrics import ledger

MAX_OBJECTS_PER_CALL = 5.0


async def test_engine_memory_is_flat_after_warm_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ledger, "EXTRA_WINDOW_S", 60.0)
    # short calls and impatient callers: many calls per virtual minute, abandons while
    # waiting and while an agent rings, a third of the answered callers surveyed
    traffic = Traffic(cps=5.0, talk_s=(5.0, 25.0), patience_mean_s=90.0, surveys=0.3)
    result = await run_soak(0.15, traffic, warmup_hours=0.05, sample_every_h=0.01, trace=False, work=tmp_path)
    assert result.calls > 2000 and result.answered > 0.7 * result.calls and result.abandoned > 100
    assert result.blocks_per_call < MAX_OBJECTS_PER_CALL, [(s.hour, s.calls, s.blocks) for s in result.samples]
