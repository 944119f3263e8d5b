"""Operations end to end: the CLI and ``acd top`` against a running engine on the real Asterisk.

sipp callers wait in the queues, sipp phones answer for the agents, and every command is
run as a supervisor would: a separate ``acd`` process talking to the engine's control API
(here on a free loopback port, with a token only this test knows).  ``acd top`` runs in
a tmux server of its own, read with ``capture-pane`` and quit with ``q``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from acd.app import App
from acd.engine import MemorySink
from acd.lab.sipp import AwaitHangup
from tests.api.helpers import free_port
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab

# compradores promises 80 % within 2 s, so a caller left waiting puts it under target fast.
ROUTING = """
timezone: America/Santiago
skills: [compradores, proveedores, general]
queues:
  - name: compradores
    skills: [compradores]
    service_level: {threshold_s: 2, target: 0.8}
    wrap_up_s: 1
    ring_timeout_s: 8
  - name: proveedores
    skills: [proveedores]
    wrap_up_s: 1
    ring_timeout_s: 8
  - name: general
    skills: [general]
    wrap_up_s: 1
    ring_timeout_s: 8
agents:
  - {id: ana,    name: Ana,    endpoint: PJSIP/agent1, skills: {compradores: 9}}
  - {id: bruno,  name: Bruno,  endpoint: PJSIP/agent2, skills: {proveedores: 8}}
"""


class Ops:
    """Runs ``acd`` commands as separate processes against one engine's API."""

    def __init__(self, url: str, token: str, cwd: Path) -> None:
        self.url = url
        self.env = {**os.environ, "ACD_API_TOKEN": token}
        self.cwd = cwd

    async def run(self, *argv: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "acd", *argv, "--url", self.url,
            cwd=self.cwd, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        return process.returncode or 0, out.decode(), err.decode()

    async def json(self, *argv: str) -> Any:
        code, out, err = await self.run(*argv, "--json")
        assert code == 0, f"acd {' '.join(argv)} exited {code}: {err}"
        return json.loads(out)


@asynccontextmanager
async def served(lab, tmp_path: Path) -> AsyncIterator[tuple[App, MemorySink, Ops]]:  # noqa: ANN001
    token = secrets.token_hex(16)
    port = free_port()
    # The token sits in this test's own temporary settings file; real deployments use ACD_API_TOKEN.
    extra = f"api:\n  port: {port}\n  token: {token}\n"
    async with running_app(lab, tmp_path, routing=ROUTING, extra_yaml=extra) as (app, sink):
        yield app, sink, Ops(f"http://127.0.0.1:{port}", token, tmp_path)


async def until(check, timeout_s: float = 20.0, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll ``check()`` (an awaitable factory) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout_s} s; last: {last!r}")


async def test_supervisor_sees_the_waiting_call_logs_ana_in_and_she_takes_it(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with served(lab, tmp_path) as (app, sink, ops):
        ana_phone = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.5, talk_s=8, timeout_s=60)  # talks long enough for three commands
        caller = await sipp.start_callers("caller", [AwaitHangup(60)], calls=[("300", "56944440000")])
        queued = await wait_for(sink, lambda e: e.type == "call.queued", 20)

        calls = await ops.json("calls")
        assert [(c["id"], c["queue"], c["state"], c["position"]) for c in calls] == [(queued.call_id, "compradores", "waiting", 1)]

        async def compradores_under_target() -> dict[str, Any] | None:
            stats = await ops.json("queues")
            queue = next(q for q in stats["queues"] if q["name"] == "compradores")
            return queue if queue["under_target"] else None

        queue = await until(compradores_under_target, 15, "compradores under target")
        assert queue["waiting"] == 1 and queue["agents"]["logged_in"] == 0 and queue["day"]["service_level"] == 0.0

        async with httpx.AsyncClient() as client:  # Prometheus scrapes from loopback without a token
            metrics = (await client.get(f"{ops.url}/metrics")).text
        assert "acd_ami_connected 1" in metrics.splitlines()
        assert 'acd_queue_waiting_calls{queue="compradores"} 1' in metrics.splitlines()

        code, out, err = await ops.run("agent", "login", "ana")
        assert code == 0, err
        assert out.splitlines()[1].split()[:3] == ["ana", "Ana", "ringing"]
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        assert answered.agent_id == "ana" and answered.call_id == queued.call_id

        agents = {a["id"]: a for a in await ops.json("agents")}
        assert agents["ana"]["state"] == "on_call" and agents["ana"]["call_id"] == queued.call_id
        connected = await ops.json("calls")
        assert [(c["id"], c["state"], c["agent_id"]) for c in connected] == [(queued.call_id, "connected", "ana")]

        code, _, err = await ops.run("call", "priority", queued.call_id, "5")
        assert code == 1 and "already answered" in err  # the router refuses: nothing to reorder

        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        ana = await until(lambda: _agent(ops, "ana", lambda a: a["handled_today"] == 1), 10, "ana's handled count")
        assert ana["state"] in ("wrap_up", "available")
        results = [await ana_phone.wait(20), await caller.wait(20)]
    assert all(r.ok for r in results), [r.describe() for r in results]


async def _agent(ops: Ops, agent_id: str, predicate) -> dict[str, Any] | None:  # noqa: ANN001
    agent = next(a for a in await ops.json("agents") if a["id"] == agent_id)
    return agent if predicate(agent) else None


async def test_supervisor_raises_priority_and_moves_a_waiting_call_to_an_agent(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with served(lab, tmp_path) as (app, sink, ops):
        ana_phone = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.5, talk_s=2, timeout_s=60)
        code, _, err = await ops.run("agent", "login", "ana")
        assert code == 0, err
        code, _, err = await ops.run("agent", "pause", "ana", "--reason", "reunion")
        assert code == 0, err
        caller = await sipp.start_callers("caller", [AwaitHangup(60)], calls=[("301", "56955550000")])
        queued = await wait_for(sink, lambda e: e.type == "call.queued", 20)
        assert queued.queue == "proveedores"

        [before] = await ops.json("calls")
        code, out, err = await ops.run("call", "priority", queued.call_id, "40", "--json")
        assert code == 0, err
        assert json.loads(out)["priority"] == 40
        changed = of_type(sink, "call.priority_changed", queued.call_id)
        assert [e.data for e in changed] == [{"priority": 40, "previous": before["priority"]}]

        code, out, err = await ops.run("call", "move", queued.call_id, "compradores", "--json")
        assert code == 0, err
        moved = json.loads(out)
        assert moved["queue"] == "compradores" and moved["state"] == "waiting"  # ana is paused

        code, out, err = await ops.run("agent", "unpause", "ana")
        assert code == 0, err
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        assert answered.agent_id == "ana" and answered.queue == "compradores"
        overflow = of_type(sink, "call.overflowed", queued.call_id)[0]
        assert overflow.data["reason"] == "supervisor" and overflow.data["to_queue"] == "compradores"
        assert answered.data["waited_s"] >= overflow.data["waited_s"]  # the wait was kept
        await wait_for(sink, lambda e: e.type == "call.completed", 20)
        results = [await ana_phone.wait(20), await caller.wait(20)]
    assert all(r.ok for r in results), [r.describe() for r in results]


class Tmux:
    """A tmux server of this test's own (its own socket file): nothing else's sessions are touched."""

    def __init__(self) -> None:
        self.tmux = shutil.which("tmux")
        assert self.tmux, "tmux is not installed (deploy/install-deps.sh installs it)"
        self.folder = Path(tempfile.mkdtemp(prefix="acd-tmux-"))  # short: socket paths are limited
        self.socket = str(self.folder / "s")

    def __call__(self, *args: str) -> str:
        result = subprocess.run([self.tmux, "-S", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10)  # type: ignore[list-item]
        assert result.returncode == 0, f"tmux {' '.join(args)}: {result.stderr}"
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "top")

    def kill(self) -> None:
        subprocess.run([self.tmux, "-S", self.socket, "kill-server"], capture_output=True, timeout=10)  # type: ignore[list-item]
        shutil.rmtree(self.folder, ignore_errors=True)


async def test_acd_top_in_a_terminal_shows_the_queue_under_target_and_quits_on_q(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    tmux = Tmux()
    try:
        async with served(lab, tmp_path) as (app, sink, ops):
            caller = await sipp.start_callers("caller", [AwaitHangup(40)], calls=[("300", "56966660000")])
            await wait_for(sink, lambda e: e.type == "call.queued", 20)
            # The shell records acd top's exit status in a file: tmux itself sometimes never reaps
            # a pane's process (seen here: the process a zombie, the pane never marked dead).
            status_file = tmp_path / "top.status"
            command = f"{sys.executable} -m acd top --url {ops.url} --interval 0.5; echo $? > {status_file}"
            tmux("new-session", "-d", "-s", "top", "-x", "160", "-y", "40", "-c", str(tmp_path),
                 "-e", f"ACD_API_TOKEN={ops.env['ACD_API_TOKEN']}", command)
            tmux("set-option", "-t", "top", "remain-on-exit", "on")

            screens: list[str] = []

            async def under_target_on_screen() -> str | None:
                screens.append(tmux.screen())
                return screens[-1] if "! under target: compradores" in screens[-1] else None

            try:
                screen = await until(under_target_on_screen, 20, "the under-target marker on the wallboard")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nlast screen:\n{screens[-1] if screens else '(none)'}") from None
            rows = [line.split() for line in screen.splitlines()]
            assert ["!", "compradores", "1"] in [row[:3] for row in rows]  # marked row, 1 waiting
            assert any(row[:1] == ["proveedores"] for row in rows)  # the others are not marked
            assert "AMI up" in screen and "Traceback" not in screen

            tmux("send-keys", "-t", "top", "q")
            pressed = [asyncio.get_running_loop().time()]

            async def exited() -> str | None:
                if status_file.exists() and status_file.read_text().strip():
                    return status_file.read_text().strip()
                # Under load a key can arrive mid-redraw; press q again, as a person would.
                if asyncio.get_running_loop().time() - pressed[-1] > 2:
                    tmux("send-keys", "-t", "top", "q")
                    pressed.append(asyncio.get_running_loop().time())
                return None

            try:
                assert await until(exited, 20, "acd top to exit") == "0"
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nlast screen:\n{tmux.screen()}") from None
            await caller.stop()
    finally:
        tmux.kill()
