"""Every operations command through ``acd.cli.main`` against a served engine: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd.cli import main
from tests.api.helpers import TOKEN, EngineThread, free_port, park

COMMANDS = [
    ["queues"],
    ["agents"],
    ["calls"],
    ["agent", "login", "ana"],
    ["agent", "logout", "ana"],
    ["agent", "pause", "ana", "--reason", "almuerzo"],
    ["agent", "unpause", "ana"],
    ["call", "priority", "c1", "3"],
    ["call", "move", "c1", "general"],
    ["top", "--once"],
]


@pytest.fixture(autouse=True)
def no_ambient_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No acd.yaml from the developer's folder, no token from their shell."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ACD_API_TOKEN", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run(capsys: pytest.CaptureFixture[str], engine: EngineThread | None, *argv: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    options = ["--url", engine.url if engine else f"http://127.0.0.1:{free_port()}"]
    if token is not None:
        options += ["--token", token]
    code = main([*argv, *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_queues_table_and_json(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, engine, "queues")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["QUEUE", "WAIT", "LONGEST"]
    assert {"compradores", "proveedores", "general"} <= set(out.split())
    assert "agents: 1 logged in, 1 available" in out
    code, out, _ = run(capsys, engine, "queues", "--json")
    stats = json.loads(out)
    assert code == 0 and [q["name"] for q in stats["queues"]] == ["compradores", "proveedores", "general"]
    assert [s["name"] for s in stats["skills"]] == ["compradores", "proveedores", "general"]


def test_agents_table_and_json(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, engine, "agents")
    assert code == 0
    ana = next(line for line in out.splitlines() if line.startswith("ana "))
    assert "available" in ana and "compradores:9" in ana
    code, out, _ = run(capsys, engine, "agents", "--json")
    agents = {a["id"]: a for a in json.loads(out)}
    assert code == 0 and agents["ana"]["state"] == "available" and agents["bruno"]["state"] == "logged_out"


def test_calls_table_and_json(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, engine, "calls")
    assert (code, out) == (0, "no calls in the queues\n")
    engine.call(lambda: park(engine.app, "c1", "general", waited_s=61))
    code, out, _ = run(capsys, engine, "calls")
    assert code == 0 and out.splitlines()[1].split()[:5] == ["c1", "general", "waiting", "1", "1:01"]
    code, out, _ = run(capsys, engine, "calls", "--json")
    [call] = json.loads(out)
    assert call["id"] == "c1" and call["position"] == 1


def test_agent_actions(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, engine, "agent", "login", "bruno")
    assert code == 0 and "available" in out.splitlines()[1]
    code, out, _ = run(capsys, engine, "agent", "pause", "bruno", "--reason", "almuerzo", "--json")
    assert code == 0 and json.loads(out)["state"] == "paused" and json.loads(out)["reason"] == "almuerzo"
    code, out, _ = run(capsys, engine, "agent", "unpause", "bruno", "--json")
    assert code == 0 and json.loads(out)["state"] == "available"
    code, out, _ = run(capsys, engine, "agent", "logout", "bruno", "--reason", "fin", "--json")
    assert code == 0 and json.loads(out)["state"] == "logged_out"
    assert engine.call(lambda: engine.app.router.agent("bruno").state) == "logged_out"  # type: ignore[union-attr]


def test_call_priority_and_move(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    engine.call(lambda: park(engine.app, "c1", "general", waited_s=5))
    code, out, _ = run(capsys, engine, "call", "priority", "c1", "7", "--json")
    assert code == 0 and json.loads(out)["priority"] == 7
    code, out, _ = run(capsys, engine, "call", "move", "c1", "compradores")
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["c1", "compradores", "ringing"]  # ana is available there
    assert engine.call(lambda: engine.app.router.call("c1").agent_id) == "ana"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "argv, named",
    [
        (["agent", "login", "zoe"], "zoe"),
        (["agent", "pause", "zoe", "--reason", "x"], "zoe"),
        (["call", "priority", "nope", "1"], "nope"),
        (["call", "move", "nope", "general"], "nope"),
        (["call", "move", "c1", "ventas"], "ventas"),
    ],
)
def test_unknown_ids_exit_1_naming_them(engine: EngineThread, capsys: pytest.CaptureFixture[str], argv: list[str], named: str) -> None:
    engine.call(lambda: park(engine.app, "c1", "general"))
    code, out, err = run(capsys, engine, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"'{named}'" in err


def test_refusals_and_invalid_values_exit_1_with_the_reason(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, engine, "agent", "login", "ana")
    assert code == 1 and err == "acd: agent 'ana' is already logged in (available)\n"
    engine.call(lambda: park(engine.app, "c1", "general"))
    code, _, err = run(capsys, engine, "call", "priority", "c1", "5000")
    assert code == 1 and err.startswith("acd: invalid request: priority:")
    code, _, err = run(capsys, engine, "agent", "pause", "ana", "--reason", "a;b")
    assert code == 1 and "reason" in err


@pytest.mark.parametrize("argv", COMMANDS)
def test_nothing_listening_is_exit_3_in_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, None, *argv)
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "engine not reachable" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", COMMANDS)
def test_a_wrong_token_is_exit_4(engine: EngineThread, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, engine, *argv, token="wrong-token")
    assert code == 4 and out == ""
    assert err == f"acd: the engine at {engine.url} refused the API token (401); check ACD_API_TOKEN\n"
    assert "wrong-token" not in err


def test_no_token_at_all_is_exit_4_saying_how_to_set_it(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, engine, "queues", token=None)
    assert code == 4 and "ACD_API_TOKEN" in err


def test_the_token_comes_from_the_environment(engine: EngineThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_API_TOKEN", TOKEN)
    code, out, _ = run(capsys, engine, "agents", "--json", token=None)
    assert code == 0 and len(json.loads(out)) == 4


def test_address_and_token_come_from_the_settings_file(engine: EngineThread, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "ops.yaml"
    settings.write_text(f"api:\n  port: {engine.settings.api.port}\n")
    monkeypatch.setenv("ACD_API_TOKEN", TOKEN)
    assert main(["calls", "--settings", str(settings)]) == 0
    assert capsys.readouterr().out == "no calls in the queues\n"


def test_a_bad_settings_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = tmp_path / "bad.yaml"
    settings.write_text("api:\n  port: abc\n")
    assert main(["queues", "--settings", str(settings)]) == 2
    assert "api.port" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["127.0.0.1:8573", "ftp://127.0.0.1:8573", "http://[oops", "http://127.0.0.1:port"])
def test_a_bad_url_is_exit_2(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert main(["queues", "--url", url, "--token", TOKEN]) == 2
    assert capsys.readouterr().err.startswith(f"acd: invalid API URL {url!r}")


def test_top_once_marks_the_queue_under_target(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    engine.call(lambda: park(engine.app, "c1", "general", waited_s=60))
    code, out, _ = run(capsys, engine, "top", "--once")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("acd top  site default") and "AMI DOWN" in lines[0]
    assert lines[1] == "! under target: general"
    marked = [line.split()[:3] for line in lines if line.startswith("!  ")]
    assert marked == [["!", "general", "1"]]  # the queue row: marker, name, 1 waiting
    unmarked = [line.split()[0] for line in lines[3:6] if line.startswith("   ")]
    assert unmarked == ["compradores", "proveedores"]
    assert any(line.startswith("ana ") for line in lines)
    assert "\x1b[" not in out  # not a terminal: no colour


def test_top_once_colours_the_queue_under_target_when_asked(engine: EngineThread, capsys: pytest.CaptureFixture[str]) -> None:
    engine.call(lambda: park(engine.app, "c1", "general", waited_s=60))
    code, out, _ = run(capsys, engine, "top", "--once", "--color", "always")
    assert code == 0
    red = [line for line in out.splitlines() if line.startswith("\x1b[1;31m!")]
    assert len(red) == 2 and red[0].startswith("\x1b[1;31m! under target: general")
    assert red[1].startswith("\x1b[1;31m!  general ") and red[1].endswith("\x1b[0m")
    assert "\x1b[1;31mcompradores" not in out and "\x1b[1;31m   compradores" not in out


def test_top_rejects_a_silly_interval(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["top", "--interval", "0"])
    assert exit_info.value.code == 2
