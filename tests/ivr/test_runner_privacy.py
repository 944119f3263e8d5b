"""Attached data a flow fills from personal data reaches the agent clear and the log masked."""

from __future__ import annotations

import textwrap
from pathlib import Path

from acd.dispatch import outcome_to_event
from acd.ivr.testing import ScriptedChannel, keys
from acd.ivr.validate import validate_text
from acd.privacy import Personal
from acd.routing.decisions import CallQueued

from .conftest import Harness, flow_from

ATTACHING = """
entry: pedir
nodes:
  pedir:
    type: collect
    prompt: vm-enter-num-to-call
    save_as: rut
    validate: rut
    min_digits: 8
    max_digits: 9
    next: marcar
    fallback: fin
  marcar:
    type: set
    variables:
      segmento: compradores
      nota: "RUT ${rut}"
      desde: "llamó ${caller}"
    next: cola
  cola:
    type: queue
    queue: compradores
    attach: {rut: "${rut}", nota: "${nota}", desde: "${desde}", segmento: "${segmento}", origen: "ivr-${dialed}", ticket: "T-42"}
    personal: [ticket]
  fin: {type: hangup}
"""


async def test_fields_filled_from_collected_or_caller_data_are_personal_and_kept_clear_for_the_agent(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel([*keys("12345678"), "5", "#"], caller="56977770000", clock=harness.clock)
    await harness.runner.run(flow_from(tmp_path, ATTACHING), channel)
    [request] = harness.handoff.requests
    assert request.attached == {
        "rut": "12345678-5", "nota": "RUT 12345678-5", "desde": "llamó 56977770000",
        "segmento": "compradores", "origen": "ivr-100", "ticket": "T-42",
    }
    personal = {name for name, value in request.attached.items() if isinstance(value, Personal)}
    assert personal == {"rut", "nota", "desde", "ticket"}  # collected, derived from it, the caller's number, marked


async def test_call_queued_event_masks_personal_attached_fields_the_router_keeps_clear() -> None:
    attached = {"rut": Personal("12345678-5"), "segmento": "compradores"}
    event = outcome_to_event(CallQueued("c1", "compradores", 0, ("compradores",), 10.0, 10.0, attached))
    assert event is not None
    assert event.data["attached"] == {"rut": "*********5", "segmento": "compradores"}
    assert "12345678" not in event.to_json()
    assert attached["rut"] == "12345678-5"  # the router's copy is untouched


def test_personal_must_name_an_attached_field() -> None:
    text = textwrap.dedent(ATTACHING.replace("personal: [ticket]", "personal: [ticket, tiket]")).lstrip("\n")
    problems = [str(p) for p in validate_text(text, "f.yaml")]
    assert problems == ["f.yaml:23:24: nodes.cola.personal.1: 'tiket' is not an attached field (attach: desde, nota, origen, rut, segmento, ticket)"]


async def test_a_transfer_to_a_collected_number_is_logged_masked_and_dialled_clear(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: pedir
        nodes:
          pedir: {type: collect, prompt: beep, save_as: numero, validate: numeric, min_digits: 9, max_digits: 9, next: marcar, fallback: fin}
          marcar: {type: transfer, to: "${numero}"}
          fin: {type: hangup}
        """,
    )
    channel = ScriptedChannel(keys("912345678"), clock=harness.clock)
    await harness.runner.run(flow, channel)
    assert channel.variables["ACD_TARGET"] == "912345678"
    assert [e.data["target"] for e in harness.events.of("call.transferred")] == ["********8"]
