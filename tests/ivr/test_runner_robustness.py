"""Whatever the caller, the flow or the event sink do, a run ends cleanly."""

from __future__ import annotations

from pathlib import Path

from acd.ivr.channel import CallerHungUp
from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner
from acd.ivr.testing import EventRecorder, FakeClock, ScriptedChannel, keys
from acd.base.events import Event

from .conftest import SAMPLES, Harness, RecordingHandoff, flow_from

# Menu 1 (buyers), a valid RUT, then the queue: the longest path through the main sample.
HAPPY_PATH = ["1", *keys("123456785"), "#"]


async def test_caller_hanging_up_at_any_point_ends_the_run_cleanly(harness: Harness) -> None:
    registry = FlowRegistry(SAMPLES)
    registry.load()
    flow = registry.get("mesa-ayuda")
    full = ScriptedChannel(HAPPY_PATH, clock=harness.clock)
    assert (await harness.runner.run(flow, full, flows=registry.snapshot())).action == "queue"
    for n in range(1, full.calls + 1):
        events = EventRecorder()
        runner = FlowRunner(emit=events, clock=harness.clock, handoff=RecordingHandoff())
        channel = ScriptedChannel(HAPPY_PATH, clock=harness.clock, hangup_at_call=n)
        result = await runner.run(flow, channel, flows=registry.snapshot())
        assert result.action == "caller-hangup", n
        assert [e.data["cause"] for e in events.of("call.ended")] == ["caller-hangup"], n
        assert not events.of("ivr.error"), n


async def test_missing_prompt_is_played_in_the_fallback_language_then_language_restored(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: chao\nnodes:\n  chao: {type: message, prompt: [goodbye, vm-goodbye]}\n")
    channel = ScriptedChannel(clock=harness.clock, missing=["es:goodbye"])
    await harness.runner.run(flow, channel)
    assert channel.played_in == [("en", "goodbye"), ("es", "vm-goodbye")]
    assert [e for e in channel.log if e[0] == "set_language"] == [("set_language", "es"), ("set_language", "en"), ("set_language", "es")]
    assert not harness.events.of("ivr.error")


async def test_prompt_missing_in_both_languages_emits_ivr_error_and_the_call_goes_on(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: chao\nnodes:\n  chao: {type: message, prompt: [custom/nada, vm-goodbye]}\n")
    channel = ScriptedChannel(clock=harness.clock, missing=["custom/nada"])
    result = await harness.runner.run(flow, channel)
    assert channel.played == ["vm-goodbye"] and result.action == "hangup"
    [error] = harness.events.of("ivr.error")
    assert error.data["message"] == "prompt 'custom/nada' not found in language 'es' nor 'en'"
    assert error.data["node"] == "chao"


async def test_runaway_guard_ends_a_call_that_never_leaves_a_loop(tmp_path: Path) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: menu
        nodes:
          menu: {type: menu, prompt: beep, keys: {"1": eco}, fallback: fin}
          eco: {type: play, prompt: beep, next: menu}
          fin: {type: hangup}
        """,
    )
    clock = FakeClock()
    events = EventRecorder()
    channel = ScriptedChannel("1" * 100, clock=clock)
    result = await FlowRunner(emit=events, clock=clock, max_steps=20).run(flow, channel)
    assert result.action == "error" and result.steps == 21
    assert events.of("ivr.error")[0].data["message"] == "runaway flow: more than 20 steps in one call"
    assert channel.variables["ACD_ACTION"] == "hangup" and channel.hung_up


async def test_goto_to_a_flow_that_is_not_loaded_hangs_up_with_an_error(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: ir\nnodes:\n  ir: {type: goto, flow: ausente}\n")
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(flow, channel, flows={})
    assert result.action == "error" and channel.hung_up
    assert harness.events.of("ivr.error")[0].data["message"] == "goto: flow 'ausente' is not loaded"


async def test_a_failing_event_sink_does_not_drop_the_call(tmp_path: Path) -> None:
    def broken(event: Event) -> None:
        raise OSError("disk full")

    flow = flow_from(tmp_path, "entry: chao\nnodes:\n  chao: {type: message, prompt: vm-goodbye}\n")
    channel = ScriptedChannel()
    result = await FlowRunner(emit=broken, clock=FakeClock()).run(flow, channel)
    assert result.action == "hangup" and channel.played == ["vm-goodbye"]


async def test_caller_gone_during_the_hand_off_is_a_caller_hangup(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: cola\nnodes:\n  cola: {type: queue, queue: general, fallback: fin}\n  fin: {type: hangup}\n")
    harness.handoff.fail_with = CallerHungUp("gone")
    result = await harness.runner.run(flow, ScriptedChannel(clock=harness.clock))
    assert result.action == "caller-hangup" and result.last_node == "cola"


async def test_a_channel_bug_is_reported_and_the_call_hung_up(tmp_path: Path, harness: Harness) -> None:
    class Flaky(ScriptedChannel):
        async def wait_for_digit(self, timeout_s: float) -> str | None:
            raise ConnectionResetError("AGI socket closed")

    flow = flow_from(tmp_path, "entry: m\nnodes:\n  m: {type: menu, prompt: beep, keys: {'1': f}, fallback: f}\n  f: {type: hangup}\n")
    channel = Flaky(clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert result.action == "error" and "ConnectionResetError" in (result.error or "")
    assert channel.hung_up


def test_scripted_channel_implements_the_channel_protocol() -> None:
    from acd.ivr.channel import Channel

    assert isinstance(ScriptedChannel(), Channel)
