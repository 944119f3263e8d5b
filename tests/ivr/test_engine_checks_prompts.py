"""The engine applies `acd ivr validate`'s prompt check: a flow whose sound file does not exist
is refused at start and on hot reload, with the validator's FILE:LINE:COL line.

Before, the engine served such a flow and callers heard silence where the prompt should be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from acd.app import AppError, build_app
from acd.ivr.validate import validate_paths
from acd.settings import load_settings
from tests.api.helpers import ROUTING

GOOD = "name: saludo\nnumbers: ['500']\nentry: f\nnodes:\n  f: {type: message, prompt: [beep]}\n"
MISSING_PROMPT = "name: saludo\nnumbers: ['500']\nentry: f\nnodes:\n  f: {type: message, prompt: [beep, bienvenida]}\n"


def engine_folder(root: Path, flow: str, *, sounds_setting: str | None = "sounds") -> Path:
    """acd.yaml with paths relative to it: flows/, sounds/es/beep.gsm, routing.yaml."""
    (root / "sounds" / "es").mkdir(parents=True)
    (root / "sounds" / "es" / "beep.gsm").write_bytes(b"")
    (root / "flows").mkdir()
    (root / "flows" / "saludo.yaml").write_text(flow)
    (root / "routing.yaml").write_text(ROUTING)
    sounds = f", sounds_dir: {sounds_setting}" if sounds_setting else ""
    settings = root / "acd.yaml"
    settings.write_text(
        f"ivr: {{flows_dir: flows{sounds}}}\nrouting: {{config: routing.yaml}}\nmetrics: {{database: acd.sqlite}}\n"
        "callbacks: {database: cb.sqlite}\nrecording: {local_dir: rec}\nlog: {level: error}\n"
    )
    return settings


def validator_lines(root: Path) -> list[str]:
    return [str(p) for p in validate_paths([root / "flows"], sounds_dir=root / "sounds").problems]


def test_engine_start_with_a_missing_prompt_fails_with_the_validators_message(tmp_path: Path) -> None:
    settings = engine_folder(tmp_path, MISSING_PROMPT)
    [expected] = validator_lines(tmp_path)
    assert expected.startswith(f"{tmp_path / 'flows' / 'saludo.yaml'}:5:") and "'bienvenida' not found" in expected
    with pytest.raises(AppError) as refused:
        build_app(load_settings(settings))
    assert str(refused.value).splitlines() == [expected]


def test_engine_without_sounds_dir_checks_the_validators_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = engine_folder(tmp_path, MISSING_PROMPT, sounds_setting=None)
    monkeypatch.setenv("ACD_SOUNDS_DIR", str(tmp_path / "sounds"))
    with pytest.raises(AppError) as refused:
        build_app(load_settings(settings))
    assert str(refused.value).splitlines() == validator_lines(tmp_path)


def test_a_sounds_dir_that_is_not_a_folder_is_named(tmp_path: Path) -> None:
    settings = engine_folder(tmp_path, GOOD, sounds_setting="nowhere")
    with pytest.raises(AppError, match=r"^ivr.sounds_dir .*nowhere: not a folder$"):
        build_app(load_settings(settings))


def test_hot_reload_with_a_missing_prompt_is_rejected_and_the_previous_version_keeps_serving(tmp_path: Path) -> None:
    settings = engine_folder(tmp_path, GOOD)
    app = build_app(load_settings(settings))
    serving = app.flows.for_number("500")
    assert serving is not None
    (tmp_path / "flows" / "saludo.yaml").write_text(MISSING_PROMPT)
    problems = app.flows.reload()
    assert [str(p) for p in problems] == validator_lines(tmp_path)
    assert app.flows.for_number("500") is serving


def test_acd_run_and_acd_ivr_validate_print_the_same_line_from_the_same_settings(tmp_path: Path) -> None:
    """Both through the real CLI; validate without a path checks the settings' ivr.flows_dir."""
    settings = engine_folder(tmp_path, MISSING_PROMPT)
    env = {**os.environ, "ACD_AMI_SECRET": "x"}
    env.pop("ACD_SOUNDS_DIR", None)

    def acd(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "acd", *argv], cwd=tmp_path.parent, capture_output=True, text=True, timeout=60, env=env)

    run = acd("run", "--settings", str(settings))
    validate = acd("ivr", "validate", "--settings", str(settings))
    [expected] = validator_lines(tmp_path)
    assert (run.returncode, validate.returncode) == (2, 1)
    assert "Traceback" not in run.stderr + validate.stderr
    assert run.stderr.strip().splitlines() == [expected]
    assert validate.stdout.strip().splitlines() == [expected]
    assert f"prompts checked against {tmp_path / 'sounds'}" in validate.stderr
