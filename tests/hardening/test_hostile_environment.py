"""A mistyped ``ACD_*`` variable is reported (name and closest real one, never the value)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from acd.settings import load_settings
from tests.hardening.hostile import run_acd

REPO = Path(__file__).resolve().parents[2]
SECRET = "hunter2-do-not-print"


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [("ACD_AMI_SECRT", "ACD_AMI_SECRET"), ("ACD_API_TOKN", "ACD_API_TOKEN"), ("ACD_MQTT_PASWORD", "ACD_MQTT_PASSWORD"), ("ACD_AGI_READ_TIMEOUT", "ACD_AGI_READ_TIMEOUT_S")],
)
def test_a_mistyped_variable_is_a_warning_naming_the_closest_setting_never_its_value(
    caplog: pytest.LogCaptureFixture, variable: str, suggestion: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="acd.settings"):
        settings = load_settings(None, environ={variable: SECRET})
    assert settings.ami.secret is None and settings.api.token is None  # ignored, not an error
    assert caplog.messages == [f"${variable}: unknown setting, ignored (did you mean ${suggestion}?); settings variables are ACD_<SECTION>_<FIELD>"]
    assert SECRET not in caplog.text


def test_a_variable_like_no_setting_is_reported_without_a_suggestion() -> None:
    from acd.settings import unknown_variables

    assert unknown_variables({"ACD_WHATEVER": "1"}) == ["$ACD_WHATEVER: unknown setting, ignored; settings variables are ACD_<SECTION>_<FIELD>"]


def test_settings_and_other_variables_are_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"ACD_AMI_SECRET": "x", "ACD_LIMITS_YAML_MAX_NODES": "5000", "ACD_LAB_NAME": "dev", "ACD_TEST_LAB_SLOT": "1", "HOME": "/root"}
    with caplog.at_level(logging.WARNING, logger="acd.settings"):
        load_settings(None, environ=environ)
    assert caplog.messages == []


def _variables_read_from_the_environment() -> set[str]:
    """Every ``ACD_*`` name the code and lab scripts read from the process environment."""
    python = re.compile(r"""environ(?:\.get\(|\[)\s*["'](ACD_[A-Z0-9_]+)""")
    shell = re.compile(r"\$\{(ACD_[A-Z0-9_]+)")
    names: set[str] = set()
    for path in [*REPO.glob("src/**/*.py"), *REPO.glob("tests/**/*.py"), *REPO.glob("deploy/**/*.sh"), REPO / "Makefile"]:
        text = path.read_text(encoding="utf-8", errors="replace")
        names |= set(python.findall(text)) | set(shell.findall(text))
    return names


def test_every_variable_the_lab_and_tools_read_is_known() -> None:
    from acd.settings import unknown_variables

    names = _variables_read_from_the_environment()
    assert {"ACD_SOUNDS_DIR", "ACD_TEST_LAB_SLOT", "ACD_LAB_NAME", "ACD_AMI_USER"} <= names
    assert unknown_variables(dict.fromkeys(names, "x")) == []


def test_variables_read_through_a_named_constant_are_known_too() -> None:
    from acd.privacy import KEY_ENV
    from acd.settings import unknown_variables

    assert unknown_variables({KEY_ENV: "x", "ACD_AGI_KEY": "y"}) == []


def test_acd_prints_the_warning_and_keeps_going(tmp_path: Path) -> None:
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("ACD_")}, "ACD_API_TOKN": SECRET}
    run = run_acd("queues", "--url", "http://127.0.0.1:9", "--timeout", "1", cwd=tmp_path, environ=environ)
    assert run.code == 3  # the engine is not running: the warning did not stop the command
    assert "$ACD_API_TOKN: unknown setting, ignored (did you mean $ACD_API_TOKEN?)" in run.err
    assert SECRET not in run.err + run.out
