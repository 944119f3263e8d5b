"""``make demo``: Asterisk 22, the engine with the sample help-line flow, real sipp calls.

Brings up the developer lab (``deploy/asterisk/lab.sh``), starts the engine in this
process from ``acd.yaml`` (the IVR clock is pinned to a weekday morning in Santiago so
the menu is open whatever the time), starts sipp phones for the agents, places a few
calls through the IVR — a buyer typing a RUT, a supplier, a caller asking for an agent,
one who gives up — and prints what happened to each call and the live service level.

It also starts the web console (``acd web``, :mod:`acd.lab.demo_console`) on the demo's
event store and the engine's API, with a supervisor and a client viewer login, prints
its address and both logins before the first call (open the wallboard and watch the
calls arrive), and keeps engine, console and lab up after the summary until Ctrl-C, so
the reports, the SLA page and the incident log can be tried on the calls just made.

The lab is the developer lab unless ``ACD_LAB_*`` variables name another one (ports,
name: as for ``lab.sh``); ``ACD_DEMO_PASSWORD`` sets both logins' password (else random);
``ACD_DEMO_KEEP_S`` ends the demo that many seconds after the summary (else Ctrl-C).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from acd.checkout import checkout_root, lab_script
from acd.app import build_app
from acd.engine import MemorySink
from acd.ivr.rut import check_digit
from acd.lab.demo_console import DemoConsole, DemoConsoleError, demo_logins, demo_password, port_or_free, start_console, stop_console_process
from acd.lab.sipp import AwaitHangup, Dtmf, SippRunner, Wait
from acd.logs import configure_logging
from acd.base.events import Event
from acd.settings import Settings, SettingsError, format_settings_problem, load_settings

KEEP_VARIABLE = "ACD_DEMO_KEEP_S"
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


def lab_settings(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """``settings`` pointed at the lab ``ACD_LAB_*`` names (the developer lab when none is set)."""
    update: dict[str, object] = {}
    if "ACD_LAB_AMI_PORT" in environ:
        update["ami"] = settings.ami.model_copy(update={"port": int(environ["ACD_LAB_AMI_PORT"])})
    if "ACD_LAB_AGI_PORT" in environ:
        update["agi"] = settings.agi.model_copy(update={"port": int(environ["ACD_LAB_AGI_PORT"])})
    name = environ.get("ACD_LAB_NAME")
    if name:
        cache = Path(environ.get("ACD_LAB_CACHE") or Path.home() / ".cache" / "acd")
        update["recording"] = settings.recording.model_copy(
            update={"asterisk_dir": f"/labs/{name}/recordings", "local_dir": cache / "asterisk-root" / "labs" / name / "recordings"}
        )
    return settings.model_copy(update=update)


def keep_seconds(environ: Mapping[str, str]) -> float | None:
    """``$ACD_DEMO_KEEP_S`` as seconds, None when unset (keep until Ctrl-C)."""
    text = environ.get(KEEP_VARIABLE, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SystemExit(f"demo: ${KEEP_VARIABLE} must be a number of seconds, not {text!r}") from None
    if not 0 <= value <= 7 * 86400:
        raise SystemExit(f"demo: ${KEEP_VARIABLE} must be between 0 and 604800 seconds")
    return value


async def hold(console: DemoConsole, keep_s: float | None) -> None:
    """Until Ctrl-C (or SIGTERM), ``keep_s`` seconds, or the console's process ends."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    deadline = None if keep_s is None else loop.time() + keep_s
    try:
        while not stop.is_set() and console.process.poll() is None:
            left = 1.0 if deadline is None else min(1.0, deadline - loop.time())
            if left <= 0:
                break
            try:
                await asyncio.wait_for(stop.wait(), left)
            except asyncio.TimeoutError:
                pass
        if console.process.poll() is not None:
            print(f"demo: the console stopped by itself (exit {console.process.returncode}; log {console.log})", flush=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def demo() -> int:
    configure_logging("warning")
    keep_s = keep_seconds(os.environ)
    try:
        password = demo_password(os.environ)
    except DemoConsoleError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    started_lab = "not running" in subprocess.run([str(lab_script()), "status"], capture_output=True, text=True).stdout
    print("demo: starting the Asterisk 22 lab (the first run builds its root file system, about a minute)…", flush=True)
    lab("up")
    secret = lab("secret")
    work = Path(tempfile.mkdtemp(prefix="acd-demo-"))
    settings_file = checkout_root() / "acd.yaml"
    try:
        settings = load_settings(settings_file, environ={**os.environ, "ACD_AMI_SECRET": secret})
    except SettingsError as exc:
        for problem in exc.problems:
            print(format_settings_problem(problem), file=sys.stderr)
        return 2
    api_token = settings.api.token or SecretStr(secrets.token_urlsafe(24))  # the console's key to the engine's API
    api_port = port_or_free(settings.api.host, settings.api.port)
    settings = lab_settings(settings, os.environ).model_copy(
        update={
            "routing": settings.routing.model_copy(update={"auto_login": list(DEMO_AGENTS)}),
            "api": settings.api.model_copy(update={"enabled": True, "token": api_token, "port": api_port}),
        }
    )
    sip_port = int(os.environ.get("ACD_LAB_SIP_PORT", "5060"))
    agent_port_base = int(os.environ.get("ACD_LAB_AGENT_PORT", "5080"))
    app = build_app(settings, ivr_clock=pinned_clock())
    sink = MemorySink()
    app.engine.bus.sinks.append(sink)
    sipp = SippRunner(log_dir=work / "sipp", sip_port=sip_port)
    console: DemoConsole | None = None
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(15)
        print("demo: engine up (FastAGI 127.0.0.1:%d, AMI connected, API 127.0.0.1:%d); agents logged in: %s"
              % (settings.agi.port, api_port, ", ".join(DEMO_AGENTS)))
        try:
            accounts = work / "accounts.sqlite"
            console = await asyncio.to_thread(
                start_console, settings_file, work, engine_url=f"http://{settings.api.host}:{api_port}",
                engine_token=api_token.get_secret_value(), metrics_database=settings.resolve(settings.metrics.database),
                logins=demo_logins(accounts, password), accounts_database=accounts,
                port=port_or_free(settings.web.host, settings.web.port), host=settings.web.host,
            )
        except DemoConsoleError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        for line in console.describe():
            print(f"demo: {line}", flush=True)
        print("demo: open the wallboard now to watch the calls arrive:", console.url + "wallboard", flush=True)
        for agent, number in DEMO_AGENTS.items():
            await sipp.start_agent(agent, agent_port_base + number, calls=2, answer_after_s=1.0, talk_s=4.0, timeout_s=120)
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
        until = "until Ctrl-C" if keep_s is None else f"for {keep_s:g} s (ACD_DEMO_KEEP_S)"
        print(f"demo: the console stays up at {console.url} {until}, with the engine and the lab;", flush=True)
        print("demo: its reports, SLA page and incident log hold the calls above. Press Ctrl-C to stop everything.", flush=True)
        await hold(console, keep_s)
        return 1 if failed else 0
    finally:
        if console is not None:
            await asyncio.to_thread(stop_console_process, console.process)
        await sipp.stop_all()
        await app.engine.stop(grace_s=2)
        if started_lab:
            lab("down")
        print(f"demo: stopped. sipp logs in {work / 'sipp'}; console log {work / 'web.log'}; "
              f"Asterisk logs in {lab('logs') if not started_lab else 'the lab folder'}", flush=True)


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
