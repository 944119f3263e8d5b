"""``acd bench store`` end to end on a small load: both back ends really written, JSON with the machine."""

from __future__ import annotations

import asyncio
import json

from acd.base.events import Event
from acd.bench.store import _paced_run
from acd.cli import main
from acd.lab.postgres import Postgres


def test_bench_store_writes_both_back_ends_and_prints_json(capsys, postgres: Postgres) -> None:
    # ``postgres`` is unused here but makes a missing PostgreSQL a skip (a failure in CI) rather than an error.
    code = main(["bench", "store", "--events", "3000", "--repeat", "1", "--rates", "500,1000", "--seconds", "1", "--month-calls", "300"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["machine"]["cores"] >= 1
    for backend in ("sqlite", "postgresql"):
        figures = result[backend]
        assert [run["committed"] for run in figures["burst_runs"]] == [3000]
        assert figures["burst_best_events_per_s"] > 0
        assert [step["offered_events_per_s"] for step in figures["paced"]] == [500, 1000]
        assert all(step["kept_up"] for step in figures["paced"])
        assert figures["sustained_events_per_s"] == 1000
    assert "PostgreSQL" in result["postgresql"]["server"]
    month = result["month_report"]
    assert month["migrate"]["events"] == month["migrate"]["source_events"] > 1000
    assert month["same_json_everywhere"]
    assert all(month[b]["by_day_best_s"] > 0 for b in ("sqlite", "postgresql"))


class SlowStore:
    """Commits at most ``per_s`` events a second: a store that cannot keep up with more."""

    def __init__(self, per_s: float) -> None:
        self.per_s = per_s
        self.queued: list[Event] = []
        self.committed = 0
        self._task = asyncio.ensure_future(self._commit())

    def append(self, event: Event) -> None:
        self.queued.append(event)

    @property
    def pending(self) -> int:
        return len(self.queued)

    async def _commit(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            take = int(self.per_s * 0.05)
            self.committed += len(self.queued[:take])
            del self.queued[:take]

    async def count(self) -> int:
        return self.committed


async def test_a_rate_the_store_cannot_commit_is_not_kept_up_with() -> None:
    events = [Event(type="call.queued", ts=float(i), call_id=f"c{i}") for i in range(4000)]
    stores = [SlowStore(2000), SlowStore(1000)]
    try:
        fast_enough = await _paced_run(stores[0], events, 1000, 1.0)
        too_fast = await _paced_run(stores[1], events, 4000, 1.0)
    finally:
        for store in stores:
            store._task.cancel()
    assert fast_enough["kept_up"] and not too_fast["kept_up"] and too_fast["drain_s"] > 1.0


def test_bench_store_refuses_bad_rates_and_urls(capsys) -> None:
    assert main(["bench", "store", "--rates", "fast"]) == 2
    assert "--rates" in capsys.readouterr().err
    assert main(["bench", "store", "--url", "sqlite:///tmp/x.sqlite", "--events", "1000"]) == 1
    assert "--url must be a postgresql:// URL" in capsys.readouterr().err
