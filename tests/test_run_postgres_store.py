"""`acd run` on a PostgreSQL store (``ACD_STORE_URL``): the engine's own events land there,
and a store it cannot reach is one line without the password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from acd.lab.mosquitto import free_port
from acd.lab.postgres import Postgres

REPO = Path(__file__).resolve().parents[1]


def settings_file(tmp_path: Path) -> Path:
    settings = tmp_path / "acd.yaml"
    settings.write_text(
        f"agi: {{port: {free_port()}}}\nami: {{port: 1}}\napi: {{port: {free_port()}}}\n"
        f"routing: {{config: {REPO / 'deploy' / 'routing.yaml'}}}\nivr: {{flows_dir: {REPO / 'ivr_flows'}}}\n"
        f"metrics: {{database: {tmp_path / 'var' / 'acd.sqlite'}}}\ncallbacks: {{database: {tmp_path / 'cb.sqlite'}}}\n"
        f"recording: {{local_dir: {tmp_path / 'rec'}}}\nlog: {{level: warning}}\n"
    )
    return settings


def test_the_engine_writes_its_events_to_postgresql(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database("engine_store")
    no_password = url.replace(f":{postgres.password}@", "@")
    env = {**os.environ, "ACD_AMI_SECRET": "x", "ACD_STORE_URL": no_password, "ACD_STORE_PASSWORD": postgres.password}
    process = subprocess.Popen(
        [sys.executable, "-m", "acd", "run", "--settings", str(settings_file(tmp_path))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        started = ""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                started = postgres.psql("SELECT count(*) FROM events WHERE type = 'engine.started'", "engine_store")
            except Exception:  # noqa: BLE001 - the engine has not created its tables yet
                started = ""
            if started == "1":
                break
            time.sleep(0.3)
        assert started == "1", process.stderr.read() if process.poll() is not None else "engine.started never reached PostgreSQL"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert postgres.password not in err
    assert not (tmp_path / "var" / "acd.sqlite").exists()  # nothing went to the SQLite default
    assert postgres.psql("SELECT count(*) FROM events WHERE type = 'engine.stopped'", "engine_store") == "1"


def test_a_store_it_cannot_reach_is_one_line_without_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "ACD_AMI_SECRET": "x", "ACD_STORE_URL": f"postgresql://acd:S3cretPw@127.0.0.1:{free_port()}/acd"}
    result = subprocess.run(
        [sys.executable, "-m", "acd", "run", "--settings", str(settings_file(tmp_path))],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr and "S3cretPw" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("acd run: cannot start:") and "postgresql://acd:***@127.0.0.1" in last and "cannot connect" in last
