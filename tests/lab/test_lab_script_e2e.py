"""``lab.sh`` behaves the same on either back end (``ACD_LAB_BACKEND`` chroot or docker).

The session lab answers the read-only questions (a command without a terminal, where the
sounds are); a second small lab of this slot is started and stopped for the checks that
change a lab's state (restart on a configuration change, a taken AMI port)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from acd.ivr.sounds import SoundLibrary
from tests.lab.conftest import LAB_SH, side_lab_env

pytestmark = pytest.mark.lab


def lab_sh(env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAB_SH), *args], env=env, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)


@pytest.fixture
def side_lab() -> Iterator[dict[str, str]]:
    env = side_lab_env("side")
    yield env
    lab_sh(env, "down", timeout_s=60)


def lab_pid(env: dict[str, str]) -> int:
    log_dir = Path(lab_sh(env, "logs").stdout.strip())
    return int((log_dir.parent / "asterisk.pid").read_text())


def test_cli_runs_one_command_without_a_terminal(lab) -> None:  # noqa: ANN001
    result = lab_sh(lab.env, "cli", "-x", "core show version", timeout_s=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Asterisk 22."), result.stdout + result.stderr


def test_sounds_dir_holds_the_prompts_asterisk_plays(lab) -> None:  # noqa: ANN001
    env_lines = dict(line.split("=", 1) for line in lab_sh(lab.env, "env").stdout.splitlines())
    library = SoundLibrary(env_lines["ACD_SOUNDS_DIR"])
    listing = lab.cli("core show sounds").splitlines()
    assert listing[0] == "Available audio files:", listing[:3]
    played = {line.strip() for line in listing[1:] if line.strip()}
    on_disk = library.prompts("es") | library.prompts("en")
    assert len(played) > 400 and "hello-world" in played
    assert played == on_disk, f"Asterisk only: {sorted(played - on_disk)[:5]}; folder only: {sorted(on_disk - played)[:5]}"


def test_changed_configuration_restarts_a_running_lab(side_lab: dict[str, str]) -> None:
    first = lab_sh(side_lab, "up")
    assert first.returncode == 0, first.stderr
    before = lab_pid(side_lab)
    assert "agent3" not in lab_sh(side_lab, "cli", "-x", "pjsip show endpoints").stdout
    unchanged = lab_sh(side_lab, "up")
    assert unchanged.returncode == 0 and "already running" in unchanged.stderr, unchanged.stderr
    assert lab_pid(side_lab) == before
    changed = lab_sh({**side_lab, "ACD_LAB_AGENTS": "3"}, "up")
    assert changed.returncode == 0, changed.stderr
    assert "configuration changed since this lab started; restarting it" in changed.stderr
    assert lab_pid(side_lab) != before
    assert "agent3" in lab_sh(side_lab, "cli", "-x", "pjsip show endpoints").stdout


def test_taken_ami_port_stops_the_start_with_a_clear_message(side_lab: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(side_lab["ACD_LAB_AMI_PORT"])))
        squatter.listen()
        started = time.monotonic()
        result = lab_sh(side_lab, "up")
        took = time.monotonic() - started
    name, port = side_lab["ACD_LAB_NAME"], side_lab["ACD_LAB_AMI_PORT"]
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"lab[{name}]: error: AMI port 127.0.0.1:{port} is already taken by another program (set ACD_LAB_AMI_PORT)"
    )
    assert took < 60, f"refused after {took:.0f} s"
    assert lab_sh(side_lab, "status").stdout.strip() == "not running"
    assert not os.path.exists(Path(lab_sh(side_lab, "logs").stdout.strip()).parent / "asterisk.pid")
