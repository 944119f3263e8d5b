"""Non-finite and absurd numbers are refused at every edge: files, environment, API, command line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from acd.ivr.validate import validate_text
from acd.metrics.sla import ContractError, load_contract
from acd.routing import load_routing_text
from acd.settings import Settings, SettingsError, _Section, load_settings
from tests.api.conftest import InProcess
from tests.api.test_api_write import park
from tests.hardening.hostile import run_acd

NON_FINITE = [".inf", "-.inf", ".nan"]


def _numeric_settings() -> list[tuple[str, str]]:
    """Every int and float field of every settings section: a new one is swept automatically."""
    found = []
    for section, section_field in Settings.model_fields.items():
        model = section_field.annotation
        if isinstance(model, type) and issubclass(model, _Section):
            found += [(section, name) for name, field in model.model_fields.items() if field.annotation in (int, float)]
    return found


NUMERIC_SETTINGS = _numeric_settings()


def test_the_sweep_covers_the_timeouts_and_sizes_the_hostile_tester_used() -> None:
    assert {("agi", "read_timeout_s"), ("agi", "max_header_bytes"), ("ami", "action_timeout_s"), ("limits", "yaml_max_nodes")} <= set(NUMERIC_SETTINGS)


@pytest.mark.parametrize("value", [*NON_FINITE, "1e15"])
@pytest.mark.parametrize(("section", "name"), NUMERIC_SETTINGS)
def test_every_numeric_setting_refuses_non_finite_and_absurd_values_with_its_line(tmp_path: Path, section: str, name: str, value: str) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text(f"site: lab\n{section}:\n  {name}: {value}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 3) and problem.message.startswith(f"{section}.{name}: found")


@pytest.mark.parametrize("value", ["inf", "nan", "1e15"])
def test_a_non_finite_environment_override_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, environ={"ACD_AGI_READ_TIMEOUT_S": value})
    [problem] = caught.value.problems
    assert problem.file == "$ACD_AGI_READ_TIMEOUT_S" and "agi.read_timeout_s" in problem.message


def test_acd_run_with_an_infinite_timeout_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "acd.yaml").write_text("agi:\n  read_timeout_s: .inf\n")
    run = run_acd("run", "--settings", "acd.yaml", cwd=tmp_path)
    run.assert_clear_refusal(2, "acd.yaml:2:19: agi.read_timeout_s: found inf (a number), expected a finite number")
    assert run.err.count("\n") == 1
    run.assert_bounded()


ROUTING = """\
skills: [general]
queues:
  - name: general
    skills: [general]
    QUEUE_FIELD
agents: [{id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}]
"""

ROUTING_NUMBERS = [
    "service_level: {threshold_s: VALUE}",
    "service_level: {target: VALUE}",
    "max_wait_s: VALUE",
    "wrap_up_s: VALUE",
    "ring_timeout_s: VALUE",
    "short_abandon_s: VALUE",
    "priority: VALUE",
    "expansion: [{after_s: VALUE, min_proficiency: 1}]",
    "waiting: {announce_every_s: VALUE}",
    "waiting: {callback_offer_after_s: VALUE}",
    "waiting: {callback_retry_s: VALUE}",
    "waiting: {default_handle_s: VALUE}",
]


@pytest.mark.parametrize("value", [*NON_FINITE, "1e15"])
@pytest.mark.parametrize("field", ROUTING_NUMBERS)
def test_every_routing_number_refuses_non_finite_and_absurd_values_with_its_line(field: str, value: str) -> None:
    text = ROUTING.replace("QUEUE_FIELD", field.replace("VALUE", value))
    config, problems = load_routing_text(text, "routing.yaml")
    assert config is None and problems and all(p.line == 5 for p in problems), [str(p) for p in problems]


FLOW = """\
entry: pedir
nodes:
  pedir: {type: collect, prompt: beep, save_as: rut, FIELD: VALUE, next: fin, fallback: fin}
  fin: {type: hangup}
"""


@pytest.mark.parametrize("value", [*NON_FINITE, "1e15"])
@pytest.mark.parametrize("field", ["timeout", "inter_digit_timeout", "total_timeout", "max_digits"])
def test_flow_timeouts_refuse_non_finite_and_absurd_values_with_their_line(field: str, value: str) -> None:
    problems = validate_text(FLOW.replace("FIELD", field).replace("VALUE", value), "flow.yaml")
    assert [(p.line, field in p.message) for p in problems] == [(3, True)], [str(p) for p in problems]


@pytest.mark.parametrize(
    "field",
    [
        "threshold_s: VALUE",
        "short_abandon_s: VALUE",
        "penalty_uf_per_tenth_service_level: VALUE",
        "penalty_uf_per_tenth_abandonment: VALUE",
        "unavailable_max_hours: VALUE",
    ],
)
@pytest.mark.parametrize("value", [*NON_FINITE, "1e15"])
def test_every_sla_contract_number_refuses_non_finite_and_absurd_values(tmp_path: Path, field: str, value: str) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text("start: 2025-01\n" + field.replace("VALUE", value) + "\n")
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 2) and field.split(":")[0] in problem.message


@pytest.mark.parametrize("raw", [b'{"priority": 1e400}', b'{"priority": -1e400}', b'{"priority": NaN}', b'{"priority": Infinity}', b'{"priority": 1e15}'])
async def test_an_infinite_or_absurd_priority_is_a_422_naming_the_field_not_a_500(inproc: InProcess, api: httpx.AsyncClient, raw: bytes) -> None:
    park(inproc.app, "c1", "general")
    response = await api.post("/api/calls/c1/priority", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    [error] = json.loads(response.text)["detail"]
    assert error["loc"] == ["body", "priority"] and ("finite" in error["msg"] or "less than" in error["msg"])
    assert inproc.app.router.call("c1").priority == 0  # type: ignore[union-attr]


CLIENT_COMMANDS = [["queues"], ["agents"], ["calls"], ["agent", "login", "ana"], ["call", "priority", "c1", "3"], ["top", "--once"]]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e15"])
@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_api_client_commands_refuse_a_silly_timeout_as_a_usage_error(tmp_path: Path, command: list[str], value: str) -> None:
    run = run_acd(*command, f"--timeout={value}", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    run.assert_clear_refusal(2, f"argument --timeout: must be a number > 0 and <= 3600, not '{value}'")
    assert run.out == "" and run.err.splitlines()[-1].startswith("acd ")
    run.assert_bounded()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["staffing", "--calls", "1e12", "--interval-seconds", "900", "--aht", "300"], "--calls must be at most 10,000,000, got 1e12"),
        (["staffing", "--calls", "1e6", "--interval-seconds", "900", "--aht", "300"], "offered load of 333,333 Erlangs"),
        (["staffing", "--calls", "100", "--interval-seconds", "900", "--aht", "1e15"], "--aht must be at most 86,400"),
        (["staffing", "--calls", "100", "--interval-seconds", "900", "--aht", "300", "--agents", "1000000000"], "--agents must be from 1 to 1,000,000"),
        (["run", "--grace", "nan"], "argument --grace: must be a number >= 0 and <= 3600, not 'nan'"),
        (["top", "--interval", "inf"], "argument --interval: must be a number >= 0.1 and <= 3600, not 'inf'"),
        (["bench", "routing", "--decisions", "1000000000000"], "argument --decisions: must be a whole number >= 1 and <= 100000000"),
        (["bench", "ami-ingest", "--phase-seconds", "nan"], "argument --phase-seconds: must be a number > 0 and <= 3600, not 'nan'"),
        (["report", "--from", "2025-01-01", "--to", "2025-01-02", "--threshold", "inf"], "--threshold must be a number >= 0 and <= 86400, not 'inf'"),
        (["report", "--from", "2025-01-01", "--to", "2025-01-02", "--target", "1e15"], "--target must be a number >= 0 and <= 100, not '1e15'"),
    ],
    ids=lambda item: " ".join(item) if isinstance(item, list) else "",
)
def test_cli_numbers_out_of_range_exit_2_with_one_clear_line_in_bounded_time(tmp_path: Path, argv: list[str], message: str) -> None:
    run = run_acd(*argv, cwd=tmp_path)
    run.assert_clear_refusal(2, message)
    run.assert_bounded()


SIMULATE_ROUTING = "skills: [general]\nqueues: [{name: general, skills: [general]}]\nagents: [{id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}]\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hours", "1e300", "--calls-per-hour", "general=10"], "--hours must be a number > 0 and <= 744"),
        (["--hours", "1", "--calls-per-hour", "general=1e12"], "--calls-per-hour general must be a number >= 0 and <= 100000"),
        (["--hours", "1", "--calls-per-hour", "general=10", "--patience", "inf"], "--patience must be a number > 0 and <= 86400"),
    ],
)
def test_acd_simulate_refuses_a_run_that_would_never_end(tmp_path: Path, flags: list[str], message: str) -> None:
    (tmp_path / "routing.yaml").write_text(SIMULATE_ROUTING)
    run = run_acd("simulate", "--routing", "routing.yaml", "--aht", "60", *flags, cwd=tmp_path)
    run.assert_clear_refusal(2, message)
    run.assert_bounded()
