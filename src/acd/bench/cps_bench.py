"""Benchmark on the real lab: calls per second sustained with zero lost calls.

sipp callers dial into Asterisk 22, the dialplan hands each call to the engine's FastAGI
IVR flow, the flow queues it, the engine picks an agent and moves the caller over AMI,
a sipp agent phone answers, talks briefly and hangs up.  Calls are offered in steps of
increasing rate (sipp's own rate control, ``-r``), each step held for a few seconds and
then drained, so every call of a step can be followed to its end.

Every call is counted three independent ways, matched by the caller number (which
encodes the step and the call):

* **sipp** — its message log (INVITE sent, final answer, BYE from Asterisk) and its own
  successful/failed counters;
* **the engine** — its SQLite event log (``call.started``, ``call.queued``,
  ``call.answered``, ``call.completed`` …), read back after the engine stopped;
* **Asterisk** — a separate AMI connection of its own (caller channels, the ``AcdParked``
  user event, ``DialEnd`` to an agent with ``ANSWER``, ``Hangup`` causes) plus the CLI's
  ``calls processed`` counter and active channels after the step.

A call is *completed* when sipp saw Asterisk answer it and later hang up after the agent
did; a *clear failure* is a SIP error answer to the INVITE; anything else a caller placed
is *lost*, and the report says how far it got (the furthest stage any of the three views
saw).  The figure is the highest offered rate whose step lost nothing, failed nothing, on
which the three views agree, and at which calls were answered at least 85 % as fast as they
arrived (above that nothing is lost yet, callers just wait longer and longer).  When a step
falls short the report says which part did: sipp's failures and INVITE retransmissions,
Asterisk's hangup causes and its own log warnings (task processor overload, RTP ports),
the engine's IVR errors.

    acd bench cps --json                 # its own lab "cps", 40 agent phones, 8..128 cps
    ACD_TEST_LAB_SLOT=3 acd bench cps --rates 2,4 --hold 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from acd.bench.machine import machine_info
from acd.bench.cps_accounting import StepRun, account, breakdown
from acd.bench.call_views import AmiWatcher, EngineCall, engine_calls, sipp_calls, sipp_created
from acd.bench.cps_lab import DIALED, FLOW, MAX_AGENTS, OWN_LAB_AGENTS, CpsLab, CpsOptions, caller_number, chosen_slot, cpu_seconds, routing_text, settings_text

# --------------------------------------------------------------------------- running it


def _cpu_of_all(pids: list[int]) -> float | None:
    times = [cpu_seconds(pid) for pid in pids]
    return None if any(time_s is None for time_s in times) else sum(time_s for time_s in times if time_s is not None)


def _own_cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


async def _drain(watcher: AmiWatcher, limit_s: float) -> None:
    """Wait until Asterisk has no caller channel left (or ``limit_s`` passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while watcher.active_callers() and loop.time() < deadline:
        await asyncio.sleep(0.2)


async def run_cps(
    lab: CpsLab, work: Path, options: CpsOptions, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Run the steps against a lab that is already up; returns the result (JSON-ready)."""
    from acd.app import build_app
    from acd.lab.sipp import AwaitHangup, SippRunner
    from acd.settings import load_settings

    work.mkdir(parents=True, exist_ok=True)
    (work / "flows").mkdir(exist_ok=True)
    (work / "flows" / "cps.yaml").write_text(FLOW)
    (work / "routing.yaml").write_text(routing_text(options))
    recordings = lab.recordings_dir() if options.record else None
    (work / "acd.yaml").write_text(settings_text(lab, work, options, recordings))
    settings = load_settings(work / "acd.yaml", environ={"ACD_AMI_SECRET": lab.secret})
    sipp = SippRunner(log_dir=work / "sipp", sip_port=lab.sip_port)
    total_calls = sum(options.calls_in_step(rate) for rate in options.rates)
    asterisk_pid = lab.asterisk_pid()
    asterisk_log = lab.log_dir() / "messages.log"
    watcher = AmiWatcher(lab.ami_port, lab.watch_user, lab.secret)
    runs: list[StepRun] = []
    phones: list[int] = []
    processed_before: list[int | None] = []
    app = None
    try:
        # Phones first: the engine checks its agents' devices when it connects.
        for number in range(1, options.agents + 1):
            # The lab qualifies its last endpoint (an OPTIONS every second): that phone must answer them.
            qualified = number == lab.agents
            phone = await sipp.start_agent(
                f"agent{number}", lab.agent_port(number), calls=total_calls + 10, answer_after_s=options.answer_after_s,
                talk_s=options.talk_s, answers_options=qualified, timeout_s=36000,
            )
            phones.append(phone.process.pid)
        if options.agents >= lab.agents:
            await asyncio.sleep(1.5)  # one qualify round, so the engine finds the qualified phone reachable
        await watcher.start()
        app = build_app(settings)
        await app.engine.start()
        await app.engine.ami.wait_connected(15)
        await asyncio.sleep(1.0)  # agents logged in, device states read
        for index, rate in enumerate(options.rates, start=1):
            planned = [caller_number(index, call) for call in range(options.calls_in_step(rate))]
            processed_before.append(lab.channel_counts()[1])
            log_offset = _size(asterisk_log)
            cpu_before, child_before = _own_cpu()
            asterisk_before = cpu_seconds(asterisk_pid)
            agents_before = _cpu_of_all(phones)
            started = time.monotonic()
            run_limit = options.hold_s * 3 + options.call_timeout_s + 30
            callers = await sipp.start_callers(
                f"step{index}-{rate:g}cps", [AwaitHangup(options.call_timeout_s)], calls=[(DIALED, number) for number in planned],
                rate=rate, concurrent=len(planned), timeout_s=run_limit,
            )
            result = await callers.wait(run_limit + 10)
            await _drain(watcher, 15)
            wall = time.monotonic() - started
            cpu_after, child_after = _own_cpu()
            asterisk_after = cpu_seconds(asterisk_pid)
            agents_after = _cpu_of_all(phones)
            active, processed = lab.channel_counts()
            warnings = asterisk_warnings(_read_from(asterisk_log, log_offset))
            runs.append(StepRun(
                index=index, rate=rate, planned=planned, sipp=sipp_calls(result.messages), sipp_successful=result.successful,
                sipp_failed=result.failed, sipp_created=sipp_created(_read(callers.log_dir / "screen.log")),
                sipp_exit=result.returncode, sipp_logs=str(callers.log_dir), wall_s=wall, engine_cpu_s=cpu_after - cpu_before,
                asterisk_cpu_s=(asterisk_after - asterisk_before) if asterisk_after is not None and asterisk_before is not None else None,
                sipp_callers_cpu_s=child_after - child_before,
                sipp_agents_cpu_s=(agents_after - agents_before) if agents_after is not None and agents_before is not None else None,
                calls_processed=processed, active_after=active, asterisk_warnings=warnings,
            ))
            placed = [call for call in runs[-1].sipp.values() if call.invite_ts is not None]
            done = sum(1 for call in placed if call.completed)
            failed = sum(1 for call in placed if call.clear_failure)
            progress(f"step {index}: {rate:g} cps x {options.hold_s:g} s: placed {len(placed)}/{len(planned)}, "
                     f"completed {done}, clear failures {failed}, lost {len(placed) - done - failed} ({wall:.1f} s)")
            if (done != len(planned)) and not options.keep_going:
                break
            await asyncio.sleep(options.wrap_up_s + 0.3)  # the last agents' wrap-up ends before the next step
    finally:
        await sipp.stop_all()
        if app is not None:
            await app.engine.stop(grace_s=2)
        await watcher.close()
        active, _ = lab.channel_counts()
        if active:
            lab.cli("channel request hangup all")  # a killed sipp sends no BYE: leave the lab clean
    engine = await engine_calls(work / "acd.sqlite", [number for run in runs for number in run.planned])
    asterisk = watcher.by_caller()
    steps = [account(run, engine, asterisk, before) for run, before in zip(runs, processed_before)]
    if recordings is not None:
        _remove_recordings(recordings, engine)
    return summarise(steps, options, lab, work, watcher.events)


def _remove_recordings(folder: Path, engine: dict[str, EngineCall]) -> None:
    """The run's own recordings (named by engine call id) are not left in the shared lab folder."""
    for call in engine.values():
        for call_id in call.call_ids:
            for path in folder.glob(f"{call_id}.*"):
                with contextlib.suppress(OSError):
                    path.unlink()


def summarise(steps: list[dict[str, Any]], options: CpsOptions, lab: CpsLab, work: Path, ami_events: int) -> dict[str, Any]:
    sustained = None
    broke: dict[str, Any] | None = None
    for step in steps:
        if step["sustained"]:
            sustained = step["rate_cps"]
        else:
            broke = {"rate_cps": step["rate_cps"], "why": breakdown(step, options.agent_bound_cps)}
            break
    clean = None  # the last rate before the first step that lost, failed or could not place a call
    for step in steps:
        if step["lost"] or step["failed_clearly"] or step["offered"] < step["planned"]:
            break
        clean = step["rate_cps"]
    return {
        "benchmark": "calls_per_second",
        "sustained_cps": sustained,
        "zero_lost_max_cps": clean,
        "broke_at": broke,
        "all_steps_sustained": broke is None,
        "steps": steps,
        "setup": {
            **{key: value for key, value in asdict(options).items() if key != "rates"},
            "rates": list(options.rates),
            "agent_bound_cps": options.agent_bound_cps,
            "lab": lab.name,
            "ami_events_watched": ami_events,
            "flow": "branch on dialed number -> queue (FastAGI), music on hold, AMI redirect to Dial",
            "notes": [
                "invite_to_ivr_ms includes Asterisk's Answer() waiting up to 500 ms for the caller's first media "
                "frame: sipp callers send no RTP, so about 500 ms of it is the lab, not the engine",
                "the benchmark's own AMI connection (the Asterisk count) adds one AMI session of load to Asterisk",
            ],
        },
        "machine": machine_info(),
        "logs": str(work),
    }


def table(result: dict[str, Any]) -> str:
    """The human-readable summary: one line per step, then the figure and where it broke."""
    setup = result["setup"]
    lines = [
        f"cps bench on lab {setup['lab']}: {setup['agents']} agent phones (answer {setup['answer_after_s']:g} s, talk {setup['talk_s']:g} s, "
        f"wrap-up {setup['wrap_up_s']:g} s: the agents alone take about {setup['agent_bound_cps']:g} cps), {setup['hold_s']:g} s per step",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, {result['machine']['python']}",
        "",
        f"{'offered':>7} {'got':>5} {'placed':>6} {'ivr':>5} {'queued':>6} {'answd':>5} {'done':>5} {'fail':>4} {'LOST':>4} "
        f"{'ast.ans':>7} {'ans/s':>5} {'setup p99':>9} {'wait p99':>8} {'cpu eng/ast/phones':>18}  ok",
    ]

    def show(value: float | None, suffix: str = "") -> str:
        return "-" if value is None else f"{value:g}{suffix}"

    for step in result["steps"]:
        engine, asterisk, cpu = step["engine"], step["asterisk"], step["cpu_share"]
        share = "/".join("-" if cpu[part] is None else f"{cpu[part]:.0%}" for part in ("engine", "asterisk", "sipp_agents"))
        lines.append(
            f"{step['rate_cps']:>7g} {show(step['offered_cps_achieved']):>5} {step['offered']:>6} {engine['reached_ivr']:>5} {engine['queued']:>6} "
            f"{engine['answered']:>5} {step['completed']:>5} {step['failed_clearly']:>4} {step['lost']:>4} {asterisk['agent_answered']:>7} "
            f"{show(step['answered_cps']):>5} {show(step['invite_to_ivr_ms']['p99'], ' ms'):>9} {show(step['queue_wait_s']['p99'], ' s'):>8} "
            f"{share:>18}  {'yes' if step['sustained'] else 'NO'}"
        )
    lines.append("")
    lines.append(f"sustained (zero lost, zero failed, three views agree, agents keeping up): {show(result['sustained_cps'], ' cps') if result['sustained_cps'] is not None else 'no step'}")
    lines.append(f"highest rate with zero lost and zero failed calls: {show(result['zero_lost_max_cps'], ' cps') if result['zero_lost_max_cps'] is not None else 'no step'}")
    if result["broke_at"]:
        lines.append(f"broke at {result['broke_at']['rate_cps']:g} cps: {result['broke_at']['why']}")
    else:
        lines.append("no step broke: try higher --rates")
    lines.append(f"logs: {result['logs']}")
    return "\n".join(lines)


_LOG_LINE = re.compile(r"^\[[^\]]+\] (WARNING|ERROR)\[[^\]]*\](?:\[[^\]]*\])? ([^:]+): (.*)$", re.MULTILINE)


_NUMBER = re.compile(r"\b[0-9]+\b")


def asterisk_warnings(log_text: str, top: int = 5) -> dict[str, int]:
    """Asterisk's own warnings and errors while a step ran, grouped (numbers blanked), most frequent first.

    This is where Asterisk says it is overloaded (e.g. a task processor queue reaching its
    high-water mark, during which chan_pjsip leaves new INVITEs unanswered).
    """
    counts: Counter[str] = Counter()
    for level, source, text in _LOG_LINE.findall(log_text):
        counts[f"{level} {source}: {_NUMBER.sub('N', text.strip())[:120]}"] += 1
    return dict(counts.most_common(top))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", default="8,16,32,64,96,128", metavar="R[,R...]", help="offered calls per second, one step each, increasing (default 8,16,32,64,96,128)")
    parser.add_argument("--hold", type=float, default=5.0, metavar="S", help="seconds each step offers calls (default 5)")
    parser.add_argument("--agents", type=int, default=None, help=f"agent phones (default: {OWN_LAB_AGENTS} on its own lab, at most 8 on a test slot's lab)")
    parser.add_argument("--talk", type=float, default=0.3, metavar="S", help="agent talk time in seconds (default 0.3)")
    parser.add_argument("--answer-after", type=float, default=0.1, metavar="S", help="agent ring time before answering (default 0.1)")
    parser.add_argument("--wrap-up", type=float, default=0.0, metavar="S", help="queue wrap-up seconds (default 0)")
    parser.add_argument("--call-timeout", type=float, default=60.0, metavar="S", help="a caller still up this long after answering is lost (default 60)")
    parser.add_argument("--keep-going", action="store_true", help="run every step even after one lost calls")
    parser.add_argument("--no-record", action="store_true", help="do not record agent connections (the product records them all)")
    parser.add_argument("--slot", type=int, default=None, help="use test slot N's lab (default: $ACD_TEST_LAB_SLOT if set, else a lab of its own named 'cps'); "
                        "a slot lab running with another AMI secret is restarted unless $ACD_AMI_SECRET holds its secret")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards (it is stopped only if this run started it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (the table goes to stderr)")


def parse_rates(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"--rates {text!r}: expected numbers separated by commas, e.g. 2,4,8") from None


def run_from_args(args: argparse.Namespace) -> int:
    from acd.app import AppError
    from acd.asterisk.ami import AmiNotConnected
    from acd.logs import configure_logging
    from acd.metrics.store import StoreError

    prog = "acd bench cps"
    try:
        slot = chosen_slot(args.slot)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        rates = parse_rates(args.rates)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    agents = args.agents if args.agents is not None else (8 if slot is not None else OWN_LAB_AGENTS)
    options = CpsOptions(
        rates=rates, hold_s=args.hold, agents=agents, answer_after_s=args.answer_after, talk_s=args.talk,
        wrap_up_s=args.wrap_up, call_timeout_s=args.call_timeout, keep_going=args.keep_going, record=not args.no_record,
    )
    problems = options.problems(8 if slot is not None else MAX_AGENTS)
    if problems:
        for problem in problems:
            print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    secret = os.environ.get("ACD_AMI_SECRET", "").strip() or secrets.token_hex(12)
    lab = CpsLab.slot(slot, secret) if slot is not None else CpsLab.own(agents, secret)
    configure_logging("warning")
    was_running = lab.sh("status", timeout_s=20).returncode == 0
    print(f"{prog}: bringing up lab {lab.name} (SIP {lab.sip_port}, AMI {lab.ami_port}) …", file=sys.stderr, flush=True)
    up = lab.sh("up")
    if up.returncode != 0:
        print(f"{prog}: the lab did not start:\n{up.stderr.strip()}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="acd-cps-bench-"))
    try:
        result = asyncio.run(run_cps(lab, work, options, progress=lambda line: print(line, file=sys.stderr, flush=True)))
    except (ConnectionError, OSError, asyncio.TimeoutError, AmiNotConnected, AppError, StoreError) as exc:
        print(f"{prog}: the run failed: {exc or type(exc).__name__} (logs: {work})", file=sys.stderr)
        return 1
    finally:
        if not was_running and not args.keep_lab:
            lab.sh("down", timeout_s=60)
    if args.json:
        print(json.dumps(result, indent=2))
        print(table(result), file=sys.stderr)
    else:
        print(table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd bench cps", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
