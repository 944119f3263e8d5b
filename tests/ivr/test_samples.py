"""The sample flows in ivr_flows/: valid, and doing what the help line needs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner
from acd.ivr.sounds import default_sounds_dir
from acd.ivr.testing import EventRecorder, FakeClock, ScriptedChannel, Silence, keys
from acd.ivr.validate import flow_files_in, validate_paths

from .conftest import SAMPLES, SANTIAGO, RecordingHandoff

# Sounds present in Asterisk core sounds 'es' (asterisk-core-sounds-es-gsm 1.6.1), checked by hand.
CORE_ES_PROMPTS = {
    "auth-thankyou", "beep", "digits/1", "digits/2", "digits/3", "digits/5", "hello-world", "pbx-invalid",
    "please-try-again", "privacy-incorrect", "transfer", "vm-dialout", "vm-enter-num-to-call", "vm-goodbye",
    "vm-nobodyavail", "vm-press", "vm-reachoper", "vm-sorry", "vm-starmain", "vm-then-pound",
}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> FlowRegistry:
    registry = FlowRegistry(SAMPLES)
    assert registry.load() == []
    return registry


def sounds_folder(tmp_path: Path) -> Path:
    """The lab's real sounds when installed, else a stand-in holding exactly CORE_ES_PROMPTS."""
    real = default_sounds_dir()
    if real is not None:
        return real
    for prompt in CORE_ES_PROMPTS:
        path = tmp_path / "es" / f"{prompt}.gsm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path


def test_sample_flows_validate_clean_including_prompts(tmp_path: Path) -> None:
    report = validate_paths([SAMPLES], sounds_dir=sounds_folder(tmp_path))
    assert [str(p) for p in report.problems] == []
    assert sorted(report.flows) == ["mesa-ayuda", "otras-consultas", "probe"]
    assert [p.name for p in flow_files_in(SAMPLES)] == ["mesa-ayuda.yaml", "otras-consultas.yaml", "probe.yaml"]


def test_sample_prompts_are_core_spanish_sounds(registry: FlowRegistry) -> None:
    used = {ref.prompt for flow in registry.snapshot().values() for node in flow.nodes.values() for ref in node.prompt_refs()}
    assert used <= CORE_ES_PROMPTS, used - CORE_ES_PROMPTS


def test_numbers_map_to_the_main_flow_and_the_probe(registry: FlowRegistry) -> None:
    assert registry.for_number("100").name == "mesa-ayuda"  # type: ignore[union-attr]
    assert registry.for_number("199").name == "probe"  # type: ignore[union-attr]
    assert registry.for_number("101") is None


async def call(registry: FlowRegistry, script: list, when: datetime, entry: str | None = None, dialed: str = "100"):  # noqa: ANN001, ANN201
    clock = FakeClock(when)
    events = EventRecorder()
    handoff = RecordingHandoff()
    runner = FlowRunner(emit=events, clock=clock, handoff=handoff, flows=registry.snapshot())
    channel = ScriptedChannel(script, clock=clock, dialed=dialed)
    result = await runner.run(registry.for_number(dialed), channel, entry)  # type: ignore[arg-type]
    return result, channel, events, handoff


TUESDAY_10 = datetime(2025, 3, 4, 10, 0, tzinfo=SANTIAGO)


async def test_buyer_with_rut_reaches_the_buyers_queue_with_the_rut_attached(registry: FlowRegistry) -> None:
    result, channel, events, handoff = await call(registry, ["1", *keys("10000013*", gap=0.8), "#"], TUESDAY_10)
    assert (result.action, result.queue) == ("queue", "compradores")
    [request] = handoff.requests
    assert request.attached == {"rut": "10000013-K", "segmento": "compradores"}
    assert channel.variables == {"ACD_ACTION": "queue"}
    assert [e.data["node"] for e in events.of("ivr.node")] == [
        "bienvenida", "horario", "menu_principal", "compradores", "pedir_rut", "derivar", "cola_compradores",
    ]  # fmt: skip


async def test_supplier_without_a_rut_still_reaches_the_suppliers_queue(registry: FlowRegistry) -> None:
    result, channel, _, handoff = await call(registry, ["2", Silence(), Silence(), Silence()], TUESDAY_10)
    assert (result.action, result.queue) == ("queue", "proveedores")
    assert handoff.requests[0].attached == {"rut": "", "segmento": "proveedores"}
    assert channel.played.count("vm-sorry") == 3


async def test_zero_goes_to_the_general_queue(registry: FlowRegistry) -> None:
    result, _, _, handoff = await call(registry, ["0"], TUESDAY_10)
    assert result.queue == "general"
    assert handoff.requests[0].attached == {"rut": "", "origen": "ivr-100"}


async def test_other_questions_flow_transfers_and_can_come_back(registry: FlowRegistry) -> None:
    result, _, _, _ = await call(registry, ["3", "1"], TUESDAY_10)
    assert (result.action, result.target, result.flow) == ("transfer", "2001", "otras-consultas")
    result, _, _, _ = await call(registry, ["3", "*", "2", Silence(), Silence(), Silence()], TUESDAY_10)
    assert (result.flow, result.queue) == ("mesa-ayuda", "proveedores")


@pytest.mark.parametrize(
    ("when", "node"),
    [
        (datetime(2025, 3, 4, 20, 0, tzinfo=SANTIAGO), "fuera_de_horario"),
        (datetime(2025, 3, 7, 17, 30, tzinfo=SANTIAGO), "fuera_de_horario"),  # Friday closes at 17:00
        (datetime(2025, 3, 8, 10, 0, tzinfo=SANTIAGO), "fuera_de_horario"),  # Saturday
        (datetime(2025, 9, 18, 10, 0, tzinfo=SANTIAGO), "feriado"),
    ],
)
async def test_after_hours_and_holidays_play_a_message_and_hang_up(registry: FlowRegistry, when: datetime, node: str) -> None:
    result, channel, _, _ = await call(registry, [], when)
    assert (result.action, result.last_node) == ("hangup", node)
    assert channel.played == ["hello-world", "vm-nobodyavail", "vm-goodbye"] and channel.hung_up


async def test_post_call_survey_records_both_answers(registry: FlowRegistry) -> None:
    result, _, events, _ = await call(registry, ["4", "5"], TUESDAY_10, entry="encuesta")
    assert [(e.data["question"], e.data["score"]) for e in events.of("survey.answer")] == [("atencion", 4), ("resolucion", 5)]
    assert result.last_node == "gracias"


async def test_probe_reads_one_key_into_a_variable_and_hangs_up(registry: FlowRegistry) -> None:
    result, channel, events, _ = await call(registry, ["7"], TUESDAY_10, dialed="199")
    assert result.variables["probe_digit"] == "7"
    assert (result.action, channel.played, channel.hung_up) == ("hangup", ["hello-world", "beep"], True)
    assert [(e.data["kind"], e.data["digits"]) for e in events.of("ivr.input")] == [("valid", "7")]
