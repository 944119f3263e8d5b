"""Two Asterisk labs under one engine: a caller parked on lab A is answered by an agent on lab B.

Lab A is this slot's lab, restarted with a trunk to lab B (``ACD_LAB_PEERS``); lab B is a
small second lab inside the slot's port block (conftest's ``side_lab_env``).  One engine
holds two AMI connections and two FastAGI listeners; the agent's phone (a sipp UAS) is
reachable only through lab B.  The ring is one Redirect on lab A over the inter-node
trunk; the answer and the hang-up are seen on lab A's caller channel; every call event
names lab A's node and the agent's node; ``acd report`` over the one event log counts the
call once, answered.  At the end lab A is put back as the other tests expect it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import date, timedelta
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest

from acd.app import App, build_app
from acd.cli import main
from acd.engine import MemorySink
from acd.lab.sipp import AwaitHangup
from acd.metrics.store import EventStore
from acd.settings import load_settings, node_secret_variable
from tests.lab.acd_fixtures import QUEUE_FLOWS, of_type, wait_for
from tests.lab.conftest import LAB_SH, Lab, side_lab_env

pytestmark = pytest.mark.lab

ROUTING = """
timezone: America/Santiago
skills: [compradores, proveedores, general]
queues:
  - {name: compradores, skills: [compradores], wrap_up_s: 1, ring_timeout_s: 6}
  - {name: proveedores, skills: [proveedores], ring_timeout_s: 6}
  - {name: general, skills: [general], ring_timeout_s: 6}
agents:
  - {id: ana,  name: Ana,  endpoint: PJSIP/agent1, skills: {compradores: 5}}
  - {id: beto, name: Beto, endpoint: PJSIP/agent2, node: @NODE_B@, skills: {compradores: 9}}
"""


def _lab_sh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAB_SH), *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def two_labs(lab: Lab) -> Iterator[tuple[Lab, dict[str, str]]]:
    """Lab A (the slot's, with a trunk to B) and lab B's environment (with a trunk to A)."""
    # Three agents: the last one's phone is qualified (lab.sh), agent2 is a plain one.
    b_env = {**side_lab_env("node"), "ACD_LAB_AGENTS": "3"}
    a_env = {**lab.env, "ACD_LAB_PEERS": f"{b_env['ACD_LAB_NAME']}:{b_env['ACD_LAB_SIP_PORT']}"}
    b_env["ACD_LAB_PEERS"] = f"{lab.name}:{lab.sip_port}"
    try:
        for env in (a_env, b_env):
            up = _lab_sh(env, "up")
            if up.returncode != 0:
                pytest.fail(f"lab {env['ACD_LAB_NAME']} did not start with its peer:\n{up.stderr.strip()}", pytrace=False)
        yield lab, b_env
    finally:
        _lab_sh(b_env, "down")
        _lab_sh(lab.env, "up")  # back to the slot's lab without a peer, as the other tests expect


@asynccontextmanager
async def engine_on_two_labs(two_labs, tmp_path: Path, auto_login: list[str]) -> AsyncIterator[tuple[App, MemorySink]]:  # noqa: ANN001
    """One engine, first node lab A, second node lab B (its own AMI and FastAGI listener)."""
    lab, b_env = two_labs
    node_a, node_b = lab.name, b_env["ACD_LAB_NAME"]
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "cola.yaml").write_text(QUEUE_FLOWS)
    (tmp_path / "routing.yaml").write_text(ROUTING.replace("@NODE_B@", node_b))
    settings_file = lab.settings_file(
        tmp_path, flows_dir=flows, routing_config=tmp_path / "routing.yaml", auto_login=auto_login,
        extra_yaml=(
            f"node: {node_a}\nnodes:\n  - name: {node_b}\n    agi_port: {b_env['ACD_LAB_AGI_PORT']}\n"
            f"    ami: {{port: {b_env['ACD_LAB_AMI_PORT']}, ping_interval_s: 2, ping_timeout_s: 5, reconnect_initial_s: 0.2, reconnect_max_s: 2}}\n"
        ),
    )
    settings = load_settings(settings_file, environ={"ACD_AMI_SECRET": lab.secret, node_secret_variable(node_b): b_env["ACD_AMI_SECRET"]})
    app = build_app(settings)
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(10)
        await wait_for(sink, lambda e: e.type == "ami.connected" and e.data.get("asterisk_node") == node_b, 10)
        yield app, sink
    finally:
        await app.engine.stop(grace_s=2)


async def eventually(read: Callable[[], str], wanted: str, timeout_s: float = 10.0) -> str:
    """What ``read`` shows once it contains ``wanted`` (AssertionError with the last reading)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        shown = await asyncio.to_thread(read)
        if wanted in shown or loop.time() > deadline:
            assert wanted in shown, shown
            return shown
        await asyncio.sleep(0.2)


def agent_port_on_b(b_env: dict[str, str], number: int) -> int:
    return int(b_env["ACD_LAB_AGENT_PORT"]) + number


async def test_a_caller_on_lab_a_is_answered_by_an_agent_on_lab_b(two_labs, sipp, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    lab, b_env = two_labs
    node_a, node_b = lab.name, b_env["ACD_LAB_NAME"]
    async with engine_on_two_labs(two_labs, tmp_path, ["beto"]) as (app, sink):
        # While the engine is away, each node's fallback queue serves its callers with its own
        # agents: beto's phone is a member on lab B only.
        assert app.node_connections is not None and app.node_connections() == {node_a: True, node_b: True}  # /metrics: acd_node_ami_connected
        fallback_b = await eventually(lambda: _lab_sh(b_env, "cli", "-x", "queue show acd-fallback").stdout, "PJSIP/agent2")
        assert "PJSIP/agent2" not in lab.cli("queue show acd-fallback"), fallback_b
        beto = await sipp.start_agent("beto-on-b", agent_port_on_b(b_env, 2), answer_after_s=0.5, talk_s=2, timeout_s=40)
        caller = await sipp.start_callers("caller-on-a", [AwaitHangup(40)], calls=[("300", "56911117777")])
        completed = await wait_for(sink, lambda e: e.type == "call.completed", 40)
        agent_result, caller_result = await beto.wait(20), await caller.wait(20)

    assert agent_result.ok, agent_result.describe()
    assert caller_result.ok, caller_result.describe()
    call_id = completed.call_id
    assert call_id is not None and call_id.startswith(f"{node_a}-")  # lab A's systemname heads its Uniqueids
    (answered,) = of_type(sink, "call.answered", call_id)
    assert answered.agent_id == "beto" and completed.agent_id == "beto"
    assert (answered.data["asterisk_node"], answered.data["agent_asterisk_node"]) == (node_a, node_b)
    assert [e.data["asterisk_node"] for e in of_type(sink, "call.queued", call_id)] == [node_a]
    connected = {e.data["asterisk_node"] for e in sink.of_type("ami.connected")}
    assert connected == {node_a, node_b}  # one AMI connection per node
    # beto's phone listens only on lab B's agent2 port (lab A's agent2 points elsewhere, where
    # nothing answers): its answered call (agent_result.ok) came from lab B, over A's trunk.

    today = date.today()
    code = await asyncio.to_thread(main, [
        "report", "--db", str(tmp_path / "acd.sqlite"), "--interval", "day", "--format", "json",
        "--from", (today - timedelta(days=1)).isoformat(), "--to", (today + timedelta(days=2)).isoformat(),
        "--tz", "America/Santiago",
    ])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["total"]["offered"], report["total"]["answered"], report["total"]["abandoned"]) == (1, 1, 0)


async def test_an_agent_on_lab_b_who_does_not_answer_is_passed_over_for_one_on_lab_a(two_labs, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    """Ring-no-answer across the trunk: the caller goes back to hold on lab A (the ring to B is
    cancelled through the trunk), beto is paused, and ana on lab A takes the call."""
    lab, b_env = two_labs
    node_a, node_b = lab.name, b_env["ACD_LAB_NAME"]
    async with engine_on_two_labs(two_labs, tmp_path, ["ana", "beto"]) as (app, sink):
        beto = await sipp.start_agent("beto-away-on-b", agent_port_on_b(b_env, 2), answer=False, cancel_ok=True, timeout_s=30)
        ana = await sipp.start_agent("ana-on-a", lab.agent_port(1), answer_after_s=0.3, talk_s=1, timeout_s=40)
        caller = await sipp.start_callers("caller-on-a", [AwaitHangup(40)], calls=[("300", "56911118888")])
        rona = await wait_for(sink, lambda e: e.type == "call.ring_no_answer", 30)
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 30)
        await wait_for(sink, lambda e: e.type == "call.completed", 30)
        ana_result, caller_result = await ana.wait(20), await caller.wait(20)
        await beto.stop()
    assert (rona.agent_id, rona.data["asterisk_node"], rona.data["agent_asterisk_node"]) == ("beto", node_a, node_b)
    assert (answered.call_id, answered.agent_id, answered.data["asterisk_node"]) == (rona.call_id, "ana", node_a)
    assert "agent_asterisk_node" not in answered.data  # ana's phone is on the caller's node
    paused = [e for e in of_type(sink, "agent.state") if e.agent_id == "beto" and e.data["state"] == "paused"]
    assert paused and paused[0].data["reason"] == "no-answer"
    assert ana_result.ok and caller_result.ok, [ana_result.describe(), caller_result.describe()]


async def test_a_restarted_engine_reads_both_labs_and_keeps_the_cross_node_call_until_it_ends(two_labs, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    """Resync over two nodes: the caller on lab A talking to beto on lab B outlives the engine; the
    next engine finds the call on A and beto's busy phone on B, rings ana for a new caller, and
    records the first call's end once."""
    lab, b_env = two_labs
    node_a, node_b = lab.name, b_env["ACD_LAB_NAME"]
    beto = await sipp.start_agent("beto-on-b", agent_port_on_b(b_env, 2), answer_after_s=0.3, talk_s=8, timeout_s=60)
    ana = await sipp.start_agent("ana-on-a", lab.agent_port(1), answer_after_s=0.3, talk_s=1, timeout_s=60)
    first = await sipp.start_callers("first-on-a", [AwaitHangup(60)], calls=[("300", "56911110004")])
    async with engine_on_two_labs(two_labs, tmp_path, ["ana", "beto"]) as (app, sink):
        answered = await wait_for(sink, lambda e: e.type == "call.answered", 20)
        assert (answered.agent_id, answered.data["agent_asterisk_node"]) == ("beto", node_b)
    # The engine is down; beto still talks (lab A's caller, lab B's phone).  A new engine starts.
    async with engine_on_two_labs(two_labs, tmp_path, ["ana", "beto"]) as (app, sink):
        for _ in range(100):
            agent = app.router.agent("beto")
            if agent is not None and agent.state == "on_call":
                break
            await asyncio.sleep(0.1)
        assert app.router.agent("beto").state == "on_call"  # type: ignore[union-attr]
        second = await sipp.start_callers("second-on-a", [AwaitHangup(60)], calls=[("300", "56911110005")])
        rung = await wait_for(sink, lambda e: e.type == "call.agent_ringing", 20)
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == answered.call_id, 30)
        await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == rung.call_id, 30)
        results = [await first.wait(20), await second.wait(20), await beto.wait(20), await ana.wait(20)]
    assert (rung.agent_id, rung.data["asterisk_node"]) == ("ana", node_a)  # beto is on the call from before the restart
    assert (completed.agent_id, completed.data["asterisk_node"], completed.data["agent_asterisk_node"]) == ("beto", node_a, node_b)
    assert completed.data["talk_s"] >= 7
    async with await EventStore.open(tmp_path / "acd.sqlite") as store:
        events = await store.events(0, 1e12)
    per_call = [e.type for e in events if e.call_id == answered.call_id and e.type in ("call.queued", "call.answered", "call.completed")]
    assert per_call == ["call.queued", "call.answered", "call.completed"], per_call
    assert all(r.ok for r in results), [r.describe() for r in results]
