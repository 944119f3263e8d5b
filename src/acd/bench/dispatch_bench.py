"""Benchmark on the real lab: agent becomes free → INVITE reaches that agent's sipp phone.

One agent, a queue of sipp callers waiting in Asterisk's holding context.  Each time the
agent's wrap-up ends, the router (fed by the engine's own timer) picks the next caller and
the engine redirects that caller over AMI into ``Dial``; Asterisk sends the INVITE to the
agent's sipp.  The moment the agent became free is the router decision's ``at`` (the
wrap-up deadline); the moment the INVITE arrived is sipp's own message-log timestamp.
Both clocks are this machine's wall clock.

    python -m acd.bench.dispatch_bench --calls 40 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from acd.checkout import lab_script
from acd.app import build_app
from acd.engine import MemorySink
from acd.routing.benchmark import machine_info as describe_machine
from acd.lab.sipp import AwaitHangup, SippRunner
from acd.logs import configure_logging
from acd.settings import load_settings

PORTS = {  # the port block of test slot 12: clear of slots 0-9 and of `acd bench cps` (11)
    "ACD_LAB_NAME": "bench",
    "ACD_LAB_SIP_PORT": "17460",
    "ACD_LAB_AMI_PORT": "17438",
    "ACD_LAB_AGI_PORT": "16973",
    "ACD_LAB_AGENT_PORT": "17480",
    "ACD_LAB_RTP_START": "33000",
}

FLOW = """
name: bench
numbers: ["300"]
entry: cola
nodes:
  cola: {type: queue, queue: bench, fallback: fin}
  fin: {type: hangup}
"""

ROUTING = """
timezone: America/Santiago
skills: [bench]
queues:
  - {name: bench, skills: [bench], wrap_up_s: %(wrap)s, ring_timeout_s: 10}
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {bench: 9}}
"""

_RECEIVED_INVITE = re.compile(
    r"-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\nUDP message received \[\d+\] bytes :\n\nINVITE ", re.MULTILINE
)


def invite_times(messages_log: str) -> list[float]:
    return [datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp() for stamp in _RECEIVED_INVITE.findall(messages_log)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def run(calls: int, wrap_s: float) -> dict:
    env = {**os.environ, **PORTS}
    lab = lab_script(env)
    up = subprocess.run([str(lab), "up"], env=env, capture_output=True, text=True)
    if up.returncode != 0:
        raise SystemExit(f"bench: the lab did not start:\n{up.stderr}")
    secret = subprocess.run([str(lab), "secret"], env=env, capture_output=True, text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="acd-dispatch-bench-"))
    (work / "flows").mkdir()
    (work / "flows" / "bench.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(ROUTING % {"wrap": wrap_s})
    (work / "acd.yaml").write_text(
        f"agi: {{port: {PORTS['ACD_LAB_AGI_PORT']}}}\nami: {{port: {PORTS['ACD_LAB_AMI_PORT']}}}\n"
        f"ivr: {{flows_dir: {work / 'flows'}}}\nrouting: {{config: {work / 'routing.yaml'}, auto_login: [ana]}}\n"
        f"metrics: {{database: {work / 'acd.sqlite'}}}\n"
    )
    app = build_app(load_settings(work / "acd.yaml", environ={"ACD_AMI_SECRET": secret}))
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=int(PORTS["ACD_LAB_SIP_PORT"]))
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(15)
        agent = await sipp.start_agent("agent", int(PORTS["ACD_LAB_AGENT_PORT"]) + 1, calls=calls, answer_after_s=0.05, talk_s=0.2, timeout_s=600)
        callers = await sipp.start_callers("callers", [AwaitHangup(600)], calls=[("300", f"569{i:08d}") for i in range(calls)], rate=50, timeout_s=600)
        await callers.wait(600)
        await agent.wait(60)
    finally:
        await sipp.stop_all()
        await app.engine.stop(grace_s=2)
        subprocess.run([str(lab), "down"], env=env, capture_output=True)
    rings = sorted(e.ts for e in sink.events if e.type == "call.agent_ringing")
    invites = sorted(invite_times((agent.log_dir / "messages.log").read_text(errors="replace")))
    # The first ring happens when the first caller arrives, not when the agent frees up.
    pairs = list(zip(rings, invites))[1:]
    latencies_ms = [(invite - ring) * 1000 for ring, invite in pairs]
    if not latencies_ms:
        raise SystemExit("bench: no agent-free → INVITE pairs were measured (see logs in %s)" % work)
    return {
        "benchmark": "agent_free_to_invite",
        "samples": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "rings": len(rings),
        "invites": len(invites),
        "machine": describe_machine(),
        "logs": str(work),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd bench dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--wrap-up", type=float, default=0.3, help="agent wrap-up seconds between calls")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.calls < 2 or args.wrap_up <= 0:
        print("acd bench dispatch: --calls must be at least 2 and --wrap-up positive", file=sys.stderr)
        return 2
    configure_logging("warning")
    result = asyncio.run(run(args.calls, args.wrap_up))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"agent free → INVITE at the agent's phone: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
              f"max {result['max_ms']} ms over {result['samples']} calls ({result['machine']['cpu']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
