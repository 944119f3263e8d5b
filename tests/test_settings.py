"""Engine settings: positioned errors, environment overrides, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.cli import main
from acd.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acd.yaml"
    path.write_text(text)
    return path


def test_defaults_bind_everything_to_loopback(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "site: lab\n"), environ={})
    assert settings.agi.host == settings.ami.host == settings.api.host == "127.0.0.1"
    assert settings.ami.secret is None


def test_secret_comes_from_environment_and_never_shows_in_repr(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "ami:\n  username: acd\n"), environ={"ACD_AMI_SECRET": "s3cr3t-value"})
    assert settings.ami.secret is not None and settings.ami.secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


def test_every_problem_is_reported_with_file_line_field_found_and_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "agi:\n  port: abc\nami:\n  ping_interval_s: -1\nbogus: 1\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    messages = [str(problem) for problem in caught.value.problems]
    assert messages == [
        f"{path}:2:9: agi.port: found 'abc' (text), expected a valid integer, unable to parse string as an integer",
        f"{path}:4:20: ami.ping_interval_s: found -1 (an integer), expected greater than 0",
        f"{path}:5:1: bogus: unknown field",
    ]


def test_bad_environment_override_names_the_variable_and_hides_secret_values(tmp_path: Path) -> None:
    path = write(tmp_path, "site: lab\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={"ACD_AMI_PORT": "99999"})
    assert [p.file for p in caught.value.problems] == ["$ACD_AMI_PORT"]
    assert "99999" in caught.value.problems[0].message


def test_malformed_yaml_is_one_positioned_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "agi:\n  port: [1,\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].line == 3
    assert "malformed YAML" in caught.value.problems[0].message


def test_duplicate_key_is_reported_with_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, "site: a\nsite: b\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert str(caught.value.problems[0]) == f"{path}:2:1: duplicate key 'site' (first defined on line 1)"


def test_yaml_times_and_no_are_not_reinterpreted(tmp_path: Path) -> None:
    path = write(tmp_path, "site: no\n")
    assert load_settings(path, environ={}).site == "no"


def test_acd_run_with_bad_settings_exits_2_with_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "agi:\n  port: 0\nlog:\n  format: xml\n")
    assert main(["run", "--settings", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"{path}:2:9: agi.port: found 0")
    assert err[1].startswith(f"{path}:4:11: log.format: found 'xml'")


def test_missing_settings_file_named_explicitly_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--settings", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml:1:1: file not found" in capsys.readouterr().err


def test_version_flag_prints_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("acd ")


@pytest.mark.parametrize("value", ["Mesa de Ayuda <6003000000>", "Atención Ciudadana <+56226000000>", "6003000000", ""])
def test_callback_caller_id_accepts_a_name_and_number_or_a_number(tmp_path: Path, value: str) -> None:
    settings = load_settings(write(tmp_path, f"callbacks:\n  caller_id: \"{value}\"\n"), environ={})
    assert settings.callbacks.caller_id == value


@pytest.mark.parametrize("value", ["Mesa, de Ayuda <600>", "Mesa <60030a>", "<6003000000>)", "Mesa de Ayuda", "x" * 5 + "<12>"])
def test_callback_caller_id_that_asterisk_would_misread_is_refused_with_its_line(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"site: lab\ncallbacks:\n  caller_id: \"{value}\"\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{path}:3:") and "callbacks.caller_id" in str(problem)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACD_AMI_USERNAME", "acd\r\nAction: Originate"),
        ("ACD_AMI_SECRET", "s3cr3t\r\n\r\nAction: Originate"),
        ("ACD_CALLBACKS_CUSTOMER_DIAL", "PJSIP/{number}@customers\nAction: Hangup"),
        ("ACD_CALLBACKS_CALLER_ID", "Mesa <6003000000>\r\n"),
        ("ACD_ROUTING_HOLD_CONTEXT", "acd-hold\x00"),
    ],
)
def test_a_setting_that_would_inject_into_ami_is_refused_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, "site: lab\n"), environ={variable: value})
    [problem] = caught.value.problems
    assert problem.file == f"${variable}"
    assert "one line" in problem.message or "'Name <number>'" in problem.message
    if "SECRET" in variable:
        assert "s3cr3t" not in problem.message and "hidden" in problem.message


def test_a_line_break_in_the_settings_file_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'callbacks:\n  customer_dial: "PJSIP/{number}@customers\\r\\nAction: Hangup"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert [str(p).split(": found")[0] for p in caught.value.problems] == [f"{path}:2:18: callbacks.customer_dial"]
