"""Routing at the IVR's hand-off (``acd.dispatch.handoff_routing``).

A caller whose agent is free at once goes from its IVR session straight to that agent:
the ring leaves with the session's last write (``ACD_RING``), no ``Redirect``.  Nothing is
sent for a call still in its IVR session; a hand-off that never reached Asterisk gives
the agent back.  The lab test (tests/lab/test_handoff_ring_e2e.py) does it with Asterisk.
"""

from __future__ import annotations

import asyncio

from acd.asterisk.call_control import AgentAnswered, AgentLegStarted, AsteriskPicture, ChannelStatus, LegHungUp, Parked, ring_extension
from acd.base.events import Event
from acd.dispatch import Dispatcher
from acd.dispatch.handoff_routing import HANDOFF_FAILED
from acd.dispatch.testing import FakeCallControl, RingingFakeCallControl
from acd.ivr.handoff import QueueRequest
from acd.routing import Router, load_routing_text

ROUTING = """
skills: [general]
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}
queues: [{name: general, skills: [general], ring_timeout_s: 12}]
"""
NOW = 1_750_000_000.0


class _Channel:
    """The IVR's channel as the queue node sees it: what it was told to write."""

    def __init__(self, call_id: str, *, fails: bool = False) -> None:
        self.call_id = call_id
        self.channel_name = f"PJSIP/caller-{call_id}"
        self.written: dict[str, str] = {}
        self.fails = fails

    async def set_variable(self, name: str, value: str) -> None:
        if self.fails:
            raise ConnectionResetError("AGI socket closed")
        self.written[name] = value

    async def set_variables(self, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            await self.set_variable(name, value)


def _dispatcher(control: FakeCallControl, events: list[Event]) -> Dispatcher:
    config, problems = load_routing_text(ROUTING)
    assert config is not None, problems
    return Dispatcher(router=Router(config), control=control, emit=events.append, clock=lambda: NOW)


async def test_a_caller_with_a_free_agent_goes_to_it_from_the_ivr_without_a_redirect() -> None:
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    channel = _Channel("c1")
    next_step = await dispatcher.enqueue(channel, QueueRequest(queue="general"))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert next_step == "agent"
    exten = ring_extension("ana", 12)
    assert channel.written["ACD_RING"] == exten
    assert channel.written["CHANNEL(userfield)"] == f"general|{NOW:.3f}"  # CEL's record that it queued (reconcile)
    assert channel.written["ACD_CALL_ID"] == "c1"  # the labels, as for a parked caller
    assert control.prepared == [("c1", "ana", exten)]
    assert control.rings == []  # no Redirect
    assert [e.type for e in events if e.call_id == "c1"][:2] == ["call.queued", "call.agent_ringing"]
    assert dispatcher.router.call("c1").state == "ringing"
    assert dispatcher.counters.rings_at_handoff == dispatcher.counters.rings_sent == 1
    # The rest of the call is as for a parked caller.
    dispatcher.handle(AgentLegStarted("c1", "PJSIP/ana-1", "c1-agent"))
    dispatcher.handle(AgentAnswered("c1", "PJSIP/ana-1"))
    assert dispatcher.router.call("c1").state == "connected"
    dispatcher.handle(LegHungUp("c1-agent", "PJSIP/ana-1", "Normal Clearing"))
    dispatcher.handle(LegHungUp("c1", channel.channel_name, "Normal Clearing"))
    assert "call.completed" in [e.type for e in events]
    assert dispatcher._handoff_gates == {} and dispatcher._actions == {}
    assert dispatcher._gate_timers == {}  # the gate's time limit went with it: no timer left to fire


async def test_a_caller_with_no_free_agent_is_queued_at_the_hand_off_and_rung_only_once_parked() -> None:
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    channel = _Channel("c1")
    assert await dispatcher.enqueue(channel, QueueRequest(queue="general")) is None  # type: ignore[arg-type]
    assert "ACD_RING" not in channel.written
    assert dispatcher.router.call("c1").state == "waiting"
    dispatcher.agent_login("ana")  # free now, while the caller may still be in its IVR session
    for _ in range(5):
        await asyncio.sleep(0)
    assert control.rings == []  # a Redirect now would cut the session's last writes
    dispatcher.handle(Parked("c1", channel.channel_name, "general", NOW, None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert control.rings == [("c1", "ana")]
    assert [e.type for e in events].count("call.queued") == 1  # parking is no second offer


async def test_a_hand_off_that_never_reached_asterisk_gives_the_agent_back_unpaused() -> None:
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    assert await dispatcher.enqueue(_Channel("c1"), QueueRequest(queue="general")) == "agent"  # type: ignore[arg-type]
    dispatcher.hand_off_failed("c1", "hand-off not written: ConnectionResetError")
    assert dispatcher.router.call("c1") is None
    ana = dispatcher.router.agent("ana")
    assert (ana.state, ana.call_id) == ("available", None)
    abandoned = [e for e in events if e.type == "call.abandoned"]
    assert len(abandoned) == 1  # it was offered to the queue and left it unanswered
    assert any(e.type == "agent.state" and e.data.get("reason") == HANDOFF_FAILED for e in events)
    assert dispatcher._handoff_gates == {}


async def test_the_ivr_runner_gives_back_a_hand_off_whose_writes_failed_and_takes_the_fallback() -> None:
    """The real runner: the labels and the next step are one batch written after the
    hand-off returned; when that write fails the ACD must let go of the agent."""
    from acd.ivr.loader import load_flow_bytes
    from acd.ivr.runner import FlowRunner

    flow_text = """
name: cola
numbers: ["300"]
entry: cola
nodes:
  cola: {type: queue, queue: general, fallback: fin}
  fin: {type: hangup}
"""
    loaded = load_flow_bytes(flow_text.encode(), "cola.yaml")
    flow = loaded.flow
    assert flow is not None, loaded.problems
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")

    class _Handoff:
        async def enqueue(self, channel, request):  # noqa: ANN001, ANN202
            return await dispatcher.enqueue(channel, request)

        def hand_off_failed(self, call_id: str, reason: str) -> None:
            dispatcher.hand_off_failed(call_id, reason)

    class _FailingAtTheEnd(_Channel):
        """Writes succeed until ACD_ACTION, the last one: the socket died meanwhile."""

        async def set_variable(self, name: str, value: str) -> None:
            if name == "ACD_ACTION" and value == "agent":
                raise ConnectionResetError("AGI socket closed")
            self.written[name] = value

        async def answer(self) -> None:
            return None

    runner = FlowRunner(handoff=_Handoff(), emit=lambda *a, **k: None)
    channel = _FailingAtTheEnd("c1")
    await runner.run(flow, channel)  # type: ignore[arg-type]
    assert channel.written.get("ACD_ACTION") == "hangup"  # the node's fallback
    assert dispatcher.router.call("c1") is None
    assert dispatcher.router.agent("ana").state == "available"


async def test_while_asterisk_is_out_of_sight_routing_waits_for_the_caller_to_be_parked() -> None:
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    dispatcher.suspend()  # AMI lost
    assert await dispatcher.enqueue(_Channel("c1"), QueueRequest(queue="general")) is None  # type: ignore[arg-type]
    assert dispatcher.router.call("c1") is None and control.prepared == []


async def test_a_ring_that_cannot_be_prepared_is_sent_by_redirect_once_parked() -> None:
    control, events = RingingFakeCallControl(refuse_prepare=True), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    channel = _Channel("c1")
    assert await dispatcher.enqueue(channel, QueueRequest(queue="general")) is None  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert control.rings == [] and dispatcher.router.call("c1").agent_id == "ana"
    dispatcher.handle(Parked("c1", channel.channel_name, "general", NOW, None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert control.rings == [("c1", "ana")]


async def test_a_control_that_cannot_prepare_rings_keeps_routing_at_the_park() -> None:
    control, events = FakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    assert await dispatcher.enqueue(_Channel("c1"), QueueRequest(queue="general")) is None  # type: ignore[arg-type]
    assert dispatcher.router.call("c1") is None


async def test_a_caller_who_hangs_up_before_reaching_the_agent_frees_it_and_leaves_nothing_behind() -> None:
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    dispatcher.agent_login("ana")
    for index in range(20):
        call_id = f"c{index}"
        assert await dispatcher.enqueue(_Channel(call_id), QueueRequest(queue="general")) == "agent"  # type: ignore[arg-type]
        dispatcher.handle(LegHungUp(call_id, f"PJSIP/caller-{call_id}", "Normal Clearing"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert dispatcher.router.agent("ana").state == "available"
    assert dispatcher._handoff_gates == {} and dispatcher._actions == {} and dispatcher._channels == {}
    assert dispatcher._gate_timers == {}


async def test_a_caller_parked_while_ami_was_down_is_rung_at_once_after_the_resync() -> None:
    """The call was queued at the hand-off; its AcdParked came while AMI was down.  The
    resync's picture shows it parked, which opens its gate: the ring to an agent who logs
    in then leaves at once, not after HANDOFF_GATE_S (by then its ring time-out has run)."""
    control, events = RingingFakeCallControl(), []
    dispatcher = _dispatcher(control, events)
    channel = _Channel("c1")
    assert await dispatcher.enqueue(channel, QueueRequest(queue="general")) is None  # type: ignore[arg-type]
    dispatcher.suspend()  # AMI lost; the caller parks meanwhile, unseen
    control.shown = AsteriskPicture(
        (ChannelStatus("c1", channel.channel_name, "Up", "acd-hold", "WaitExten", "c1", "c1", "general", NOW, None, "", None, role="waiting"),),
        (),
    )
    await dispatcher.resync()
    dispatcher.agent_login("ana")
    for _ in range(5):
        await asyncio.sleep(0)
    assert control.rings == [("c1", "ana")]
    assert dispatcher._handoff_gates == {}
