"""Bounded memory: what the running engine keeps per call is dropped once the call is over.

Issue 13 item 5: the engine grew ~5 KB per call for the whole day, because the live
figures' ledger kept every call's episode (and its bookkeeping) until the next day.
These tests feed many finished calls and check that the structures do not grow with
their number, and that dropping them changes no figure (a report replaying the same
events, which keeps everything, shows the same numbers).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from acd.asterisk.call_control import AgentAnswered, AgentLegStarted, LegHungUp, Parked
from acd.dispatch import Dispatcher
from acd.ivr.handoff import QueueRequest
from acd.base.events import Event
from acd.metrics.ledger import EXTRA_WINDOW_S, Ledger
from acd.metrics.live import LiveStats
from acd.routing import Router, RoutingConfig, load_routing_text
from acd.dispatch.testing import FakeCallControl as FakeControl

SANTIAGO = ZoneInfo("America/Santiago")
T0 = datetime(2025, 3, 10, 8, 0, tzinfo=SANTIAGO).timestamp()  # a Monday, 08:00

CONFIG = """\
skills: [billing, general]
queues:
  - {name: billing, skills: [billing], wrap_up_s: 10}
  - {name: general, skills: [general]}
agents:
  - {id: a1, name: A, endpoint: PJSIP/a1, skills: {billing: 5}}
  - {id: a2, name: B, endpoint: PJSIP/a2, skills: {billing: 5, general: 5}}
"""


def config() -> RoutingConfig:
    loaded, problems = load_routing_text(CONFIG)
    assert problems == [] and loaded is not None
    return loaded


def call_events(index: int, at: float) -> list[Event]:
    """One call as the engine logs it: queued, answered, talked, wrapped up, surveyed;
    every fifth caller hangs up while waiting instead."""
    call_id, agent = f"c{index}", ("a1", "a2")[index % 2]
    queue, skills = ("billing", ["billing"]) if index % 3 else ("general", ["general"])
    if queue == "general":
        agent = "a2"
    events = [Event(type="call.queued", ts=at, call_id=call_id, queue=queue, data={"skills": skills, "wait_origin": at})]
    if index % 5 == 4:
        return events + [Event(type="call.abandoned", ts=at + 20, call_id=call_id, queue=queue, data={"waited_s": 20.0})]
    answered, completed = at + 8, at + 68
    return events + [
        Event(type="call.answered", ts=answered, call_id=call_id, queue=queue, agent_id=agent, data={"waited_s": 8.0}),
        Event(type="agent.state", ts=answered, agent_id=agent, data={"state": "on_call"}),
        Event(type="call.completed", ts=completed, call_id=call_id, queue=queue, agent_id=agent, data={"talk_s": 60.0}),
        Event(type="agent.state", ts=completed, agent_id=agent, data={"state": "wrap_up"}),
        Event(type="agent.state", ts=completed + 10, agent_id=agent, data={"state": "available"}),
        Event(type="survey.answer", ts=completed + 30, call_id=call_id, data={"question": "q", "score": 1 + index % 5}),
    ]


def traffic(calls: int, every_s: float) -> list[Event]:
    """``calls`` calls ``every_s`` apart, one agent each at a time, in time order."""
    events = [Event(type="agent.state", ts=T0 - 1, agent_id=agent, data={"state": "available"}) for agent in ("a1", "a2")]
    for index in range(calls):
        events += call_events(index, T0 + index * every_s)
    return sorted(events, key=lambda e: e.ts)


def kept_per_call(stats: LiveStats) -> int:
    """Per-call entries the live ledger holds."""
    ledger = stats.ledger
    return len(ledger.episodes) + len(ledger.latest) + len(ledger._settled) + len(ledger._dirty) + len(ledger._last_answered)


def test_live_figures_keep_no_entry_per_finished_call_of_the_day() -> None:
    """8 h of calls, one every 2 min: what is kept covers the last window, not the day."""
    every_s = 120.0
    kept = []
    for hours in (4, 8):
        stats = LiveStats(config())
        for event in traffic(int(hours * 3600 / every_s), every_s):
            stats.append(event)
        kept.append(kept_per_call(stats))
    window_calls = (EXTRA_WINDOW_S + 2 * LiveStats.RETIRE_EVERY_S + 120) / every_s  # the window, two sweeps, one call
    assert kept[0] == kept[1], kept  # the same however many calls the day had
    assert kept[1] <= 2 * window_calls, kept  # 240 calls in 8 h: before, 240 episodes + 240 latest


def test_dropping_finished_calls_changes_no_figure() -> None:
    """The live ledger (retiring) equals a report's (which keeps everything), per queue
    and skill, for the day and each quarter hour, surveys included."""
    events = traffic(int(6 * 3600 / 90), 90.0)
    # a survey answered 50 min after its call (found through what the retired call left)
    # and one 3 h after (beyond the window: its own queue, no skill, in both)
    late_call = next(e for e in events if e.type == "call.completed" and e.call_id == "c1")
    events.append(Event(type="survey.answer", ts=late_call.ts + 3000, call_id="c1", data={"question": "late", "score": 5}))
    events.append(Event(type="survey.answer", ts=late_call.ts + 3 * 3600, call_id="c1", queue="general", data={"question": "later", "score": 4}))
    events.sort(key=lambda e: e.ts)
    stats = LiveStats(config())
    report = Ledger(stats.ledger.bucketings, rules=stats.ledger.rules, groups=("queue", "skill"))
    for event in events:
        stats.append(event)
        report.feed(event)
    live = stats.ledger
    assert len(live.episodes) < len(report.episodes) / 4  # it did retire
    report.flush()
    live.flush()
    rows = {key for key, acc in report.accs.items() if not acc.is_empty()}
    assert rows == {key for key, acc in live.accs.items() if not acc.is_empty()}
    for key in rows:
        assert live.accs[key] == report.accs[key], key
    day = live.bucketings[1].locate(T0)
    assert live.accs[(1, day, ("skill", "billing"))].survey_responses == report.accs[(1, day, ("skill", "billing"))].survey_responses
    late_skill = [acc.survey_responses for key, acc in live.accs.items() if key[0] == 1 and key[2] == ("skill", "(none)")]
    assert late_skill == [1]  # the 3-hour-late answer, without skills, in the live figures as in the report


# ----------------------------------------------------------------------------- dispatcher


class _Channel:
    """The IVR's channel as the queue node sees it."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.channel_name = f"PJSIP/caller-{call_id}"

    async def set_variable(self, name: str, value: str) -> None:
        return None


def _dispatcher() -> Dispatcher:
    return Dispatcher(router=Router(config()), control=FakeControl(), emit=lambda event: None, clock=lambda: T0)


def _per_call(dispatcher: Dispatcher) -> dict[str, int]:
    return {
        name: len(getattr(dispatcher, name))
        for name in ("_channels", "_agent_legs", "_cancelled_rings", "_attached", "_aliases", "_actions", "_legs", "_current_leg")
    }


async def test_dispatcher_forgets_a_caller_who_hangs_up_between_the_queue_node_and_the_hold() -> None:
    """The queue node labels the call (and keeps its attached data until it is parked);
    a caller who hangs up before reaching the holding context leaves nothing behind."""
    dispatcher = _dispatcher()
    for index in range(50):
        call_id = f"gone{index}"
        await dispatcher.enqueue(_Channel(call_id), QueueRequest(queue="billing", attached={"rut": "12345678-5"}))  # type: ignore[arg-type]
        dispatcher.handle(LegHungUp(call_id, f"PJSIP/caller-{call_id}", "Normal Clearing"))
    assert _per_call(dispatcher) == dict.fromkeys(_per_call(dispatcher), 0)


async def test_dispatcher_keeps_nothing_per_finished_call() -> None:
    """Calls answered, rung without answer, abandoned while ringing: all forgotten
    (a caller abandoning while an agent rang used to stay in ``_cancelled_rings``)."""
    dispatcher = _dispatcher()
    dispatcher.agent_login("a1")
    dispatcher.agent_login("a2")
    for index in range(60):
        call_id = f"c{index}"
        await dispatcher.enqueue(_Channel(call_id), QueueRequest(queue="billing", attached={"rut": "12345678-5"}))  # type: ignore[arg-type]
        dispatcher.handle(Parked(call_id, f"PJSIP/caller-{call_id}", "billing", None, None))
        await asyncio.sleep(0)
        leg = f"{call_id}-agent"
        dispatcher.handle(AgentLegStarted(call_id, "PJSIP/a1-1", leg))
        if index % 3 == 0:
            dispatcher.handle(AgentAnswered(call_id, "PJSIP/a1-1"))
        dispatcher.handle(LegHungUp(leg, "PJSIP/a1-1", "Normal Clearing"))
        dispatcher.handle(LegHungUp(call_id, f"PJSIP/caller-{call_id}", "Normal Clearing"))
        for agent in ("a1", "a2"):  # wrap-ups and no-answer pauses over
            dispatcher.agent_unpause(agent)
        dispatcher.router.advance(T0 + 3600)
        for _ in range(5):
            await asyncio.sleep(0)
    dispatcher.close()
    assert _per_call(dispatcher) == dict.fromkeys(_per_call(dispatcher), 0)
    assert dispatcher.router.call("c59") is None

