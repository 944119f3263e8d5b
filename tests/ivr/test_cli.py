"""``acd ivr validate|show|graph``: output, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd.cli import main

from .conftest import SAMPLES, write

BROKEN = "entry: hola\nnodes:\n  hola: {type: play, prompt: hello-world, next: nada}\n"


def test_validate_prints_problems_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yaml", BROKEN)
    assert main(["ivr", "validate", "--no-sounds", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{bad}:3:49: nodes.hola.next: no node named 'nada' in this flow\n"
    assert err == "1 problem(s) in 1 file(s); prompts not checked (no sounds folder)\n"


def test_validate_json_lists_file_line_column_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yaml", BROKEN)
    assert main(["ivr", "validate", "--no-sounds", "--json", str(bad)]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"file": str(bad), "line": 3, "column": 49, "message": "nodes.hola.next: no node named 'nada' in this flow"}
    ]


def test_validate_exits_0_when_everything_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "ok.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")
    assert main(["ivr", "validate", "--no-sounds", "--json", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [] and err.startswith("ok: 1 flow file(s) valid")


def test_validate_checks_prompts_against_the_given_sounds_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sounds = tmp_path / "sounds" / "es"
    sounds.mkdir(parents=True)
    (sounds / "beep.gsm").write_bytes(b"")
    flow = write(tmp_path, "flows/f.yaml", "entry: f\nnodes:\n  f: {type: message, prompt: [beep, bienvenida]}\n")
    assert main(["ivr", "validate", "--sounds", str(tmp_path / "sounds"), str(flow)]) == 1
    assert "prompt 'bienvenida' not found" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ivr", "validate", "/nonexistent/flows"], "acd ivr: /nonexistent/flows: no such file or folder\n"),
        (["ivr", "validate", "--sounds", "/nonexistent/sounds", "."], "acd ivr: --sounds /nonexistent/sounds: not a folder\n"),
        (["ivr", "show", "nada", "--dir", "/nonexistent"], "acd ivr: nada: not a file, and --dir /nonexistent is not a folder\n"),
        (["ivr", "graph", "probe", "-o", "x.gif", "--dir", str(SAMPLES)], "acd ivr: -o x.gif: use a .dot, .svg, .png or .pdf file name\n"),
    ],
)
def test_bad_usage_is_one_clear_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_empty_folder_is_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"acd ivr: no flow files (*.yaml, *.yml) in {tmp_path}\n"


def test_environment_sounds_folder_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACD_SOUNDS_DIR", str(tmp_path / "missing"))
    write(tmp_path, "ok.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")
    assert main(["ivr", "validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"acd ivr: ACD_SOUNDS_DIR={tmp_path / 'missing'}: not a folder\n"


def test_show_prints_the_flow_as_a_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "show", "probe", "--dir", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "entry:\n└── saludo: play hello-world\n    └── next → tecla: collect 1 digits (any) into ${probe_digit}" in out
    assert "        ├── next → fin: hang up\n        └── fallback → fin  (see above)\n" in out


def test_show_a_broken_file_lists_its_problems_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yaml", BROKEN)
    assert main(["ivr", "show", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{bad}:3:49: nodes.hola.next: no node named 'nada' in this flow",
        f"acd ivr: {bad} has problems; run 'acd ivr validate {bad}'",
    ]


def test_graph_writes_dot_with_every_node_and_edge(tmp_path: Path) -> None:
    output = tmp_path / "mesa.dot"
    assert main(["ivr", "graph", "mesa-ayuda", "--dir", str(SAMPLES), "-o", str(output)]) == 0
    dot = output.read_text(encoding="utf-8")
    assert dot.startswith('digraph "mesa-ayuda" {')
    assert '"menu_principal" -> "compradores" [label="1"];' in dot
    assert '"otras_consultas" -> "flow:flow otras-consultas" [style=dashed];' in dot


def test_graph_renders_svg_with_graphviz(tmp_path: Path) -> None:
    output = tmp_path / "probe.svg"
    assert main(["ivr", "graph", "probe", "--dir", str(SAMPLES), "-o", str(output)]) == 0
    assert "<svg" in output.read_text(encoding="utf-8")


def test_graph_without_graphviz_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["ivr", "graph", "probe", "--dir", str(SAMPLES), "-o", str(tmp_path / "p.png")]) == 1
    assert capsys.readouterr().err == "acd ivr: Graphviz 'dot' is not installed (apt-get install graphviz), or write a .dot file instead\n"


def test_validate_without_a_path_checks_the_settings_flows_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Not ./ivr_flows: the folder `acd run` serves (ivr.flows_dir, relative to acd.yaml)."""
    bad = write(tmp_path, "engine/served/bad.yaml", BROKEN)
    write(tmp_path, "engine/acd.yaml", "ivr: {flows_dir: served}\n")
    write(tmp_path, "ivr_flows/ok.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")  # a decoy in the current folder
    monkeypatch.chdir(tmp_path)
    assert main(["ivr", "validate", "--no-sounds", "--settings", str(tmp_path / "engine" / "acd.yaml")]) == 1
    assert capsys.readouterr().out == f"{bad}:3:49: nodes.hola.next: no node named 'nada' in this flow\n"
    monkeypatch.chdir(tmp_path / "engine")  # ./acd.yaml is read like every command reads it
    assert main(["ivr", "validate", "--no-sounds"]) == 1
    assert "no node named 'nada'" in capsys.readouterr().out


def test_show_and_graph_find_flow_names_in_the_settings_flows_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "served/corto.yaml", "name: corto\nentry: f\nnodes:\n  f: {type: hangup}\n")
    write(tmp_path, "acd.yaml", "ivr: {flows_dir: served}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["ivr", "show", "corto"]) == 0
    assert "corto" in capsys.readouterr().out
    assert main(["ivr", "graph", "corto", "-o", str(tmp_path / "corto.dot")]) == 0
    assert (tmp_path / "corto.dot").read_text().startswith("digraph")
    capsys.readouterr()
    write(tmp_path, "acd.yaml", "ivr: {flows_dir: gone}\n")
    assert main(["ivr", "show", "corto"]) == 2
    assert capsys.readouterr().err == f"acd ivr: corto: not a file, and ivr.flows_dir {tmp_path / 'gone'} is not a folder\n"
