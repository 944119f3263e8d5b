"""Two real ``acd run`` processes sharing one PostgreSQL (``ha.enabled``): one leads, the
other waits without listening for FastAGI; a paused leader is evicted and, resuming, is
fenced (exit code 3, its writes refused); a killed leader is replaced within about a second.

No Asterisk here (AMI points at a closed port): the lab test (tests/lab/test_hot_standby_e2e.py)
does the calls."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from acd.lab.mosquitto import free_port
from acd.lab.postgres import Postgres

REPO = Path(__file__).resolve().parents[2]
DB = "ha_pair"
TOKEN = "pair-token-0123456789"


class Node:
    """One ``acd run`` of the pair, with its own folder, ports and log."""

    def __init__(self, tmp_path: Path, name: str, url: str) -> None:
        self.name = name
        self.folder = tmp_path / name
        self.folder.mkdir()
        self.agi_port = free_port()
        self.api_port = free_port()
        self.settings = self.folder / "acd.yaml"
        self.settings.write_text(
            f"agi: {{port: {self.agi_port}}}\nami: {{port: 1}}\napi: {{port: {self.api_port}}}\n"
            f"routing: {{config: {REPO / 'deploy' / 'routing.yaml'}}}\nivr: {{flows_dir: {REPO / 'ivr_flows'}}}\n"
            f"metrics: {{database: {self.folder / 'var' / 'acd.sqlite'}}}\ncallbacks: {{database: {self.folder / 'cb.sqlite'}}}\n"
            f"recording: {{local_dir: {self.folder / 'rec'}}}\nlog: {{level: warning}}\n"
            f"ha: {{enabled: true, node: {name}, lease_s: 3, renew_s: 0.5}}\n"
        )
        self.env = {**os.environ, "ACD_AMI_SECRET": "x", "ACD_STORE_URL": url, "ACD_API_TOKEN": TOKEN}
        self.process: subprocess.Popen[str] | None = None
        self.log: IO[str] | None = None

    def start(self) -> None:
        self.log = open(self.folder / "stderr.log", "w")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "acd", "run", "--settings", str(self.settings)],
            stdout=subprocess.DEVNULL, stderr=self.log, text=True, env=self.env,
        )

    def stderr(self) -> str:
        return (self.folder / "stderr.log").read_text()

    def listens(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.agi_port), timeout=0.5):
                return True
        except OSError:
            return False

    def health(self, token: str | None = TOKEN) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(f"http://127.0.0.1:{self.api_port}/api/health", headers=headers, timeout=5)
        return response.status_code, response.json()

    def wait_exit(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=30)
        if self.log is not None:
            self.log.close()


def takeovers(postgres: Postgres) -> list[dict]:
    """The engine.takeover events' data, oldest first."""
    try:
        out = postgres.psql("SELECT data FROM events WHERE type = 'engine.takeover' ORDER BY ts", DB)
    except Exception:  # noqa: BLE001 - the tables are not made yet
        return []
    return [json.loads(line) for line in out.splitlines() if line]


def wait_for(what: str, check, timeout_s: float, node: Node | None = None) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if check():
            return time.monotonic() - began
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout_s} s" + (f"; {node.name} said: {node.stderr()[-2000:]}" if node else ""))


def count(postgres: Postgres, type_: str) -> int:
    return int(postgres.psql(f"SELECT count(*) FROM events WHERE type = '{type_}'", DB))


def test_a_pair_leads_one_at_a_time_fences_a_paused_leader_and_replaces_a_killed_one(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database(DB)
    a, b = Node(tmp_path, "node-a", url), Node(tmp_path, "node-b", url)
    try:
        a.start()
        wait_for("node-a leading", lambda: len(takeovers(postgres)) == 1, 60, a)
        first = takeovers(postgres)[0]
        assert (first["node"], first["epoch"], first["previous"]) == ("node-a", 1, "")
        wait_for("node-a's FastAGI listener", a.listens, 10, a)
        b.start()
        wait_for("node-b watching", lambda: "node-a leads (epoch 1); watching" in b.stderr(), 60, b)
        time.sleep(2)  # several looks: still standby, not listening
        assert len(takeovers(postgres)) == 1 and not b.listens()
        assert b.health() == (503, {"status": "standby", "node": "node-b", "leader": "node-a", "epoch": 1})
        assert b.health(token=None)[0] == 401 and b.health(token="wrong-token-0123456789")[0] == 401
        assert a.health() == (200, {"status": "ok", "site": "default", "ami_connected": False, "ami_nodes": None, "fastagi_active_sessions": 0})

        # node-a freezes (SIGSTOP): its session and lock stay, its renewals stop
        assert a.process is not None
        a.process.send_signal(signal.SIGSTOP)
        wait_for("node-b taking over from the paused leader", lambda: len(takeovers(postgres)) == 2, 30, b)
        second = takeovers(postgres)[1]
        assert (second["node"], second["epoch"], second["previous"], second["evicted"]) == ("node-b", 2, "node-a", True)
        wait_for("node-b's FastAGI listener", b.listens, 10, b)
        assert b.health()[0] == 200  # the engine's API took the address from the standby's answer
        stopped_before = count(postgres, "engine.stopped")

        # node-a wakes up: fenced, it stops at once with code 3 and writes nothing more
        a.process.send_signal(signal.SIGCONT)
        assert a.wait_exit(30) == 3
        assert "no longer leads" in a.stderr()
        assert count(postgres, "engine.stopped") == stopped_before  # its engine.stopped was refused by the epoch
        assert "refused" in a.stderr()

        # node-a comes back as the standby; node-b is killed: node-a takes over from the freed lock
        a.start()
        wait_for("node-a watching", lambda: "node-b leads (epoch 2); watching" in a.stderr(), 60, a)
        assert b.process is not None
        b.process.kill()
        took = wait_for("node-a taking over from the killed leader", lambda: len(takeovers(postgres)) == 3, 30, a)
        third = takeovers(postgres)[2]
        assert (third["node"], third["epoch"], third["previous"], third["evicted"]) == ("node-a", 3, "node-b", False)
        print(f"takeover after kill -9, seen in the store: {took:.2f} s")

        # a clean stop of the leader: stored, exit 0
        a.process.send_signal(signal.SIGTERM)
        assert a.wait_exit(60) == 0
        assert count(postgres, "engine.stopped") == stopped_before + 1
        assert postgres.password not in a.stderr() + b.stderr()
    finally:
        a.stop()
        b.stop()


def test_hot_standby_on_a_sqlite_store_is_one_clear_line(tmp_path: Path) -> None:
    node = Node(tmp_path, "node-a", "")
    node.env.pop("ACD_STORE_URL")
    result = subprocess.run(
        [sys.executable, "-m", "acd", "run", "--settings", str(node.settings)], capture_output=True, text=True, timeout=60, env=node.env,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("acd run: cannot start: ha.enabled needs the store on PostgreSQL"), last
