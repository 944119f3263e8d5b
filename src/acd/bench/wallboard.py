"""``acd bench wallboard``: event → browser latency with N open wallboards.

What it runs, as in production, three kinds of process:

* the engine (``acd run``, no Asterisk needed: the events are agent pauses and unpauses
  made through its API, which go through the same router, event bus and stream as a
  phone's);
* the console (``acd web``) following the engine's ``/api/stream``;
* ``--screens`` wallboards: SSE readers of the console's ``/live/stream`` (a person's API
  token with the viewer role), in this process, each parsing every snapshot as a
  browser's ``JSON.parse`` would.

Each event is one ``POST /api/agents/<id>/pause`` (or ``unpause``); its latency on a
screen is from just before the POST to the arrival of the first snapshot on that screen
showing the new state.  So it includes the engine's debounce, both SSE hops and the
JSON work, and the figure is the p99 over every (event, screen) pair.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from acd.lab.ports import free_port
from acd.bench.machine import machine_info

TARGET_P99_MS = 250.0


def _routing(agents: int, queues: int) -> str:
    names = [f"q{index}" for index in range(queues)]
    lines = ["timezone: America/Santiago", f"skills: [{', '.join(names)}]", "queues:"]
    lines += [f"  - {{name: {name}, skills: [{name}]}}" for name in names]
    lines.append("agents:")
    for index in range(agents):
        skills = ", ".join(f"{names[(index + k) % queues]}: {5 + k}" for k in range(min(2, queues)))
        lines.append(f"  - {{id: a{index}, name: Agente {index}, endpoint: PJSIP/a{index}, skills: {{{skills}}}}}")
    return "\n".join(lines) + "\n"


def _write_lab(folder: Path, agents: int, queues: int) -> tuple[Path, dict[str, int]]:
    ports = {"agi": free_port(), "api": free_port(), "web": free_port()}
    (folder / "flows").mkdir()
    (folder / "routing.yaml").write_text(_routing(agents, queues))
    auto = ", ".join(f"a{index}" for index in range(agents))
    (folder / "acd.yaml").write_text(
        "site: bench-wallboard\n"
        f"agi: {{port: {ports['agi']}}}\n"
        "ivr: {flows_dir: flows}\n"
        f"routing: {{config: routing.yaml, auto_login: [{auto}]}}\n"
        "metrics: {database: acd.sqlite}\n"
        "callbacks: {database: callbacks.sqlite}\n"
        "recording: {local_dir: recordings}\n"
        f"api: {{port: {ports['api']}}}\n"
        f"web: {{accounts_database: accounts.sqlite, port: {ports['web']}, engine_url: 'http://127.0.0.1:{ports['api']}', heartbeat_s: 0}}\n"
    )
    return folder / "acd.yaml", ports


def _start(args: list[str], folder: Path, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "acd", *args], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)


async def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1, headers=headers) as client:
        while True:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{log.name}: did not start:\n{log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)


class Screen:
    """One wallboard: follows /live/stream and notes when each awaited state first shows."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.changed = asyncio.Event()
        self.snapshots = 0
        self.stamps: tuple[float, float] = (0.0, 0.0)  # the snapshot's engine 'sent' and console 'relayed' (wall clock)

    async def follow(self, host: str, port: int, token: str, ready: asyncio.Event) -> None:
        """A minimal HTTP/1.1 SSE reader on a raw socket: a browser's network stack costs its
        own process, not ours, so the reader must not be what the benchmark measures."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                f"GET /live/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"/live/stream answered {head.splitlines()[0].decode(errors='replace')}")
            chunked = b"transfer-encoding: chunked" in head.lower()
            buffer = b""
            while True:
                if chunked:
                    size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
                    if size == 0:
                        return
                    chunk = (await reader.readexactly(size + 2))[:-2]
                else:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return
                buffer += chunk
                *messages, buffer = buffer.split(b"\n\n")
                for message in messages:
                    self._message(message, ready)
        finally:
            writer.close()

    def _message(self, message: bytes, ready: asyncio.Event) -> None:
        for line in message.split(b"\n"):
            if not line.startswith(b"data: "):
                continue
            snapshot = json.loads(line[6:])
            if "agents" not in snapshot:
                continue
            self.snapshots += 1
            self.stamps = (float(snapshot.get("sent") or 0.0), float(snapshot["status"].get("relayed") or 0.0))
            self.states = {agent["id"]: agent["state"] for agent in snapshot["agents"]}
            self.changed.set()
            ready.set()

    async def until(self, agent: str, state: str) -> tuple[float, float, float, float]:
        """(perf_counter, wall clock) at arrival, and the snapshot's engine and console stamps."""
        while self.states.get(agent) != state:
            self.changed.clear()
            await self.changed.wait()
        return time.perf_counter(), time.time(), *self.stamps


async def _measure(web_url: str, engine_url: str, api_token: str, person_token: str, screens: int, events: int, gap_s: float) -> dict[str, Any]:
    boards = [Screen() for _ in range(screens)]
    web = httpx.URL(web_url)
    async with httpx.AsyncClient(base_url=engine_url, headers={"Authorization": f"Bearer {api_token}"}, timeout=10) as engine:
        readies = [asyncio.Event() for _ in boards]
        tasks = [asyncio.create_task(board.follow(web.host, web.port or 80, person_token, ready)) for board, ready in zip(boards, readies)]
        try:
            await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 30)
            latencies: list[float] = []
            legs: dict[str, list[float]] = {"engine": [], "console": [], "screens": []}
            for index in range(events):
                agent = f"a{index % 10}"
                paused = boards[0].states.get(agent) == "paused"
                action, state = ("unpause", "available") if paused else ("pause", "paused")
                waits = [asyncio.create_task(board.until(agent, state)) for board in boards]
                started, started_wall = time.perf_counter(), time.time()
                answer = await engine.post(f"/api/agents/{agent}/{action}")
                if answer.status_code != 200:
                    raise RuntimeError(f"engine refused {action} {agent}: {answer.status_code} {answer.text[:200]}")
                arrived = await asyncio.wait_for(asyncio.gather(*waits), 10)
                latencies += [(at - started) * 1000 for at, _wall, _sent, _relayed in arrived]
                legs["engine"].append((arrived[0][2] - started_wall) * 1000)
                legs["console"].append((arrived[0][3] - arrived[0][2]) * 1000)
                legs["screens"] += [(wall - relayed) * 1000 for _at, wall, _sent, relayed in arrived]
                await asyncio.sleep(gap_s)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "samples": len(ordered),
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "snapshots_per_screen": round(statistics.fmean(board.snapshots for board in boards), 1),
        # where the time goes (medians, ms): POST -> engine snapshot (incl. debounce), engine -> console relay, console -> screen
        "legs_p50_ms": {name: round(statistics.median(values), 1) for name, values in legs.items()},
        "legs_p99_ms": {name: round(sorted(values)[int(0.99 * (len(values) - 1))], 1) for name, values in legs.items()},
    }


def run(screens: int, events: int, agents: int, queues: int, gap_s: float) -> dict[str, Any]:
    from acd.accounts.store import AccountStore

    with tempfile.TemporaryDirectory(prefix="acd-bench-wallboard-") as tmp:
        folder = Path(tmp)
        settings, ports = _write_lab(folder, agents, queues)
        api_token = secrets.token_urlsafe(24)
        env = {key: value for key, value in os.environ.items() if not key.startswith("ACD_")}
        env["ACD_API_TOKEN"] = api_token
        store = AccountStore(folder / "accounts.sqlite")
        store.add("pantalla", "Pantalla de pared", "viewer", secrets.token_urlsafe(16), by="bench")
        _token, person_token = store.issue_token("pantalla", "bench wallboard", ["view_live"], by="bench")
        engine_url, web_url = f"http://127.0.0.1:{ports['api']}", f"http://127.0.0.1:{ports['web']}"
        processes = [_start(["run", "--settings", str(settings), "--log-level", "warning"], folder, env, "engine")]
        try:
            asyncio.run(_wait_up(engine_url + "/api/health", processes[0], folder / "engine.log", {"Authorization": f"Bearer {api_token}"}))
            processes.append(_start(["web", "--settings", str(settings), "--log-level", "warning"], folder, env, "web"))
            asyncio.run(_wait_up(web_url + "/login", processes[1], folder / "web.log"))
            figures = asyncio.run(_measure(web_url, engine_url, api_token, person_token, screens, events, gap_s))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    return {
        "bench": "wallboard",
        "screens": screens,
        "events": events,
        "agents": agents,
        "queues": queues,
        **figures,
        "target_p99_ms": TARGET_P99_MS,
        "ok": figures["p99_ms"] < TARGET_P99_MS,
        "machine": machine_info(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screens", type=int, default=50, help="open wallboards (SSE readers of the console; default 50)")
    parser.add_argument("--events", type=int, default=100, help="agent state changes to time (default 100)")
    parser.add_argument("--agents", type=int, default=60, help="agents in the synthetic centre (default 60)")
    parser.add_argument("--queues", type=int, default=8, help="queues (default 8)")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between events (default 0.1)")
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output is JSON as well, indented)")


def main(args: argparse.Namespace) -> int:
    for name, low, high in (("screens", 1, 500), ("events", 1, 100_000), ("agents", 10, 5000), ("queues", 1, 200)):
        value = getattr(args, name)
        if not low <= value <= high:
            print(f"acd bench wallboard: --{name} must be between {low} and {high} (got {value})", file=sys.stderr)
            return 2
    if not 0 <= args.gap <= 60:
        print("acd bench wallboard: --gap must be between 0 and 60 seconds", file=sys.stderr)
        return 2
    try:
        result = run(args.screens, args.events, args.agents, args.queues, args.gap)
    except RuntimeError as exc:
        print(f"acd bench wallboard: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True) if args.json else json.dumps(result, indent=2, sort_keys=True))
    return 0 if result["ok"] else 1
