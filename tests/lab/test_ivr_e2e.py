"""The IVR end to end: sipp callers through the real sample flows and a compact test flow."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.ivr.rut import check_digit
from acd.lab.sipp import AwaitHangup, Dtmf, Hangup, Wait
from acd.privacy import mask_text
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SANTIAGO = ZoneInfo("America/Santiago")


def clock_at(year: int, month: int, day: int, hour: int, minute: int = 0):  # noqa: ANN201
    """A clock that starts at a chosen Santiago wall time and then runs normally."""
    start = datetime(year, month, day, hour, minute, tzinfo=SANTIAGO).timestamp()
    origin = time.time()
    return lambda: start + (time.time() - origin)


MONDAY_MORNING = (2026, 11, 23, 10)  # a working Monday
SATURDAY = (2026, 11, 21, 11)


def rut_keys(body: str) -> str:
    digit = check_digit(body)
    return body + ("*" if digit == "K" else digit) + "#"


async def test_buyer_picks_1_types_rut_and_is_queued_with_it_attached(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    keys = rut_keys("12345678")
    async with running_app(lab, tmp_path, flows_dir=REPO / "ivr_flows", ivr_clock=clock_at(*MONDAY_MORNING)) as (app, sink):
        caller = await sipp.start_callers(
            "buyer", [Wait(1.0), Dtmf("1"), Wait(1.0), Dtmf(keys, gap=0.25), Wait(6), Hangup()], calls=[("100", "56944440000")]
        )
        queued = await wait_for(sink, lambda e: e.type == "call.queued", 40)
        result = await caller.wait(40)
        abandoned = await wait_for(sink, lambda e: e.type == "call.abandoned", 10)
    assert queued.queue == "compradores"
    assert queued.data["attached"] == {"rut": f"*********{check_digit('12345678')}", "segmento": "compradores"}  # masked in the log
    call_id = abandoned.call_id
    nodes = [e.data["node"] for e in of_type(sink, "ivr.node", call_id)]
    assert nodes[:4] == ["bienvenida", "horario", "menu_principal", "compradores"]
    assert "pedir_rut" in nodes and nodes[-1] == "cola_compradores"
    versions = {e.data["flow_version"] for e in of_type(sink, "ivr.node", call_id)}
    assert versions == {app.flows.get("mesa-ayuda").version}
    assert result.ok, result.describe()


async def test_after_hours_caller_hears_the_closed_message_and_is_hung_up(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, flows_dir=REPO / "ivr_flows", ivr_clock=clock_at(*SATURDAY)) as (app, sink):
        caller = await sipp.start_callers("night", [AwaitHangup(40)], calls=[("100", "56955550000")])
        result = await caller.wait(45)
        ended = await wait_for(sink, lambda e: e.type == "call.ended", 10)
    nodes = [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)]
    assert nodes == ["bienvenida", "horario", "fuera_de_horario"]
    assert ended.data["cause"] == "ivr-hangup"
    assert result.ok and result.remote_byes == 1, result.describe()


TEST_FLOW = """
name: prueba
numbers: ["500"]
entry: menu
nodes:
  menu:
    type: menu
    prompt: beep
    keys: {"1": rut, "2": despedida}
    timeout: 1.5
    retries: 1
    invalid: beep
    no_input: beep
    fallback: sin_respuesta
  rut:
    type: collect
    prompt: beep
    save_as: rut
    validate: rut
    min_digits: 8
    max_digits: 9
    terminator: "#"
    timeout: 3
    inter_digit_timeout: 2
    retries: 1
    invalid: beep
    next: despedida
    fallback: rut_fallido
  despedida: {type: message, prompt: beep}
  rut_fallido: {type: message, prompt: beep}
  sin_respuesta: {type: message, prompt: beep}
"""


def inputs(sink, call_id: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(e.data["node"], e.data["kind"], e.data.get("digits", "")) for e in of_type(sink, "ivr.input", call_id)]


async def run_test_flow(lab, sipp, tmp_path, steps, flow: str = TEST_FLOW):  # noqa: ANN001, ANN201
    async with running_app(lab, tmp_path, flows=flow) as (app, sink):
        caller = await sipp.start_callers("caller", steps, calls=[("500", "56966660000")])
        result = await caller.wait(40)
        ended = await wait_for(sink, lambda e: e.type == "call.ended", 10)
    return result, ended, sink


async def test_invalid_key_then_valid_key(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, [Wait(0.8), Dtmf("7"), Wait(1.0), Dtmf("2"), AwaitHangup(20)])
    assert inputs(sink, ended.call_id)[:2] == [("menu", "invalid", "7"), ("menu", "valid", "2")]
    assert [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)][-1] == "despedida"
    assert result.ok, result.describe()


async def test_a_key_pressed_during_the_long_invalid_prompt_is_not_lost(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    # Spanish pbx-invalid lasts ~5.5 s; the caller presses the right key 1.5 s into it.
    flow = TEST_FLOW.replace("    invalid: beep\n    no_input: beep\n    fallback: sin_respuesta", "    invalid: pbx-invalid\n    no_input: beep\n    fallback: sin_respuesta")
    assert "pbx-invalid" in flow
    steps = [Wait(0.8), Dtmf("7"), Wait(1.5), Dtmf("2"), AwaitHangup(20)]
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, steps, flow=flow)
    assert inputs(sink, ended.call_id)[:2] == [("menu", "invalid", "7"), ("menu", "valid", "2")]
    assert [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)][-1] == "despedida"
    assert result.ok, result.describe()


async def test_no_input_retries_then_takes_the_fallback(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, [AwaitHangup(30)])
    assert [kind for _, kind, _ in inputs(sink, ended.call_id)] == ["timeout", "timeout"]
    assert [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)][-1] == "sin_respuesta"
    assert result.ok and result.remote_byes == 1, result.describe()


async def test_valid_rut_is_accepted(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    keys = rut_keys("7654321")
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, [Wait(0.8), Dtmf("1"), Wait(0.8), Dtmf(keys, gap=0.2), AwaitHangup(20)])
    assert ("rut", "valid", mask_text(keys.rstrip("#"))) in inputs(sink, ended.call_id)  # never in clear in the log
    assert [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)][-1] == "despedida"
    assert result.ok, result.describe()


async def test_rut_with_wrong_check_digit_is_rejected_twice_then_fallback(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    body = "7654321"
    wrong = str((int(check_digit(body)) + 1) % 10) if check_digit(body) not in "K0" else "5"
    keys = body + wrong + "#"
    steps = [Wait(0.8), Dtmf("1"), Wait(0.8), Dtmf(keys, gap=0.2), Wait(1.0), Dtmf(keys, gap=0.2), AwaitHangup(20)]
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, steps)
    assert [kind for node, kind, _ in inputs(sink, ended.call_id) if node == "rut"] == ["invalid", "invalid"]
    assert [e.data["node"] for e in of_type(sink, "ivr.node", ended.call_id)][-1] == "rut_fallido"
    assert result.ok, result.describe()


async def test_caller_hanging_up_mid_menu_is_recorded(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    # 1 s in: the menu (prompt, 1.5 s wait, one retry) runs for ~4 s; 0.5 s was sometimes
    # before the first node on a loaded machine (answer, AGI connect, the AGI key check).
    result, ended, sink = await run_test_flow(lab, sipp, tmp_path, [Wait(1.0), Hangup()])
    assert ended.data["cause"] == "caller-hangup" and ended.data["node"] == "menu"
    assert result.ok and result.remote_byes == 0


async def test_hot_reload_applies_to_new_calls_while_a_call_in_progress_keeps_its_version(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    long_menu = TEST_FLOW.replace("timeout: 1.5", "timeout: 6")
    async with running_app(lab, tmp_path, flows=long_menu) as (app, sink):
        old_version = app.flows.get("prueba").version
        first = await sipp.start_callers("first", [Wait(4), Dtmf("2"), AwaitHangup(20)], calls=[("500", "56900000011")])
        first_node = await wait_for(sink, lambda e: e.type == "ivr.node" and e.data["node"] == "menu")
        # Ops staff save an edited flow while the first caller is still in the menu.
        (tmp_path / "flows" / "cola.yaml").write_text(long_menu.replace("despedida: {type: message, prompt: beep}", "despedida: {type: message, prompt: vm-goodbye}"))
        loop = asyncio.get_running_loop()
        saved_at = loop.time()
        while app.flows.get("prueba").version == old_version:
            assert loop.time() - saved_at < 2.0, "the saved flow was not applied within 2 s"
            await asyncio.sleep(0.05)
        new_version = app.flows.get("prueba").version
        second = await sipp.start_callers("second", [Wait(0.8), Dtmf("2"), AwaitHangup(20)], calls=[("500", "56900000022")])
        results = [await first.wait(30), await second.wait(30)]
        await wait_for(sink, lambda e: e.type == "call.ended" and e.call_id != first_node.call_id)
    first_versions = {e.data["flow_version"] for e in of_type(sink, "ivr.node", first_node.call_id)}
    second_call = next(e.call_id for e in of_type(sink, "call.ended") if e.call_id != first_node.call_id)
    second_versions = {e.data["flow_version"] for e in of_type(sink, "ivr.node", second_call)}
    assert first_versions == {old_version}
    assert second_versions == {new_version}
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_invalid_edit_is_rejected_and_previous_version_keeps_serving(lab, sipp, tmp_path, caplog) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path) as (app, sink):
        version = app.flows.get("cola").version
        (tmp_path / "flows" / "cola.yaml").write_text("name: cola\nnumbers: ['300']\nentry: nowhere\nnodes:\n  a: {type: hangup}\n")
        await asyncio.sleep(1.5)
        assert app.flows.get("cola").version == version
        caller = await sipp.start_callers("caller", [Wait(3), Hangup()], calls=[("300", "56900000033")])
        await wait_for(sink, lambda e: e.type == "call.queued", 15)
        await caller.wait(20)
    assert any("cola.yaml:3:8:" in record.getMessage() for record in caplog.records), [r.getMessage() for r in caplog.records]


async def test_engine_stop_hands_a_call_in_the_menu_back_to_the_dialplan(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    slow_menu = TEST_FLOW.replace("timeout: 1.5", "timeout: 30")
    # Held 2 s for the engine to come back (acd-engine-away), then, with no fallback queue,
    # "nobody available, try again" and the line is closed.
    away = "continuity:\n  hold_callers_s: 2\n  retry_engine_s: 1\n  fallback_queue: ''\n  away_message: ''\n"
    async with running_app(lab, tmp_path, flows=slow_menu, extra_yaml=away) as (app, sink):
        await wait_for(sink, lambda e: e.type == "ami.connected", 20)  # Asterisk knows the plan
        caller = await sipp.start_callers("caller", [AwaitHangup(30)], calls=[("500", "56900000044")])
        await wait_for(sink, lambda e: e.type == "ivr.node" and e.data["node"] == "menu")
        loop = asyncio.get_running_loop()
        stopping = loop.time()
        await app.engine.stop(grace_s=0.5)
        result = await caller.wait(20)
        ended_after = loop.time() - stopping
    # Asterisk played "nobody available, try again" before hanging up: not a dropped line.
    assert result.ok and result.remote_byes == 1, result.describe()
    assert ended_after > 2.0
    log = (lab.log_dir / "messages.log").read_text(errors="replace")
    assert "engine unreachable, holding" in log and "engine gave no next step" in log
