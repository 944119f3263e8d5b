"""Callback requests: one per number, durable across restarts, retried up to a limit; customer-first placement."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

import pytest

from acd.asterisk.call_control import (
    AgentAnswered,
    AgentLegStarted,
    CallbackCustomerUp,
    CallbackResult,
    LegHungUp,
    OriginateFailed,
    Parked,
    RingFailed,
)
from acd.features.callbacks import Callback, CallbackPolicy, CallbackService, CallbackStore
from tests.store_backends import postgres_backend
from acd.dispatch import CALLBACK_NOT_ANSWERED, CUSTOMER_FIRST_MARGIN_S
from acd.dispatch.testing import FakeCallControl
from acd.ivr.testing import Press, ScriptedChannel, keys
from acd.base.events import Event
from acd.features.waiting import WaitingService, valid_callback_number

if TYPE_CHECKING:
    from acd.dispatch import Dispatcher


@dataclass
class FakeAcd:
    queued: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)

    def queue_callback(self, callback: Callback) -> None:
        self.queued.append(callback.call_id)

    def withdraw(self, call_id: str) -> None:
        self.withdrawn.append(call_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def callbacks_at(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where the callback requests live, on each back end in turn: a file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "callbacks.sqlite"
    return postgres_backend(request.getfixturevalue("postgres")).location


async def service(where: Path | str, acd: FakeAcd, events: list[Event], *, max_attempts: int = 2) -> CallbackService:
    store = await CallbackStore.open(where)
    policies = {"q": CallbackPolicy(max_attempts=max_attempts, retry_s=0.01, hours=None)}
    return CallbackService(store, acd, events.append, policies, clock=lambda: 1000.0)


async def test_a_second_request_from_the_same_number_replaces_the_first(callbacks_at: Path | str) -> None:
    acd, events = FakeAcd(), []
    callbacks = await service(callbacks_at, acd, events)
    await callbacks.request("c1", "q", "56911112222", wait_origin=900.0)
    await callbacks.request("c2", "q", "56911112222", wait_origin=950.0)
    assert not callbacks.is_callback("c1") and callbacks.is_callback("c2")
    assert acd.withdrawn == ["c1"]
    assert [e.call_id for e in events if e.type == "callback.requested"] == ["c1", "c2"]
    assert [c.call_id for c in await callbacks.store.open_requests()] == ["c2"]
    await callbacks.close()


async def test_open_requests_survive_a_restart_and_rejoin_their_queue_with_their_wait(callbacks_at: Path | str) -> None:
    acd, events = FakeAcd(), []
    first = await service(callbacks_at, acd, events)
    await first.request("c1", "q", "56911112222", wait_origin=900.0)
    await first.close()
    acd_after_restart = FakeAcd()
    second = await service(callbacks_at, acd_after_restart, events)
    assert await second.restore() == 1
    assert acd_after_restart.queued == ["c1"]
    assert second.get("c1") is not None and second.get("c1").wait_origin == 900.0
    await second.close()


async def test_failed_attempts_are_retried_then_the_callback_fails_and_is_recorded(callbacks_at: Path | str) -> None:
    acd, events = FakeAcd(), []
    callbacks = await service(callbacks_at, acd, events, max_attempts=2)
    await callbacks.request("c1", "q", "56911112222", wait_origin=900.0)
    await callbacks.placing("c1")
    await callbacks.result("c1", "BUSY")
    assert callbacks.is_callback("c1")
    await callbacks.placing("c1")
    await callbacks.result("c1", "NOANSWER")
    assert not callbacks.is_callback("c1")
    outcomes = [e.data["outcome"] for e in events if e.type == "callback.attempt" and e.data["outcome"] != "deferred"]
    assert outcomes == ["busy", "no-answer"]
    failed = [e for e in events if e.type == "callback.failed"]
    assert len(failed) == 1 and failed[0].data["attempts"] == 2
    assert await callbacks.store.open_requests() == []
    await callbacks.close()


@pytest.mark.parametrize("number, ok", [("56911112222", True), ("22223333", True), ("1234", False), ("56a11112222", False), ("5691111222233", False)])
def test_callback_numbers_must_be_8_to_12_digits(number: str, ok: bool) -> None:
    assert valid_callback_number(number) is ok


async def test_a_too_short_typed_number_is_re_prompted_then_a_valid_one_accepted() -> None:
    channel = ScriptedChannel([*keys("1234#"), *keys("221234567#")], caller="anonymous")
    waiting = WaitingService.__new__(WaitingService)  # only the number dialogue is exercised
    assert await WaitingService._ask_number(waiting, channel) == "221234567"  # type: ignore[arg-type]
    assert channel.played.count("pbx-invalid") == 1


# ---------------------------------------------------------------- customer first (dispatcher)

CUSTOMER_FIRST_ROUTING = """
timezone: America/Santiago
skills: [ventas]
queues:
  - name: q
    skills: [ventas]
    ring_timeout_s: 6
    waiting: {callback_mode: customer-first, callback_retry_s: 0.05, callback_max_attempts: 3}
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {ventas: 9}}
  - {id: bruno, name: Bruno, endpoint: PJSIP/agent2, skills: {ventas: 5}}
"""


@dataclass
class RecordingControl(FakeCallControl):
    """The shared fake call control (``actions`` is every Originate and Hangup in the order
    they were sent; a Hangup of a leg id it has not originated fails like Asterisk's "No
    such channel"), with each ring's channel and time-out, and each placement checked
    against the queue's callback mode."""

    rings: list[tuple[str, str, str, float]] = field(default_factory=list)  # type: ignore[assignment]  # channel, call, agent, timeout
    agent_first: bool = False

    async def originate_customer_first(self, *args: Any, **kwargs: Any) -> None:
        assert not self.agent_first, "customer-first placement used for an agent-first queue"
        await super().originate_customer_first(*args, **kwargs)

    async def originate_callback(self, *args: Any, **kwargs: Any) -> None:
        assert self.agent_first, "agent-first placement used for a customer-first queue"
        await super().originate_callback(*args, **kwargs)

    async def ring(self, channel: str, call_id: str, agent_id: str, endpoint: str, timeout_s: float) -> None:
        self.rings.append((channel, call_id, agent_id, timeout_s))


Setup = tuple["Dispatcher", RecordingControl, list[Event], CallbackService]


@pytest.fixture
async def customer_first(tmp_path: Path) -> AsyncIterator[Setup]:
    """A dispatcher with the real router and a real callback store, for a customer-first queue."""
    async for setup in _dispatcher_with_callbacks(tmp_path, CUSTOMER_FIRST_ROUTING):
        yield setup


@pytest.fixture
async def agent_first(tmp_path: Path) -> AsyncIterator[Setup]:
    """The same for an agent-first queue."""
    async for setup in _dispatcher_with_callbacks(tmp_path, CUSTOMER_FIRST_ROUTING.replace("customer-first", "agent-first")):
        yield setup


async def _dispatcher_with_callbacks(tmp_path: Path, routing: str) -> AsyncIterator[Setup]:
    from acd.dispatch import Dispatcher
    from acd.routing import Router, load_routing_text

    config, problems = load_routing_text(routing)
    assert config is not None, problems
    control, events = RecordingControl(agent_first="agent-first" in routing), []
    dispatcher = Dispatcher(router=Router(config), control=control, emit=events.append, clock=time.time)  # type: ignore[arg-type]
    dispatcher.customer_ring_s = 20.0
    store = await CallbackStore.open(tmp_path / "callbacks.sqlite")
    policy = CallbackPolicy(max_attempts=3, retry_s=0.05, hours=None, mode=config.queue("q").waiting.callback_mode)  # type: ignore[union-attr]
    callbacks = CallbackService(store, dispatcher, events.append, {"q": policy})
    dispatcher.callbacks = callbacks
    try:
        yield dispatcher, control, events, callbacks
    finally:
        dispatcher.close()
        await callbacks.close()  # also when a test fails: an open connection's thread would keep pytest alive


async def run_actions(dispatcher: "Dispatcher") -> None:
    """Let the dispatcher's queued actions (tasks) finish."""
    for _ in range(20):
        await asyncio.sleep(0)
    while dispatcher._actions:
        await asyncio.gather(*list(dispatcher._actions.values()), return_exceptions=True)


async def requested_while_waiting(dispatcher: "Dispatcher", callbacks: CallbackService) -> None:
    """c1 waits (nobody logged in), asks for a callback at 56911112222 and hangs up."""
    dispatcher.handle(Parked(call_id="c1", channel="PJSIP/caller-1", queue="q", wait_origin=time.time() - 30, priority=None))
    await callbacks.request("c1", "q", "56911112222", wait_origin=time.time() - 30)
    dispatcher.handle(LegHungUp(leg_id="c1", channel="PJSIP/caller-1", cause="Normal Clearing"))


async def test_customer_first_dials_the_customer_while_the_agent_stays_reserved_for_both_rings(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    [placed] = control.originated
    assert placed["call_id"] == "c1" and placed["agent_id"] == "ana" and placed["dial"] == "PJSIP/56911112222@customers"
    assert placed["agent_ring_s"] == 6 and placed["customer_ring_s"] == 20 and callbacks.get("c1").attempts == 1  # type: ignore[union-attr]
    assert str(placed["leg_id"]).startswith("c1-")  # the Originate's ChannelId: its facts name this leg
    assert placed["labels"]["ACD_QUEUE"] == "q"  # type: ignore[index]  # so acd-hold can park the customer
    ringing = [e for e in events if e.type == "call.agent_ringing"]
    assert ringing[-1].data["timeout_s"] == 20 + 6 + CUSTOMER_FIRST_MARGIN_S  # not the queue's 6 s
    assert dispatcher.router.agent("ana").state == "reserved"  # type: ignore[union-attr]
    assert not control.rings  # nobody's channel is redirected: there is none yet


async def test_customer_not_answering_frees_the_agent_unpaused_and_retries_after_the_delay(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    dispatcher.handle(OriginateFailed(call_id="c1", reason="3", leg_id=str(control.originated[0]["leg_id"])))  # it rang out
    assert dispatcher.router.agent("ana").state == "available"  # type: ignore[union-attr]
    assert dispatcher.router.agent("ana").reason == CALLBACK_NOT_ANSWERED  # type: ignore[union-attr]  # what `acd agents` shows
    last = [e for e in events if e.type == "agent.state" and e.agent_id == "ana"][-1]
    assert last.data["state"] == "available" and last.data["reason"] == CALLBACK_NOT_ANSWERED
    assert not [e for e in events if e.type in ("call.abandoned", "call.ring_no_answer")]
    assert [e.data["outcome"] for e in events if e.type == "callback.attempt"] == ["no-answer"]
    assert dispatcher.router.call("c1") is None  # out of the queue until the retry delay passes
    await asyncio.sleep(0.2)
    await run_actions(dispatcher)
    assert len(control.originated) == 2 and callbacks.get("c1").attempts == 2  # type: ignore[union-attr]  # placed again
    assert not control.hangups  # a leg that failed by itself is not hung up
    assert dispatcher.router.agent("ana").state == "reserved"  # type: ignore[union-attr]


async def test_customer_who_answers_completes_the_callback_and_the_agent_is_rung_on_the_customers_channel(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    cust = str(control.originated[0]["leg_id"])
    dispatcher.handle(CallbackCustomerUp(call_id="c1", agent_id="ana", leg_id=cust, channel="PJSIP/customers-1"))
    assert not callbacks.is_callback("c1")
    assert [e.type for e in events if e.type.startswith("callback.")][-2:] == ["callback.attempt", "callback.completed"]
    # From here the customer's channel is the call: Asterisk's events name its uniqueid.
    dispatcher.handle(AgentLegStarted(call_id=cust, agent_channel="PJSIP/agent1-1", agent_leg_id="agent-leg-1"))
    dispatcher.handle(AgentAnswered(call_id=cust, agent_channel="PJSIP/agent1-1"))
    assert dispatcher.router.call("c1").state == "connected"  # type: ignore[union-attr]
    dispatcher.handle(LegHungUp(leg_id=cust, channel="PJSIP/customers-1", cause="Normal Clearing"))
    assert dispatcher.router.call("c1") is None
    assert [e.call_id for e in events if e.type == "call.completed"] == ["c1"]
    await run_actions(dispatcher)
    assert await callbacks.store.open_requests() == []


async def test_agent_not_answering_an_answered_customer_puts_the_customer_back_at_the_head_like_any_caller(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    cust = str(control.originated[0]["leg_id"])
    dispatcher.handle(CallbackCustomerUp(call_id="c1", agent_id="ana", leg_id=cust, channel="PJSIP/customers-1"))
    dispatcher.handle(RingFailed(call_id="c1", status="NOANSWER"))  # acd-agent's Dial rang out
    assert dispatcher.router.agent("ana").state == "paused"  # type: ignore[union-attr]  # this one was the agent's fault
    assert dispatcher.router.call("c1").state == "waiting"  # type: ignore[union-attr]
    dispatcher.agent_login("bruno")
    await run_actions(dispatcher)
    # An ordinary ring (Redirect of the customer's channel) with the queue's own ring time.
    assert control.rings == [("PJSIP/customers-1", "c1", "bruno", 6)]
    assert len(control.originated) == 1


async def test_a_number_started_during_the_invalid_prompt_is_kept_for_the_second_try() -> None:
    channel = ScriptedChannel([*keys("1234#"), Press("2", after=1.0), *keys("21234567#")], caller="anonymous", prompt_seconds=2.0)
    waiting = WaitingService.__new__(WaitingService)
    assert await WaitingService._ask_number(waiting, channel) == "221234567"  # type: ignore[arg-type]
    assert channel.discarded == []
    assert channel.played[-1] == "pbx-invalid"  # the second try did not ask for the number again


def test_an_unknown_callback_mode_is_reported_with_its_line() -> None:
    from acd.routing import load_routing_text

    config, problems = load_routing_text(CUSTOMER_FIRST_ROUTING.replace("customer-first", "customer-last"), "routing.yaml")
    assert config is None
    assert len(problems) == 1 and problems[0].line == 8 and "callback_mode" in str(problems[0])
    assert "agent-first" in str(problems[0]) and "customer-first" in str(problems[0])


# ---------------------------------------------------------------- a cancelled ring hangs up its leg


async def settle_tasks() -> None:
    """Let queued tasks run a few steps (without waiting for a leg to be reported gone)."""
    for _ in range(30):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)


def attempts_of(events: list[Event], call_id: str = "c1") -> list[tuple[int, str]]:
    return [(e.data["attempt"], e.data["outcome"]) for e in events if e.type == "callback.attempt" and e.call_id == call_id]


async def test_pausing_the_reserved_agent_hangs_up_the_ringing_customer_before_dialling_them_again(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    first = str(control.originated[0]["leg_id"])
    dispatcher.agent_login("bruno")  # free, so the router hands the call to bruno at once
    dispatcher.agent_pause("ana", "break")
    assert dispatcher.router.call("c1").agent_id == "bruno"  # type: ignore[union-attr]
    await settle_tasks()
    assert control.actions == [f"originate {first}", f"hangup {first}"]  # nothing new while the first leg lives
    dispatcher.handle(LegHungUp(leg_id=first, channel="PJSIP/customers-1", cause="Normal Clearing"))
    dispatcher.handle(OriginateFailed(call_id="c1", reason="1", leg_id=first))  # the hung-up Originate's own report
    await run_actions(dispatcher)
    second = str(control.originated[1]["leg_id"])
    assert control.actions == [f"originate {first}", f"hangup {first}", f"originate {second}"]
    assert control.originated[1]["agent_id"] == "bruno" and second != first
    rang_bruno = [e for e in events if e.type == "call.agent_ringing" and e.agent_id == "bruno"]
    assert rang_bruno[0].data["timeout_s"] == 20 + 6 + CUSTOMER_FIRST_MARGIN_S  # bruno is held for the customer's ring too
    assert dispatcher.router.agent("bruno").state == "reserved"  # type: ignore[union-attr]  # the late failure was not bruno's
    assert attempts_of(events) == [(1, "cancelled")]  # and not counted: the next one is attempt 1 again
    assert callbacks.get("c1").attempts == 1  # type: ignore[union-attr]
    cancelled = [e for e in events if e.type == "callback.attempt"][0]
    assert cancelled.data["reason"] == "agent-paused" and cancelled.agent_id == "ana"


async def test_a_customer_answering_a_cancelled_ring_is_hung_up_and_the_new_attempt_stands(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    first = str(control.originated[0]["leg_id"])
    dispatcher.agent_logout("ana")
    await settle_tasks()
    # The customer picked up just as the hang-up went out: that answer does not count.
    dispatcher.handle(CallbackCustomerUp(call_id="c1", agent_id="ana", leg_id=first, channel="PJSIP/customers-1"))
    assert callbacks.is_callback("c1") and not control.holds
    assert dispatcher.router.call("c1").state == "waiting"  # type: ignore[union-attr]
    dispatcher.handle(LegHungUp(leg_id=first, channel="PJSIP/customers-1", cause="Normal Clearing"))
    await run_actions(dispatcher)
    dispatcher.agent_login("bruno")
    await run_actions(dispatcher)
    second = str(control.originated[1]["leg_id"])
    dispatcher.handle(CallbackCustomerUp(call_id="c1", agent_id="bruno", leg_id=second, channel="PJSIP/customers-2"))
    assert not callbacks.is_callback("c1")
    assert attempts_of(events) == [(1, "cancelled"), (1, "answered")]
    assert control.hangups == [first]


async def test_a_ring_cancelled_before_its_originate_went_out_never_dials_the_customer(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    dispatcher.agent_pause("ana", "break")  # same loop turn: the placement has not run yet
    await run_actions(dispatcher)
    assert control.actions == []
    assert attempts_of(events) == []  # no attempt was made
    assert dispatcher.router.call("c1").state == "waiting"  # type: ignore[union-attr]


async def test_a_hang_up_is_retried_while_asterisk_has_not_created_the_leg_yet(customer_first) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    first = str(control.originated[0]["leg_id"])
    real_hang_up, tries = control.hang_up, []

    async def not_there_yet(channel: str) -> None:
        tries.append(channel)
        if len(tries) < 3:
            raise RuntimeError("Hangup failed: No such channel")
        await real_hang_up(channel)

    control.hang_up = not_there_yet  # type: ignore[method-assign]
    dispatcher.agent_pause("ana", "break")
    await asyncio.sleep(0.6)  # two retries 0.2 s apart
    assert tries == [first, first, first] and control.hangups == [first]
    dispatcher.handle(LegHungUp(leg_id=first, channel="PJSIP/customers-1", cause="Normal Clearing"))
    await run_actions(dispatcher)


async def test_agent_first_a_cancelled_agent_ring_is_hung_up_and_its_late_answer_never_reaches_the_customer(agent_first) -> None:  # noqa: ANN001
    from acd.asterisk.call_control import CallbackAgentUp, CallbackResult

    dispatcher, control, events, callbacks = agent_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.agent_login("ana")
    await run_actions(dispatcher)
    first = str(control.originated[0]["leg_id"])
    dispatcher.agent_pause("ana", "break")
    await settle_tasks()
    assert control.hangups == [first]
    # ana picked up just before the hang-up: acd-callback reports it, then the h extension's result.
    dispatcher.handle(CallbackAgentUp(call_id="c1", agent_id="ana", agent_leg_id=first))
    dispatcher.handle(CallbackResult(call_id="c1", agent_id="ana", status="NOANSWER", leg_id=first))
    dispatcher.handle(LegHungUp(leg_id=first, channel="PJSIP/agent1-1", cause="Normal Clearing"))
    await run_actions(dispatcher)
    assert dispatcher.router.call("c1").state == "waiting"  # type: ignore[union-attr]  # not connected to ana
    assert callbacks.is_callback("c1") and callbacks.get("c1").attempts == 0  # type: ignore[union-attr]
    assert attempts_of(events) == [(1, "cancelled")]  # the late NOANSWER was not taken as the customer's


async def test_an_agent_answer_for_a_ring_the_router_no_longer_holds_is_hung_up(agent_first) -> None:  # noqa: ANN001
    from acd.asterisk.call_control import CallbackAgentUp

    dispatcher, control, events, callbacks = agent_first
    await requested_while_waiting(dispatcher, callbacks)
    dispatcher.handle(CallbackAgentUp(call_id="c1", agent_id="ana", agent_leg_id="from-before-a-restart"))
    await settle_tasks()
    assert "from-before-a-restart" in dispatcher._legs  # being hung up: acd-callback must not dial the customer
    dispatcher.handle(LegHungUp(leg_id="from-before-a-restart", channel="PJSIP/agent1-1", cause="Normal Clearing"))
    await run_actions(dispatcher)
    assert not dispatcher._legs


def test_a_callback_leg_is_named_in_its_originate_failure_and_in_its_result() -> None:
    from acd.asterisk.ami import AmiMessage
    from acd.asterisk.call_control import CallbackResult, translate

    failed = translate(AmiMessage({"Event": "OriginateResponse", "ActionID": "acd-callback-1.5-cb0a1b2c3d", "Response": "Failure", "Reason": "3"}))
    assert failed == OriginateFailed(call_id="1.5", reason="3", leg_id="1.5-cb0a1b2c3d")
    result = translate(AmiMessage({"Event": "UserEvent", "UserEvent": "AcdCallbackResult", "CallId": "1.5", "AgentId": "ana",
                                   "DialStatus": "NOANSWER", "Uniqueid": "1.5-cb0a1b2c3d"}))
    assert result == CallbackResult(call_id="1.5", agent_id="ana", status="NOANSWER", leg_id="1.5-cb0a1b2c3d")


# ---------------------------------------------------------------- an attempt under way at a restart


async def test_an_attempt_under_way_at_a_restart_is_held_until_its_leg_is_accounted_for(callbacks_at: Path | str) -> None:
    acd, events = FakeAcd(), []
    first = await service(callbacks_at, acd, events)
    await first.request("c1", "q", "56911112222", wait_origin=900.0)
    await first.request("c2", "q", "56933334444", wait_origin=950.0)
    await first.placing("c1")  # c1's attempt is out when the engine stops
    await first.close()
    after = FakeAcd()
    second = await service(callbacks_at, after, events)
    assert await second.restore() == 2
    assert after.queued == ["c2"] and second.in_doubt == {"c1"}  # c1 is not placed blindly
    second.release("c1", "ended while no engine was running")
    assert after.queued == ["c2", "c1"] and not second.in_doubt
    assert second.get("c1").attempts == 1  # type: ignore[union-attr]  # the interrupted attempt counts
    await second.close()


async def restored_in_doubt(tmp_path: Path, dispatcher: "Dispatcher", callbacks: CallbackService, control: RecordingControl, legs: dict[str, str]) -> None:
    """c1's attempt 1 was out when the previous engine stopped; Asterisk still has ``legs``."""
    previous = await CallbackStore.open(tmp_path / "callbacks.sqlite")
    await previous.save(Callback("c1", "q", "56911112222", wait_origin=time.time() - 60, requested_at=time.time() - 50, state="active", attempts=1))
    await previous.close()
    assert await callbacks.restore() == 1
    control.channels.update(legs)
    dispatcher.agent_login("ana")  # free at once: a blindly restored request would be placed now
    await run_actions(dispatcher)
    assert not control.originated and callbacks.in_doubt == {"c1"}
    await dispatcher.resync()
    await asyncio.sleep(0.05)  # the actions resync started are under way (not waited for: a hang-up waits for its leg)


async def test_a_leg_still_ringing_after_a_restart_is_hung_up_before_the_customer_is_called_again(customer_first, tmp_path: Path) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await restored_in_doubt(tmp_path, dispatcher, callbacks, control, {"c1-cbold": "Ringing", "PJSIP/other-1": "Up"})
    assert control.actions == ["hangup c1-cbold"] and not control.originated  # not placed while it rings
    dispatcher.handle(LegHungUp(leg_id="c1-cbold", channel="PJSIP/customers-7", cause="Normal Clearing"))
    await run_actions(dispatcher)
    [placed] = control.originated
    assert control.actions == ["hangup c1-cbold", f"originate {placed['leg_id']}"] and placed["leg_id"] != "c1-cbold"
    assert callbacks.get("c1").attempts == 2  # type: ignore[union-attr]
    # The old leg answering at the last moment is hung up, not taken for the new attempt.
    dispatcher.handle(CallbackCustomerUp(call_id="c1", agent_id="ana", leg_id="c1-cbold", channel="PJSIP/customers-7"))
    assert callbacks.is_callback("c1")


async def test_an_attempt_that_ended_while_no_engine_ran_is_placed_again_at_once(customer_first, tmp_path: Path) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await restored_in_doubt(tmp_path, dispatcher, callbacks, control, {})
    await run_actions(dispatcher)
    [placed] = control.originated
    assert placed["call_id"] == "c1" and not control.hangups and not callbacks.in_doubt


async def test_a_customer_first_leg_answered_while_the_engine_was_down_completes_the_callback(customer_first, tmp_path: Path) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = customer_first
    await restored_in_doubt(tmp_path, dispatcher, callbacks, control, {"c1-cbold": "Up"})
    await run_actions(dispatcher)
    assert not control.originated and not control.hangups
    assert not callbacks.is_callback("c1") and await callbacks.store.open_requests() == []
    assert [e.data["outcome"] for e in events if e.type == "callback.attempt"] == ["answered"]


@pytest.mark.parametrize("status, placed_again", [("ANSWER", False), ("NOANSWER", True)])
async def test_an_agent_first_leg_up_at_a_restart_is_decided_by_its_own_result(agent_first, tmp_path: Path, status: str, placed_again: bool) -> None:  # noqa: ANN001
    dispatcher, control, events, callbacks = agent_first
    await restored_in_doubt(tmp_path, dispatcher, callbacks, control, {"c1-cbold": "Up"})
    assert not control.originated and not control.hangups and callbacks.in_doubt == {"c1"}  # the agent is on it
    dispatcher.handle(CallbackResult(call_id="c1", agent_id="ana", status=status, leg_id="c1-cbold"))
    await run_actions(dispatcher)
    await asyncio.sleep(0.1)  # the retry delay
    await run_actions(dispatcher)
    assert bool(control.originated) is placed_again and not callbacks.in_doubt
    assert callbacks.is_callback("c1") is placed_again
