"""Every node type, driven by a scripted caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.ivr.testing import HangUp, Press, ScriptedChannel, Silence, keys

from .conftest import Harness, flow_from

MENU = """
entry: menu
nodes:
  menu:
    type: menu
    prompt: [vm-press, digits/1]
    keys: {"1": uno, "#": gato}
    timeout: 4
    retries: 2
    invalid: pbx-invalid
    no_input: vm-sorry
    fallback: respaldo
  uno:
    type: hangup
  gato:
    type: hangup
  respaldo:
    type: hangup
"""


async def test_play_plays_every_prompt_in_order_then_goes_next(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: hola
        nodes:
          hola: {type: play, prompt: [hello-world, beep], next: fin}
          fin: {type: hangup}
        """,
    )
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert channel.played == ["hello-world", "beep"]
    assert [entry for entry in channel.log if entry[0] == "stream_file"][0][3] == ""  # not interruptible
    assert result.action == "hangup" and result.last_node == "fin"


async def test_interruptible_play_keeps_the_key_for_the_next_menu(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        MENU.replace("entry: menu", "entry: hola").replace(
            "nodes:\n", "nodes:\n  hola: {type: play, prompt: [hello-world, beep], interruptible: true, next: menu}\n"
        ),
    )
    channel = ScriptedChannel(["1"], clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert channel.played == ["hello-world"]  # beep and the menu prompt are skipped
    assert result.last_node == "uno"
    inputs = [(e.data["node"], e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")]
    assert inputs == [("hola", "digits", "1"), ("menu", "valid", "1")]


async def test_key_pressed_during_a_non_interruptible_play_is_lost(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        MENU.replace("entry: menu", "entry: hola").replace("nodes:\n", "nodes:\n  hola: {type: play, prompt: hello-world, next: menu}\n"),
    )
    channel = ScriptedChannel([Press("1", after=1.0), Press("#", after=2.0)], clock=harness.clock, prompt_seconds=3.0)
    result = await harness.runner.run(flow, channel)
    assert channel.discarded == ["1"]
    assert result.last_node == "gato"


async def test_menu_valid_key_interrupts_the_prompt_and_goes_to_its_node(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel(["#"], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert channel.played == ["vm-press"]
    assert result.last_node == "gato"


async def test_menu_invalid_key_plays_invalid_prompt_then_retries(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel(["7", Press("1", after=0.5)], clock=harness.clock)  # "1" only once the menu plays again
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert channel.played == ["vm-press", "pbx-invalid", "vm-press", "digits/1"]
    assert result.last_node == "uno"
    assert [(e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")] == [("invalid", "7"), ("valid", "1")]


async def test_a_key_pressed_during_the_invalid_prompt_answers_the_retry_without_the_menu_again(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel(["7", Press("1", after=1.0)], clock=harness.clock, prompt_seconds=2.0)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert result.last_node == "uno"
    assert channel.discarded == []  # the "1" was not lost to the prompt
    assert channel.played == ["vm-press", "pbx-invalid"]  # it cut "invalid option" short
    assert [(e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")] == [("invalid", "7"), ("valid", "1")]


async def test_the_invalid_prompt_before_the_fallback_is_played_whole(tmp_path: Path, harness: Harness) -> None:
    # Three wrong keys use up the retries; nothing waits for a key after the last "invalid".
    channel = ScriptedChannel(["7", "7", "7", Press("1", after=1.0)], clock=harness.clock, prompt_seconds=2.0)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert result.last_node == "respaldo"
    assert channel.played == ["vm-press", "pbx-invalid", "pbx-invalid", "pbx-invalid"]
    assert channel.discarded == ["1"]


async def test_menu_silence_plays_no_input_and_falls_back_after_the_last_retry(tmp_path: Path, harness: Harness) -> None:
    start = harness.clock()
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert channel.played == ["vm-press", "digits/1", "vm-sorry"] * 3
    assert [entry for entry in channel.log if entry[0] == "wait_for_digit"] == [("wait_for_digit", 4.0)] * 3
    assert result.last_node == "respaldo"
    assert harness.clock() - start == 12.0
    assert [e.data["kind"] for e in harness.events.of("ivr.input")] == ["timeout"] * 3


async def test_menu_key_after_a_timeout_is_taken_on_the_next_try(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel([Press("1", after=6.0)], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert result.last_node == "uno"
    assert [e.data["kind"] for e in harness.events.of("ivr.input")] == ["timeout", "valid"]


COLLECT = """
entry: pedir
nodes:
  pedir:
    type: collect
    prompt: [vm-enter-num-to-call, vm-then-pound]
    save_as: rut
    validate: rut
    min_digits: 8
    max_digits: 9
    timeout: 5
    inter_digit_timeout: 3
    total_timeout: 20
    retries: 1
    invalid: privacy-incorrect
    no_input: vm-sorry
    next: listo
    fallback: sin_rut
  listo: {type: hangup}
  sin_rut: {type: hangup}
"""


async def test_collect_rut_with_star_as_k_is_saved_normalized(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel([*keys("10000013*", gap=1.0), "#"], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert result.last_node == "listo"
    assert result.variables["rut"] == "10000013-K"
    assert channel.played == ["vm-enter-num-to-call"]  # the first key interrupted the prompt
    assert [(e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")] == [("valid", "*********")]


async def test_collect_stops_at_max_digits_without_terminator(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel(["123456785", "#"], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert result.variables["rut"] == "12345678-5"
    assert channel.script and channel.script[0] == Press("#")  # never read


async def test_collect_invalid_check_digit_plays_invalid_then_falls_back(tmp_path: Path, harness: Harness) -> None:
    # max_digits ends the first entry; the second starts once the prompts played again
    channel = ScriptedChannel(["123456789", *keys("12345#", first_after=0.5)], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert result.last_node == "sin_rut"
    assert "rut" not in result.variables
    assert channel.played == ["vm-enter-num-to-call", "privacy-incorrect", "vm-enter-num-to-call", "vm-then-pound", "privacy-incorrect"]
    assert [(e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")] == [("invalid", "********9"), ("invalid", "****5")]


async def test_digits_typed_during_the_invalid_prompt_start_the_retrys_entry(tmp_path: Path, harness: Harness) -> None:
    # A wrong RUT; the caller starts the right one while "the RUT is not valid" plays.
    channel = ScriptedChannel(["123456789", Press("1", after=1.0), *keys("0000013*#", gap=0.5)], clock=harness.clock, prompt_seconds=2.0)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert result.last_node == "listo" and result.variables["rut"] == "10000013-K"
    assert channel.discarded == []
    assert channel.played == ["vm-enter-num-to-call", "privacy-incorrect"]


async def test_collect_inter_digit_timeout_ends_the_entry(tmp_path: Path, harness: Harness) -> None:
    # 8 digits, then a pause longer than inter_digit_timeout: the entry is what was typed.
    channel = ScriptedChannel([*keys("1234567", gap=1.0), Press("5", after=3.5)], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert [(e.data["kind"], e.data["digits"]) for e in harness.events.of("ivr.input")][0] == ("invalid", "******7")
    assert result.last_node == "sin_rut"


async def test_collect_total_timeout_ends_a_slow_entry(tmp_path: Path, harness: Harness) -> None:
    # One key every 2.9 s: each within inter_digit_timeout, but the 8th would come after 20.3 s.
    channel = ScriptedChannel(keys("123456785", gap=2.9), clock=harness.clock)
    await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    first = harness.events.of("ivr.input")[0]
    assert (first.data["kind"], first.data["digits"]) == ("invalid", "******7")
    waits = [entry[1] for entry in channel.log if entry[0] == "wait_for_digit"]
    assert waits[:6] == [3.0] * 6 and waits[6] == pytest.approx(20 - 6 * 2.9, abs=1e-3)


async def test_collect_silence_plays_no_input(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel([Silence(), Silence()], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert channel.played == ["vm-enter-num-to-call", "vm-then-pound", "vm-sorry"] * 2
    assert result.last_node == "sin_rut"


async def test_collect_numeric_and_regex_validators(tmp_path: Path, harness: Harness) -> None:
    numeric = COLLECT.replace("validate: rut", "validate: numeric").replace("min_digits: 8", "min_digits: 2")
    result = await harness.runner.run(flow_from(tmp_path, numeric, "n.yaml"), ScriptedChannel(["12*#", "42#"], clock=harness.clock))
    assert result.variables["rut"] == "42"
    regex = COLLECT.replace("validate: rut", "validate: regex\n    regex: '9[0-9]+'").replace("min_digits: 8", "min_digits: 1")
    result = await harness.runner.run(flow_from(tmp_path, regex, "r.yaml"), ScriptedChannel(["19#", "91#"], clock=harness.clock))
    assert result.variables["rut"] == "91"


BRANCH = """
entry: segun
nodes:
  segun:
    type: branch
    on: caller
    cases:
      - equals: "anonymous"
        next: anonimo
      - in: ["221234567", "229876543"]
        next: conocido
      - prefix: ["+569", "569"]
        next: movil
      - regex: "^2[0-9]{8}$"
        next: fijo
    default: otro
  anonimo: {type: hangup}
  conocido: {type: hangup}
  movil: {type: hangup}
  fijo: {type: hangup}
  otro: {type: hangup}
"""


async def test_branch_takes_the_first_matching_condition_or_default(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, BRANCH)
    expected = {
        "anonymous": "anonimo",
        "221234567": "conocido",
        "56912345678": "movil",
        "+56912345678": "movil",
        "223334444": "fijo",
        "12": "otro",
    }
    for caller, node in expected.items():
        result = await harness.runner.run(flow, ScriptedChannel(caller=caller, clock=harness.clock))
        assert result.last_node == node, caller


async def test_branch_on_an_asterisk_channel_variable(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, BRANCH.replace("on: caller", "on: channel:CDR(accountcode)"))
    channel = ScriptedChannel(clock=harness.clock, channel_variables={"CDR(accountcode)": "anonymous"})
    assert (await harness.runner.run(flow, channel)).last_node == "anonimo"
    assert ("get_variable", "CDR(accountcode)") in channel.log


async def test_set_substitutes_variables_and_queue_attaches_them(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: marcar
        nodes:
          marcar:
            type: set
            variables:
              segmento: proveedores
              nota: "${segmento} desde ${caller} ${nada}"
            next: cola
          cola:
            type: queue
            queue: proveedores
            skills: [licitaciones, compras]
            priority: 3
            attach: {nota: "${nota}", segmento: "${segmento}"}
            prompt: vm-dialout
        """,
    )
    channel = ScriptedChannel(caller="221234567", clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert result.action == "queue" and result.queue == "proveedores" and result.skills == ("licitaciones", "compras")
    [request] = harness.handoff.requests
    assert request.attached == {"nota": "proveedores desde 221234567 ", "segmento": "proveedores"}
    assert (request.queue, request.skills, request.priority) == ("proveedores", ("licitaciones", "compras"), 3)
    assert (request.flow, request.flow_version) == (flow.name, flow.version)
    assert channel.variables == {"ACD_ACTION": "queue"}  # the queue labels are the hand-off's (acd.channel_variables)
    assert channel.played == ["vm-dialout"]
    assert not channel.hung_up  # the dialplan parks the caller


async def test_queue_refused_by_the_acd_goes_to_fallback(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: cola
        nodes:
          cola: {type: queue, queue: general, fallback: lo_siento}
          lo_siento: {type: message, prompt: vm-nobodyavail}
        """,
    )
    harness.handoff.fail_with = RuntimeError("ACD down")
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert result.action == "hangup" and result.last_node == "lo_siento"
    assert channel.played == ["vm-nobodyavail"] and channel.hung_up
    assert harness.events.of("ivr.error")[0].data["message"] == "queue hand-off failed: RuntimeError: ACD down"


async def test_transfer_sets_the_target_for_the_dialplan(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(
        tmp_path,
        """
        entry: pasar
        nodes:
          pasar: {type: transfer, to: "0${dialed}", prompt: transfer}
        """,
    )
    channel = ScriptedChannel(dialed="2001", clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert (result.action, result.target) == ("transfer", "02001")
    assert channel.variables == {"ACD_ACTION": "transfer", "ACD_TARGET": "02001"}
    assert harness.events.of("call.transferred")[0].data["target"] == "02001"
    assert not channel.hung_up


async def test_message_plays_then_hangs_up(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: chao\nnodes:\n  chao: {type: message, prompt: [vm-nobodyavail, vm-goodbye]}\n")
    channel = ScriptedChannel(["1"], clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert channel.played == ["vm-nobodyavail", "vm-goodbye"]
    assert channel.variables["ACD_ACTION"] == "hangup" and channel.hung_up
    assert result.action == "hangup"
    assert harness.events.of("call.ended")[0].data["cause"] == "ivr-hangup"


async def test_hangup_node_hangs_up_at_once(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, "entry: fin\nnodes:\n  fin: {type: hangup}\n")
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(flow, channel)
    assert channel.log == [("answer",), ("set_language", "es"), ("set_variable", "ACD_ACTION", "hangup"), ("hangup",)]
    assert result.action == "hangup"


SURVEY = """
entry: menu
after_call: encuesta
nodes:
  menu: {type: hangup}
  encuesta:
    type: survey
    prompt: auth-thankyou
    questions:
      - {name: atencion, prompt: [vm-press, digits/1, digits/5]}
      - {name: resolucion, prompt: beep}
      - {name: recomendaria, prompt: beep}
    timeout: 5
    retries: 1
    invalid: pbx-invalid
    no_input: vm-sorry
    next: gracias
  gracias: {type: message, prompt: vm-goodbye}
"""


async def test_survey_starts_at_after_call_and_emits_one_answer_per_question(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, SURVEY)
    channel = ScriptedChannel(["5", "9", Press("3", after=0.5), Silence(), Silence()], clock=harness.clock)
    result = await harness.runner.run(flow, channel, entry=flow.after_call)
    answers = [(e.data["question"], e.data["score"], e.call_id) for e in harness.events.of("survey.answer")]
    assert answers == [("atencion", 5, "call-1"), ("resolucion", 3, "call-1")]
    assert result.variables["survey_atencion"] == "5" and "survey_recomendaria" not in result.variables
    assert channel.played == ["auth-thankyou", "beep", "pbx-invalid", "beep", "beep", "vm-sorry", "beep", "vm-sorry", "vm-goodbye"]
    assert result.last_node == "gracias"


async def test_a_score_pressed_during_the_surveys_invalid_prompt_answers_the_question(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, SURVEY)
    channel = ScriptedChannel(["5", "9", Press("3", after=1.0)], clock=harness.clock, prompt_seconds=2.0)
    await harness.runner.run(flow, channel, entry=flow.after_call)
    assert [(e.data["question"], e.data["score"]) for e in harness.events.of("survey.answer")] == [("atencion", 5), ("resolucion", 3)]
    assert channel.discarded == []


async def test_goto_continues_in_the_other_flow_with_its_language(tmp_path: Path, harness: Harness) -> None:
    main = flow_from(tmp_path, "entry: ir\nnodes:\n  ir: {type: goto, flow: ingles, node: hola}\n", "main.yaml")
    other = flow_from(
        tmp_path,
        """
        name: ingles
        language: en
        entry: nunca
        nodes:
          nunca: {type: hangup}
          hola: {type: message, prompt: hello-world}
        """,
        "ingles.yaml",
    )
    channel = ScriptedChannel(clock=harness.clock)
    result = await harness.runner.run(main, channel, flows={"ingles": other})
    assert channel.played_in == [("en", "hello-world")]
    assert (result.flow, result.last_node, result.flow_version) == ("ingles", "hola", other.version)
    assert [(e.data["flow"], e.data["node"]) for e in harness.events.of("ivr.node")] == [("main", "ir"), ("ingles", "hola")]


async def test_events_carry_call_flow_version_node_and_clock_time(tmp_path: Path, harness: Harness) -> None:
    flow = flow_from(tmp_path, MENU)
    start = harness.clock()
    await harness.runner.run(flow, ScriptedChannel([Press("1", after=2.0)], call_id="abc", clock=harness.clock))
    node_event, input_event, end_node = harness.events[:3]
    assert node_event.type == "ivr.node" and node_event.ts == start and node_event.call_id == "abc"
    assert node_event.data == {"flow": "flow", "flow_version": flow.version, "node": "menu", "node_type": "menu"}
    assert input_event.type == "ivr.input" and input_event.ts == start + 2.0
    assert input_event.data == {"flow": "flow", "flow_version": flow.version, "node": "menu", "kind": "valid", "digits": "1"}
    assert end_node.data["node"] == "uno"
    assert harness.events.of("call.ended")[0].data["cause"] == "ivr-hangup"


async def test_caller_hang_up_mid_menu_ends_cleanly(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel(["7", HangUp()], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, MENU), channel)
    assert result.action == "caller-hangup" and result.last_node == "menu"
    ended = harness.events.of("call.ended")
    assert [(e.data["cause"], e.data["node"]) for e in ended] == [("caller-hangup", "menu")]
    assert not channel.hung_up  # the IVR did not hang up a channel that was already gone


async def test_a_collected_rut_is_masked_in_the_event_log_but_kept_for_the_call(tmp_path: Path, harness: Harness) -> None:
    channel = ScriptedChannel([*keys("12345678", gap=0.5), "5", "#"], clock=harness.clock)
    result = await harness.runner.run(flow_from(tmp_path, COLLECT), channel)
    assert result.variables["rut"] == "12345678-5"  # the agent still gets it
    logged = [e.to_json() for e in harness.events]
    assert not any("12345678" in line for line in logged)
    assert [e.data["digits"] for e in harness.events.of("ivr.input")] == ["********5"]
