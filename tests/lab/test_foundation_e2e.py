"""First proofs on the real lab: sipp → Asterisk 22 → our FastAGI and AMI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.ami import AmiClient
from acd.asterisk.fastagi import AgiSession, FastAgiServer, RouteRegistry
from acd.ivr.channel import CallerHungUp
from acd.lab.sipp import Dtmf, Hangup, Wait

pytestmark = pytest.mark.lab


async def serve(lab, routes: RouteRegistry) -> FastAgiServer:  # noqa: ANN001
    server = FastAgiServer(routes, host="127.0.0.1", port=lab.agi_port, header_timeout_s=2)
    await server.start()
    return server


def digit_probe(received: list[dict[str, str | None]]) -> RouteRegistry:
    """Answer, play a prompt, read one digit: the smallest useful IVR."""
    routes = RouteRegistry()

    async def probe(session: AgiSession) -> None:
        channel = AgiChannel(session)
        await channel.answer()
        digit = await channel.stream_file("hello-world", "0123456789*#")
        if digit is None:
            digit = await channel.wait_for_digit(8)
        received.append({"digit": digit, "caller": channel.caller, "dialed": channel.dialed, "route": session.request.route})
        await channel.stream_file("beep")
        await channel.hangup()

    routes.add("ivr", probe)
    return routes


@pytest.mark.parametrize("mode", ["info", "rfc4733"])
async def test_caller_digit_reaches_engine_over_fastagi(lab, sipp, mode: str) -> None:  # noqa: ANN001
    received: list[dict[str, str | None]] = []
    server = await serve(lab, digit_probe(received))
    try:
        caller = await sipp.start_callers(f"digit-{mode}", [Wait(1.0), Dtmf("7", mode=mode), Wait(15)], calls=[("100", "56911112222")])
        result = await caller.wait(40)
    finally:
        await server.close(grace_s=2)
    assert received == [{"digit": "7", "caller": "56911112222", "dialed": "100", "route": "ivr"}], result.describe()
    assert result.ok, result.describe()
    assert result.remote_byes == 1, "the engine, not the caller, ended the call"


async def test_caller_hanging_up_mid_prompt_ends_the_session_cleanly(lab, sipp) -> None:  # noqa: ANN001
    outcome: list[str] = []
    routes = RouteRegistry()

    async def long_prompt(session: AgiSession) -> None:
        channel = AgiChannel(session)
        try:
            for _ in range(20):
                await channel.stream_file("hello-world")
            outcome.append("played everything")
        except CallerHungUp:
            outcome.append("caller hung up")

    routes.add("ivr", long_prompt)
    server = await serve(lab, routes)
    try:
        caller = await sipp.start_callers("hangup", [Wait(1.5), Hangup()], calls=[("100", "56900000001")])
        result = await caller.wait(30)
        for _ in range(100):
            if outcome:
                break
            await asyncio.sleep(0.1)
    finally:
        await server.close(grace_s=2)
    assert outcome == ["caller hung up"]
    assert result.ok and result.remote_byes == 0
    assert server.stats.handler_errors == 0


async def test_peer_stuck_mid_header_does_not_stall_a_real_call(lab, sipp) -> None:  # noqa: ANN001
    received: list[dict[str, str | None]] = []
    server = await serve(lab, digit_probe(received))
    try:
        _, stuck = await asyncio.open_connection("127.0.0.1", lab.agi_port)
        stuck.write(b"agi_network: yes\nagi_channel: PJSIP/fake")
        await stuck.drain()
        caller = await sipp.start_callers("beside-stuck", [Wait(1.0), Dtmf("3"), Wait(15)], calls=[("100", "56933334444")])
        result = await caller.wait(40)
        stuck.close()
    finally:
        await server.close(grace_s=2)
    assert [r["digit"] for r in received] == ["3"], result.describe()
    assert server.stats.header_timeouts == 1


async def test_ami_notices_a_frozen_asterisk_and_reconnects(lab) -> None:  # noqa: ANN001
    client = AmiClient(port=lab.ami_port, secret=lab.secret, ping_interval_s=0.5, ping_timeout_s=0.5, reconnect_initial_s=0.2)
    disconnects: list[str] = []

    async def on_disconnected(reason: str) -> None:
        disconnects.append(reason)

    client.on_disconnected.append(on_disconnected)
    await client.start()
    pid = lab.asterisk_pid()
    try:
        await client.wait_connected(10)
        channels = await client.action_list("CoreShowChannels")
        assert isinstance(channels, list)
        os.kill(pid, signal.SIGSTOP)  # the socket stays open; Asterisk stops answering
        for _ in range(100):
            if not client.connected:
                break
            await asyncio.sleep(0.05)
        assert not client.connected and client.stats.ping_failures == 1
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        await client.wait_connected(15)
        assert (await client.action("Ping")).get("Ping") == "Pong"
        assert client.stats.connects == 2 and len(disconnects) == 1
    finally:
        await client.close()


async def test_ami_with_wrong_secret_says_so(lab) -> None:  # noqa: ANN001
    client = AmiClient(port=lab.ami_port, secret="not-the-secret", reconnect_initial_s=5)
    await client.start()
    try:
        with pytest.raises(Exception, match="refused login for user 'acd'"):
            await client.wait_connected(4)
    finally:
        await client.close()


def test_acd_run_connects_logs_json_and_exits_0_on_sigterm(lab, tmp_path: Path) -> None:  # noqa: ANN001
    settings_file = lab.settings_file(tmp_path)
    env = {**os.environ, "ACD_AMI_SECRET": lab.secret}
    process = subprocess.Popen(
        [sys.executable, "-m", "acd", "run", "--settings", str(settings_file), "--log-format", "json"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 20
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "connected and logged in" in line:
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
        lines.extend(rest.splitlines(keepends=True))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, "".join(lines)
    records = [json.loads(line) for line in lines if line.strip()]
    messages = [record["message"] for record in records]
    assert any("FastAGI listening on 127.0.0.1:%d" % lab.agi_port in m for m in messages)
    assert any("connected and logged in" in m for m in messages)
    assert messages[-1] == "engine stopped"
    assert lab.secret not in "".join(lines)


def test_failing_asterisk_start_says_what_failed_and_where_the_log_is(lab, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    from tests.lab.conftest import REPO

    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    shutil.copytree(REPO / "dialplans", tmp_path / "dialplans")
    conf = tmp_path / "deploy" / "asterisk" / "etc" / "asterisk.conf"
    conf.write_text(conf.read_text() + "runuser = nosuchuser\n")
    env = {**os.environ, "ACD_LAB_NAME": "broken", "ACD_LAB_AMI_PORT": "17938", "ACD_LAB_SIP_PORT": "17960",
           "ACD_LAB_AGI_PORT": "17973", "ACD_LAB_AGENT_PORT": "17980", "ACD_LAB_RTP_START": "29000"}
    lab_sh = tmp_path / "deploy" / "asterisk" / "lab.sh"
    try:
        result = subprocess.run([str(lab_sh), "up"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run([str(lab_sh), "down"], env=env, capture_output=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lab[broken]: error: Asterisk exited during start (logs: ")
    assert "labs/broken/log/console.log" in last
    assert "No such user 'nosuchuser'" in result.stderr
