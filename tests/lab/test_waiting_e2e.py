"""Waiting on the real lab: position and estimated-wait announcements between the music."""

from __future__ import annotations

import pytest

from acd.lab.sipp import AwaitHangup
from acd.features.waiting import estimate_accuracy
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab

ROUTING = """
timezone: America/Santiago
skills: [compradores]
queues:
  - name: compradores
    skills: [compradores]
    wrap_up_s: 1
    ring_timeout_s: 5
    waiting: {announce_every_s: 2, default_handle_s: 20}
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {compradores: 9}}
"""


async def test_second_caller_hears_position_and_estimate_while_the_agent_is_busy(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=ROUTING, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=14)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        first_answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", [AwaitHangup(60)], calls=[("300", "56982220000")])
        second_answered = await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id != first_answered.call_id, 40)
        results = [await ana.wait(20), await first.wait(20), await second.wait(30)]
    announcements = of_type(sink, "wait.announcement", second_answered.call_id)
    assert announcements, "no announcement while waiting"
    first_one = announcements[0]
    assert first_one.data["waited_s"] == pytest.approx(2.0, abs=0.5)  # the queue's announce_every_s after parking
    assert first_one.data["position"] == 1 and first_one.data["agents_serving"] == 1
    assert first_one.data["estimate_s"] == pytest.approx(20.0)  # nothing measured yet: the default handle time, one agent
    # Asterisk really played them to that caller (the AGI trace in its log).
    log = (lab.log_dir / "messages.log").read_text(errors="replace")
    assert "agi://127.0.0.1:%d/announce" % lab.agi_port in log
    assert "Playing 'queue-youarenext" in log and "Playing 'queue-holdtime" in log
    accuracy = estimate_accuracy(sink.events)
    assert accuracy["announcements"] == len(announcements)
    assert accuracy["median_abs_error_s"] is not None
    assert all(r.ok for r in results), [r.describe() for r in results]
