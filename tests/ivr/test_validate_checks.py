"""Set-wide checks (goto, numbers, prompts) and the field checks that need more than pydantic."""

from __future__ import annotations

import textwrap
from pathlib import Path

from acd.ivr.sounds import SoundLibrary
from acd.ivr.validate import validate_paths, validate_text

from .conftest import flow_from, write


def messages(text: str) -> list[str]:
    return [p.message for p in validate_text(textwrap.dedent(text).lstrip("\n"), "f.yaml")]


def make_sounds(root: Path) -> Path:
    for relative in ["es/vm-goodbye.gsm", "es/digits/1.gsm", "en/goodbye.gsm", "en/digits/1.gsm", "custom-top.wav"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def test_goto_to_a_flow_outside_the_validated_set_is_reported(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", "entry: ir\nnodes:\n  ir: {type: goto, flow: otro}\n  ir2: {type: goto, flow: main}\n")
    report = validate_paths([main])
    assert [str(p) for p in report.problems] == [
        f"{main}:3:26: nodes.ir.flow: no flow named 'otro' among the validated flows (known: main)",
        f"{main}:4:3: nodes.ir2: never reached from entry 'ir'; link it from another node or delete it",
    ]
    write(tmp_path, "otro.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")
    assert [p.message for p in validate_paths([tmp_path]).problems] == [
        "nodes.ir2: never reached from entry 'ir'; link it from another node or delete it"
    ]


def test_goto_to_a_missing_node_of_another_flow_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "main.yaml", "entry: ir\nnodes:\n  ir: {type: goto, flow: otro, node: nada}\n")
    write(tmp_path, "otro.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")
    [problem] = validate_paths([tmp_path]).problems
    assert (problem.line, problem.column, problem.message) == (3, 38, "nodes.ir.node: flow 'otro' has no node named 'nada'")


def test_a_node_entered_by_goto_from_another_flow_counts_as_reached(tmp_path: Path) -> None:
    write(tmp_path, "main.yaml", "entry: ir\nnodes:\n  ir: {type: goto, flow: otro, node: lateral}\n")
    write(tmp_path, "otro.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n  lateral: {type: hangup}\n")
    assert validate_paths([tmp_path]).ok


def test_loop_across_flows_without_input_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "entry: ir\nnodes:\n  ir: {type: goto, flow: b}\n")
    write(tmp_path, "b.yaml", "entry: vuelta\nnodes:\n  vuelta: {type: goto, flow: a}\n")
    assert [p.message for p in validate_paths([tmp_path]).problems] == [
        "nodes.ir: loop that never waits for the caller: ir → b:vuelta → ir; "
        "put a menu, collect or survey in the loop (an interruptible play does not count)"
    ]


def test_duplicate_flow_names_and_numbers_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: uno\nnumbers: ['100', '100']\nentry: f\nnodes:\n  f: {type: hangup}\n")
    b = write(tmp_path, "b.yaml", "name: uno\nentry: f\nnodes:\n  f: {type: hangup}\n")
    problems = validate_paths([tmp_path]).problems
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'a.yaml'}:2:18: numbers.1: '100' is already answered by this flow already",
        f"{b}:1:7: name: flow name 'uno' is already used by a.yaml",
    ]


def test_prompts_are_checked_against_the_language_and_its_fallback(tmp_path: Path) -> None:
    sounds = SoundLibrary(make_sounds(tmp_path / "sounds"))
    text = "entry: f\nnodes:\n  f: {type: message, prompt: [vm-goodbye, goodbye, digits/1, custom-top, nada]}\n"
    problems = validate_text(text, "f.yaml", sounds)
    assert [(p.line, p.column, p.message) for p in problems] == [
        (3, 74, f"nodes.f.prompt.4: prompt 'nada' not found in language 'es' or 'en' under {tmp_path / 'sounds'}")
    ]


def test_language_folder_can_be_a_debian_voice_folder(tmp_path: Path) -> None:
    root = tmp_path / "sounds"
    (root / "es_MX_f_Allison").mkdir(parents=True)
    (root / "es_MX_f_Allison" / "hello-world.gsm").write_bytes(b"")
    (root / "en").symlink_to(root / "does-not-exist")  # a dangling alternatives link
    sounds = SoundLibrary(root)
    assert sounds.exists("hello-world", ["es", "en"])
    assert not sounds.exists("hello-world", ["en"])


def test_unquoted_numbers_keep_their_written_spelling(tmp_path: Path) -> None:
    flow = flow_from(
        tmp_path,
        """
        numbers: [100, 0700]
        entry: pasar
        nodes:
          pasar: {type: transfer, to: +56223334444}
        """,
    )
    assert flow.numbers == ("100", "0700")
    assert flow.nodes["pasar"].to == "+56223334444"  # type: ignore[union-attr]


def test_unquoted_number_with_leading_zero_keeps_its_written_text() -> None:
    from acd.ivr.loader import load_flow_bytes

    text = "name: f\nnumbers: ['100', 0800, +5622]\nentry: f\nnodes:\n  f: {type: hangup}\n"
    assert validate_text(text, "f.yaml") == []
    loaded = load_flow_bytes(text.encode(), "f.yaml")
    assert loaded.flow is not None and loaded.flow.numbers == ("100", "0800", "+5622")


def test_field_combinations_are_checked() -> None:
    assert messages(
        """
        entry: a
        nodes:
          a:
            type: collect
            prompt: beep
            save_as: rut
            validate: rut
            terminator: "*"
            min_digits: 9
            max_digits: 8
            next: b
            fallback: b
          b: {type: queue, attach: [rut, "no valido"]}
          c: {type: branch, on: caller, cases: [{next: b}, {equals: "1", prefix: "2", next: b}], default: b}
          d: {type: collect, prompt: beep, save_as: x, validate: regex, regex: "([", next: b, fallback: b}
          e: {type: set, variables: {"1x": "${ok}", y: "${no", z: "${a b}"}, next: b}
          g: {type: collect, prompt: beep, save_as: x, terminator: , next: b, fallback: b}
          h: {type: play, prompt: hello-world.gsm, next: b}
        """
    ) == [
        "nodes.a.terminator: callers type the K of a RUT with '*'; use '#' as terminator",
        "nodes.a.min_digits: min_digits (9) is larger than max_digits (8)",
        "nodes.b: give the ACD a 'queue' name or the 'skills' the call needs",
        "nodes.b.attach.1: found 'no valido' (text), expected a variable name",
        "nodes.c.cases.0: give exactly one of equals, in, prefix or regex (found none)",
        "nodes.c.cases.1: give exactly one of equals, in, prefix or regex (found equals and prefix)",
        "nodes.d.regex: bad regular expression: unterminated character set at position 1",
        "nodes.e.variables.1x: '1x' is not a variable name (letters, digits and '_')",
        "nodes.e.variables.y: '${' without a closing '}'; write ${name}",
        "nodes.e.variables.z: '${a b}' is not a variable reference; use ${name} with letters, digits and '_'",
        "nodes.g.terminator: found nothing, expected '#', '*' or 'none'; write \"#\" in quotes, a bare # starts a comment",
        "nodes.h.prompt.0: found 'hello-world.gsm' (text), expected a sound name without its file extension (Asterisk picks the format)",
    ]


def test_top_level_problems_do_not_hide_node_problems() -> None:
    assert messages(
        """
        language: 5
        entry: a
        nodes:
          a: {type: menu, prompt: beep, keys: {"1": a}}
        """
    ) == [
        "language: found 5 (an integer), expected a valid string",
        "nodes.a.fallback: required field is missing",
    ]


def test_not_a_flow_at_all() -> None:
    assert messages("") == ["empty file: a flow needs at least 'entry' and 'nodes'"]
    assert messages("- a\n- b\n") == ["found a list, expected a flow: a mapping with 'entry' and 'nodes'"]
    assert messages("entry: a\nnodes: {}\n") == ["entry: no node named 'a' in this flow", "nodes: found a mapping, expected at least one entry"]
    assert messages("entry: a\nnodes: {a: 5, b: {}, c: {type: 7}}\n") == [
        "nodes.a: found 5 (an integer), expected a node: a mapping with a 'type'",
        "nodes.b: every node needs a 'type'; known types: branch, collect, goto, hangup, menu, message, play, queue, schedule, set, survey, transfer",
        "nodes.c.type: found 7 (an integer), expected a node type; known types: branch, collect, goto, hangup, menu, message, play, queue, schedule, set, survey, transfer",
    ]
