"""``make demo``: Asterisk 22, the engine with the sample help-line flow, real sipp calls.

Brings up the developer lab (``deploy/asterisk/lab.sh``), starts the engine in this
process from ``acd.yaml`` (the IVR clock is pinned to a weekday morning in Santiago so
the menu is open whatever the time), starts sipp phones for the agents, places a few
calls through the IVR — a buyer typing a RUT, a supplier, a caller asking for an agent,
one who gives up — and prints what happened to each call and the live service level.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from acd.checkout import checkout_root, lab_script
from acd.app import build_app
from acd.engine import MemorySink
from acd.ivr.rut import check_digit
from acd.lab.sipp import AwaitHangup, Dtmf, SippRunner, Wait
from acd.logs import configure_logging
from acd.base.events import Event
from acd.settings import SettingsError, format_settings_problem, load_settings

AGENT_PORT_BASE = 5080
DEMO_AGENTS = {"ana": 1, "bruno": 2, "carla": 3, "diego": 4}


def lab(*args: str) -> str:
    result = subprocess.run([str(lab_script()), *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"demo: 'lab.sh {' '.join(args)}' failed")
    return result.stdout.strip()


def pinned_clock() -> "callable":  # type: ignore[valid-type]
    """Monday 10:00 in Santiago, running forward from now: the help line is open."""
    start = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/Santiago")).timestamp()
    origin = time.time()
    return lambda: start + (time.time() - origin)


def rut(body: str) -> str:
    digit = check_digit(body)
    return body + ("*" if digit == "K" else digit) + "#"


async def demo() -> int:
    configure_logging("warning")
    started_lab = "not running" in subprocess.run([str(lab_script()), "status"], capture_output=True, text=True).stdout
    print("demo: starting the Asterisk 22 lab (the first run builds its root file system, about a minute)…", flush=True)
    lab("up")
    secret = lab("secret")
    work = Path(tempfile.mkdtemp(prefix="acd-demo-"))
    try:
        settings = load_settings(checkout_root() / "acd.yaml", environ={**os.environ, "ACD_AMI_SECRET": secret})
    except SettingsError as exc:
        for problem in exc.problems:
            print(format_settings_problem(problem), file=sys.stderr)
        return 2
    settings = settings.model_copy(
        update={
            "routing": settings.routing.model_copy(update={"auto_login": list(DEMO_AGENTS)}),
            "api": settings.api.model_copy(update={"enabled": False}),  # the demo prints its own summary
        }
    )
    app = build_app(settings, ivr_clock=pinned_clock())
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=5060)
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(15)
        print("demo: engine up (FastAGI 127.0.0.1:4573, AMI connected); agents logged in:", ", ".join(DEMO_AGENTS))
        for agent, number in DEMO_AGENTS.items():
            await sipp.start_agent(agent, AGENT_PORT_BASE + number, calls=2, answer_after_s=1.0, talk_s=4.0, timeout_s=120)
        calls = [
            ("comprador", [Wait(1), Dtmf("1"), Wait(1), Dtmf(rut("12345678"), gap=0.25), AwaitHangup(60)], "56911111111"),
            ("proveedor", [Wait(1), Dtmf("2"), Wait(1), Dtmf(rut("7654321"), gap=0.25), AwaitHangup(60)], "56922222222"),
            ("ejecutivo", [Wait(1), Dtmf("0"), AwaitHangup(60)], "56933333333"),
            ("opcion-invalida", [Wait(1), Dtmf("9"), Wait(7), Dtmf("0"), AwaitHangup(60)], "56944444444"),
        ]
        print(f"demo: placing {len(calls)} calls to 100 (mesa de ayuda) with sipp…", flush=True)
        callers = [await sipp.start_callers(name, steps, calls=[("100", number)]) for name, steps, number in calls]
        results = [await caller.wait(90) for caller in callers]
        await asyncio.sleep(3)  # let the last wrap-ups end
        print_summary(sink.events, app)
        failed = [r for r in results if not r.ok]
        for result in failed:
            print("demo: sipp reported a problem:", result.describe())
        return 1 if failed else 0
    finally:
        await sipp.stop_all()
        await app.engine.stop(grace_s=2)
        if started_lab:
            lab("down")
        print(f"demo: sipp logs in {work / 'sipp'}; Asterisk logs in {lab('logs') if not started_lab else 'the lab folder'}")


def print_summary(events: list[Event], app) -> None:  # noqa: ANN001
    by_call: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.call_id:
            by_call[event.call_id].append(event)
    print("\nWhat happened to each call")
    print("-" * 100)
    for call_id, call_events in by_call.items():
        start = next((e for e in call_events if e.type == "call.started"), None)
        caller = start.data.get("caller", "?") if start else "?"
        nodes = [e.data["node"] for e in call_events if e.type == "ivr.node"]
        keys = [f"{e.data['digits'] or '·'}({e.data['kind']})" for e in call_events if e.type == "ivr.input"]
        queued = next((e for e in call_events if e.type == "call.queued"), None)
        answered = next((e for e in call_events if e.type == "call.answered"), None)
        completed = next((e for e in call_events if e.type == "call.completed"), None)
        abandoned = next((e for e in call_events if e.type == "call.abandoned"), None)
        print(f"call {call_id} from {caller}")
        print(f"  IVR:   {' → '.join(nodes)}")
        if keys:
            print(f"  keys:  {' '.join(keys)}")
        if queued:
            attached = queued.data.get("attached") or {}
            print(f"  queue: {queued.queue} {attached if attached else ''}")
        if answered:
            print(f"  agent: {answered.agent_id} answered after waiting {answered.data['waited_s']:.1f} s")
        if completed:
            print(f"  talk:  {completed.data['talk_s']:.1f} s, then wrap-up")
        if abandoned:
            print(f"  abandoned after {abandoned.data['waited_s']:.1f} s")
    snapshot = app.stats.snapshot(app.engine.clock())
    print("\nLive service level (this 15-minute interval)")
    print("-" * 100)
    print(f"{'queue':<14}{'offered':>9}{'answered':>10}{'within':>8}{'abandoned':>11}{'SL %':>8}{'ASA s':>8}")
    for name, queue in snapshot.queues.items():
        figures = queue.interval
        level = "—" if figures.service_level is None else f"{float(figures.service_level):.1f}"
        asa = "—" if figures.asa_s is None else f"{figures.asa_s:.1f}"
        print(f"{name:<14}{figures.offered:>9}{figures.answered:>10}{figures.answered_within:>8}{figures.abandoned:>11}{level:>8}{asa:>8}")
    print()


def main() -> int:
    try:
        return asyncio.run(demo())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
