"""Callback requests: one per number, durable across restarts, retried up to a limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acd.callbacks import Callback, CallbackPolicy, CallbackService, CallbackStore
from acd.ivr.testing import ScriptedChannel, keys
from acd.metrics.events import Event
from acd.waiting import WaitingService, valid_callback_number


@dataclass
class FakeAcd:
    queued: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)

    def queue_callback(self, callback: Callback) -> None:
        self.queued.append(callback.call_id)

    def withdraw(self, call_id: str) -> None:
        self.withdrawn.append(call_id)


async def service(tmp_path: Path, acd: FakeAcd, events: list[Event], *, max_attempts: int = 2) -> CallbackService:
    store = await CallbackStore.open(tmp_path / "callbacks.sqlite")
    policies = {"q": CallbackPolicy(max_attempts=max_attempts, retry_s=0.01, hours=None)}
    return CallbackService(store, acd, events.append, policies, clock=lambda: 1000.0)


async def test_a_second_request_from_the_same_number_replaces_the_first(tmp_path: Path) -> None:
    acd, events = FakeAcd(), []
    callbacks = await service(tmp_path, acd, events)
    await callbacks.request("c1", "q", "56911112222", wait_origin=900.0)
    await callbacks.request("c2", "q", "56911112222", wait_origin=950.0)
    assert not callbacks.is_callback("c1") and callbacks.is_callback("c2")
    assert acd.withdrawn == ["c1"]
    assert [e.call_id for e in events if e.type == "callback.requested"] == ["c1", "c2"]
    assert [c.call_id for c in await callbacks.store.open_requests()] == ["c2"]
    await callbacks.close()


async def test_open_requests_survive_a_restart_and_rejoin_their_queue_with_their_wait(tmp_path: Path) -> None:
    acd, events = FakeAcd(), []
    first = await service(tmp_path, acd, events)
    await first.request("c1", "q", "56911112222", wait_origin=900.0)
    await first.close()
    acd_after_restart = FakeAcd()
    second = await service(tmp_path, acd_after_restart, events)
    assert await second.restore() == 1
    assert acd_after_restart.queued == ["c1"]
    assert second.get("c1") is not None and second.get("c1").wait_origin == 900.0
    await second.close()


async def test_failed_attempts_are_retried_then_the_callback_fails_and_is_recorded(tmp_path: Path) -> None:
    acd, events = FakeAcd(), []
    callbacks = await service(tmp_path, acd, events, max_attempts=2)
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
