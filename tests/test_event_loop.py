"""`acd run` runs on uvloop by default, on asyncio's own loop when told, and falls back to
it (one warning) when uvloop is missing; the engine then serves FastAGI on that loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acd.lab.ports import free_port
from acd.event_loop import loop_factory, run
from acd.settings import Settings

REPO = Path(__file__).resolve().parents[1]


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_and_runs_the_coroutine() -> None:
    assert Settings().runtime.event_loop == "uvloop"
    assert run(_loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_when_chosen() -> None:
    assert run(_loop_module(), "asyncio").startswith("asyncio")


def test_missing_uvloop_falls_back_to_asyncio_with_one_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    with caplog.at_level(logging.WARNING, logger="acd.event_loop"):
        factory, name = loop_factory("uvloop")
    assert (factory, name) == (None, "asyncio")
    assert [r.message for r in caplog.records] == ["runtime.event_loop is uvloop but uvloop is not installed: running on asyncio's own loop"]


def test_an_unknown_loop_name_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="event_loop"):
        Settings.model_validate({"runtime": {"event_loop": "trio"}})


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_acd_run_serves_fastagi_on_the_chosen_loop_and_stops_cleanly(tmp_path: Path, choice: str) -> None:
    port = free_port()
    settings = tmp_path / "acd.yaml"
    settings.write_text(
        f"agi: {{port: {port}}}\nami: {{port: 1}}\n"
        f"routing: {{config: {REPO / 'deploy' / 'routing.yaml'}}}\nivr: {{flows_dir: {REPO / 'ivr_flows'}}}\n"
        f"metrics: {{database: {tmp_path / 'acd.sqlite'}}}\ncallbacks: {{database: {tmp_path / 'cb.sqlite'}}}\n"
        f"recording: {{local_dir: {tmp_path / 'rec'}}}\nlog: {{level: info}}\nruntime: {{event_loop: {choice}}}\n"
    )
    log_file = tmp_path / "run.log"
    with log_file.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "acd", "run", "--settings", str(settings), "--grace", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "ACD_AMI_SECRET": "x"},
        )
    try:
        deadline = time.monotonic() + 30
        answered = b""
        while time.monotonic() < deadline and not answered:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as agi:
                    # A session from somebody who is not Asterisk: asked for the AGI key, then closed.
                    agi.sendall(b"agi_request: agi://127.0.0.1/ivr\nagi_channel: PJSIP/x-1\nagi_uniqueid: 1.1\n\n")
                    answered = agi.recv(200)
            except OSError:
                time.sleep(0.2)
        assert answered.startswith(b"GET VARIABLE \"ACD_AGI_KEY\""), log_file.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_file.read_text()
    assert f"event loop: {choice}" in text
    assert "Traceback" not in text
