"""Resync rebuilds the whole picture before deciding anything (issue: continuity through faults).

A dispatcher with the real router and a fake call control whose ``picture()`` is what
Asterisk would show; the same scenarios run on the real lab in tests/lab/test_faults_e2e.py.
"""

from __future__ import annotations

import asyncio

import pytest

from acd.asterisk.call_control import AgentAnswered, AsteriskPicture, ChannelStatus, DeviceState, LegHungUp, Parked
from acd.dispatch import PHONE_BUSY_REASON, Dispatcher
from acd.dispatch.testing import FakeCallControl as PictureControl
from acd.base.events import Event
from acd.routing import Router, load_routing_text

ROUTING = """
skills: [general]
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}
  - {id: beto, name: Beto, endpoint: PJSIP/beto, skills: {general: 5}}
  - {id: carla, name: Carla, endpoint: PJSIP/carla, skills: {general: 5}}
queues:
  - name: general
    skills: [general]
    ring_timeout_s: 5
    wrap_up_s: 0
"""


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def caller(call_id: str, role: str, *, agent: str = "", answered_at: float | None = None, wait_origin: float | None = None) -> ChannelStatus:
    context, application = {"waiting": ("acd-hold", "WaitExten"), "agent": ("acd-agent", "Dial")}[role]
    return ChannelStatus(
        call_id, f"PJSIP/caller-{call_id}", "Up", context, application, call_id, call_id, "general", wait_origin, None, agent, answered_at, role
    )


def agent_leg(call_id: str, agent: str) -> ChannelStatus:
    return ChannelStatus(f"leg-{call_id}", f"PJSIP/{agent}-1", "Up", "from-agents", "AppDial", call_id, "", "", None, None, "", None, "")


def build(clock: Clock, control: PictureControl, history: dict[str, set[str]] | None = None) -> tuple[Dispatcher, list[Event]]:
    config, problems = load_routing_text(ROUTING)
    assert config is not None and problems == []
    events: list[Event] = []
    dispatcher = Dispatcher(router=Router(config), control=control, emit=events.append, clock=clock)

    async def recorded(call_ids: list[str]) -> dict[str, set[str]]:
        return {call_id: types for call_id, types in (history or {}).items() if call_id in call_ids}

    dispatcher.history = recorded
    return dispatcher, events


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def types_of(events: list[Event], call_id: str) -> list[str]:
    return [e.type for e in events if e.call_id == call_id]


async def test_an_answer_made_while_ami_was_down_is_an_answer_at_its_real_time_not_a_ring_time_out() -> None:
    clock, control = Clock(), PictureControl()
    dispatcher, events = build(clock, control)
    dispatcher.agent_login("ana")
    t0 = clock.now
    dispatcher.handle(Parked("c1", "PJSIP/caller-c1", "general", t0, None))
    await settle()
    assert control.rings == [("c1", "ana")]
    dispatcher.suspend()  # AMI lost
    clock.now = t0 + 8  # past the 5 s ring time-out: the router must not have fired it
    dispatcher.agent_pause("carla")  # any router call while blind runs at the suspended time
    assert dispatcher.router.call("c1").state == "ringing"
    control.shown = AsteriskPicture((caller("c1", "agent", agent="ana", answered_at=t0 + 6, wait_origin=t0), agent_leg("c1", "ana")), ())
    await dispatcher.resync()
    await settle()
    assert dispatcher.router.call("c1").state == "connected" and dispatcher.router.agent("ana").state == "on_call"
    [answered] = [e for e in events if e.type == "call.answered"]
    assert answered.ts == t0 + 6 and answered.data["waited_s"] == 6
    assert control.holds == [] and "call.requeued" not in types_of(events, "c1")
    assert not [e for e in events if e.type == "agent.state" and e.data.get("reason") == "no-answer"]
    # The agent's leg ends the call as usual.
    clock.now = t0 + 40
    dispatcher.handle(LegHungUp("leg-c1", "PJSIP/ana-1", "Normal Clearing"))
    assert "call.completed" in types_of(events, "c1") and dispatcher.router.agent("ana").state == "available"


async def test_a_restarted_engine_rebuilds_calls_on_agents_before_requeueing_and_rings_nobody_busy() -> None:
    clock, control = Clock(), PictureControl()
    t0 = clock.now
    control.shown = AsteriskPicture(
        (
            caller("c1", "agent", agent="ana", answered_at=t0 - 20, wait_origin=t0 - 30),
            agent_leg("c1", "ana"),
            caller("c2", "agent", agent="beto", wait_origin=t0 - 5),
            caller("c3", "waiting", wait_origin=t0 - 8),
        ),
        (DeviceState("PJSIP/ana", "INUSE"), DeviceState("PJSIP/beto", "RINGING"), DeviceState("PJSIP/carla", "INUSE")),
    )
    # c1's answer was logged by the previous engine; c2's queueing was in its lost last batch.
    dispatcher, events = build(clock, control, history={"c1": {"call.queued", "call.answered"}})
    for agent in ("ana", "beto", "carla"):  # auto-login at start, before AMI connects
        dispatcher.agent_login(agent)
    await dispatcher.resync()
    await settle()
    assert control.rings == []  # carla talks on a personal call, ana and beto are busy with c1, c2
    states = {a.id: (a.state, a.reason) for a in dispatcher.router.agents()}
    assert states == {"ana": ("on_call", "answered"), "beto": ("reserved", "ring"), "carla": ("paused", PHONE_BUSY_REASON)}
    assert dispatcher.router.call("c3").state == "waiting"
    assert "call.answered" not in types_of(events, "c1")  # once is the truth
    assert types_of(events, "c2")[0] == "call.queued"  # the lost queueing is recorded
    # carla's phone frees up: she is unpaused and takes c3 at once.
    dispatcher.handle(DeviceState("PJSIP/carla", "NOT_INUSE"))
    await settle()
    assert control.rings == [("c3", "carla")]
    # beto answers c2 after the restart: an ordinary answer.
    dispatcher.handle(AgentAnswered("c2", "PJSIP/beto-2"))
    assert dispatcher.router.call("c2").state == "connected"
    assert dispatcher.router.check_invariants() == []


async def test_a_call_answered_during_the_restart_gets_its_answer_recorded_once() -> None:
    clock, control = Clock(), PictureControl()
    t0 = clock.now
    control.shown = AsteriskPicture((caller("c1", "agent", agent="ana", answered_at=t0 - 2, wait_origin=t0 - 12),), ())
    dispatcher, events = build(clock, control, history={"c1": {"call.queued"}})
    dispatcher.agent_login("ana")
    await dispatcher.resync()
    [answered] = [e for e in events if e.type == "call.answered"]
    assert (answered.ts, answered.data["waited_s"]) == (t0 - 2, 10)
    await dispatcher.resync()  # a second resync changes nothing
    assert len([e for e in events if e.type == "call.answered"]) == 1


async def test_facts_arriving_while_resync_reads_asterisk_are_applied_after_the_picture() -> None:
    clock, control = Clock(), PictureControl(delay_s=0.05)
    t0 = clock.now
    control.shown = AsteriskPicture((caller("c1", "agent", agent="ana", answered_at=t0 - 2, wait_origin=t0 - 12), agent_leg("c1", "ana")), ())
    dispatcher, events = build(clock, control)
    dispatcher.agent_login("ana")
    runner = asyncio.create_task(dispatcher.run())
    resync = asyncio.create_task(dispatcher.resync())
    await asyncio.sleep(0.01)
    await control.facts.put(LegHungUp("c1", "PJSIP/caller-c1", "Normal Clearing"))  # newer than the picture
    await resync
    await settle()
    runner.cancel()
    assert dispatcher.router.call("c1") is None and "call.completed" in types_of(events, "c1")
    assert dispatcher.router.agent("ana").state == "available"


async def test_a_free_agent_whose_phone_gets_busy_is_paused_and_unpaused_when_it_is_free() -> None:
    clock, control = Clock(), PictureControl()
    dispatcher, events = build(clock, control)
    dispatcher.agent_login("ana")
    dispatcher.handle(DeviceState("PJSIP/ana", "INUSE"))
    assert dispatcher.router.agent("ana").reason == PHONE_BUSY_REASON
    dispatcher.handle(Parked("c1", "PJSIP/caller-c1", "general", clock.now, None))
    await settle()
    assert control.rings == []
    dispatcher.handle(DeviceState("PJSIP/ana", "UNAVAILABLE"))  # worse: unreachable
    assert dispatcher.router.agent("ana").reason == "unreachable"
    dispatcher.handle(DeviceState("PJSIP/ana", "NOT_INUSE"))
    await settle()
    assert control.rings == [("c1", "ana")]
    # Busy while ringing or talking to an ACD call is expected: no pause.
    dispatcher.handle(DeviceState("PJSIP/ana", "RINGING"))
    assert dispatcher.router.agent("ana").state == "reserved"


async def test_a_supervisor_pause_is_not_lifted_by_a_phone_becoming_free() -> None:
    clock, control = Clock(), PictureControl()
    dispatcher, _ = build(clock, control)
    dispatcher.agent_login("ana")
    dispatcher.agent_pause("ana", "lunch")
    dispatcher.handle(DeviceState("PJSIP/ana", "INUSE"))
    dispatcher.handle(DeviceState("PJSIP/ana", "NOT_INUSE"))
    assert (dispatcher.router.agent("ana").state, dispatcher.router.agent("ana").reason) == ("paused", "lunch")


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e999", "soon"])
def test_an_unusable_answer_time_on_a_channel_is_no_answer_time(value: str) -> None:
    from acd.asterisk.ami import AmiMessage
    from acd.asterisk.call_control import channel_status

    message = AmiMessage({"Event": "Status", "Uniqueid": "c1", "Context": "acd-agent", "Application": "Dial",
                          "Variable": f"ACD_ANSWERED_AT={value}\nACD_CALL_ID=c1\nACD_QUEUE=general\nACD_AGENT_ID=ana"})
    status = channel_status(message)
    assert status.answered_at is None and status.role == "agent"


async def test_a_parked_caller_the_log_holds_as_queued_is_requeued_not_offered_again() -> None:
    """After a restart each caller on hold is offered once: the previous engine's call.queued stands."""
    clock, control = Clock(), PictureControl()
    t0 = clock.now
    control.shown = AsteriskPicture((caller("old", "waiting", wait_origin=t0 - 8), caller("lost", "waiting", wait_origin=t0 - 3)), ())
    # "old" was queued by the previous engine; "lost"'s queueing was in its unwritten last batch.
    dispatcher, events = build(clock, control, history={"old": {"call.queued"}})
    await dispatcher.resync()
    await settle()
    assert types_of(events, "old") == ["call.requeued"] and types_of(events, "lost") == ["call.queued"]
    [requeued] = [e for e in events if e.call_id == "old"]
    assert requeued.data["reason"] == "resync" and requeued.data["wait_origin"] == t0 - 8
    assert dispatcher.router.call("old").state == "waiting" and dispatcher.router.call("old").wait_origin == t0 - 8
