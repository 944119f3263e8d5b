"""``acd routing validate`` applies the engine's own checks and defaults to the settings' file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acd", "routing", "validate", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_sample_routing_file_is_valid() -> None:
    done = run("deploy/routing.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: deploy/routing.yaml: 3 queue(s)" in done.stderr


def test_a_mistake_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "skills: [ventas]\n"
        "queues:\n"
        "  - name: ventas\n"
        "    skills: [ventas, soporte]\n"
        "agents: []\n"
    )
    done = run(str(routing), "--json")
    assert done.returncode == 1
    problems = json.loads(done.stdout)
    assert [(p["line"], "soporte" in p["message"]) for p in problems] == [(4, True)]
    assert problems[0]["file"] == str(routing)


def test_without_a_path_the_file_named_by_the_settings_is_checked(tmp_path: Path) -> None:
    routing = tmp_path / "conf" / "my-routing.yaml"
    routing.parent.mkdir()
    routing.write_text("skills: [a]\nqueues:\n  - name: q\n    skills: [a]\n    bogus: 1\n")
    (tmp_path / "acd.yaml").write_text("routing:\n  config: conf/my-routing.yaml\n")
    done = run(cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith(f"{routing}:5:")
    assert "bogus" in done.stdout


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"acd routing: {tmp_path / 'nope.yaml'}: no such file"
