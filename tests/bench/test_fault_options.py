"""The fault harness's options: a backlog needs more offered calls than the phones take; the command line picks that rate."""

from __future__ import annotations

import pytest

from acd.bench import faults
from acd.bench.faults import FaultOptions


def test_a_backlog_is_refused_at_a_rate_the_phones_keep_up_with() -> None:
    capacity = FaultOptions().capacity_cps()
    assert 1.5 < capacity < 2.5  # 8 phones at 0.8 s ring + 2.5 s talk + 0.3 s wrap-up + signalling
    problems = FaultOptions(backlog=5, rate=2.0).problems(8)
    assert len(problems) == 1 and "--backlog 5" in problems[0] and "does not build a queue" in problems[0]
    assert FaultOptions(backlog=5, rate=3.0).problems(8) == []
    assert FaultOptions(rate=2.0).problems(8) == []  # no backlog: the rate is free
    assert "--backlog" in FaultOptions(backlog=101, rate=30).problems(8)[-1]


def test_the_command_line_offers_one_and_a_half_times_the_capacity_for_a_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, FaultOptions] = {}

    async def capture(lab, work, options, progress=None):  # noqa: ANN001
        captured["options"] = options
        return {}

    monkeypatch.setattr(faults, "run_faults", capture)
    monkeypatch.setattr(faults, "run_on_lab", lambda prog, lab, run, describe, **kw: __import__("asyncio").run(run(None, print)) or 0)
    assert faults.main(["--backlog", "4", "--kinds", "kill9", "--repeat", "1", "--slot", "6"]) == 0
    options = captured["options"]
    assert options.backlog == 4 and options.rate == round(1.5 * options.capacity_cps(), 1) > options.capacity_cps()
    assert faults.main(["--backlog", "4", "--rate", "1.5", "--slot", "6"]) == 2  # refused before any lab is touched
