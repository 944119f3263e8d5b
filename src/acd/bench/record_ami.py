"""Record a real AMI stream for ``acd bench ami-ingest``.

Re-record the shipped recording (needs root for the chroot lab, and sipp)::

    ACD_TEST_LAB_SLOT=2 python -m acd.bench.record_ami --lab --calls 300 \\
        --out deploy/ami-recordings/helpline

This brings up the lab of test slot ``$ACD_TEST_LAB_SLOT`` (its own name and ports, a
fresh AMI secret), starts the real engine (:func:`acd.app.build_app`) with the routing
and IVR flow in :mod:`acd.bench.lab_traffic`, starts eight sipp agent phones and sipp
callers, and records everything Asterisk sends on a second AMI connection logged in
with ``Events: on``.  The lab is stopped again unless it was already running.

Record any Asterisk instead (the secret comes from ``$ACD_AMI_SECRET``)::

    python -m acd.bench.record_ami --attach --ami-port 5038 --seconds 120 --out /tmp/mystream

Output: ``NAME.ami`` (raw bytes; ``NAME.ami.gz`` above 5 MB), ``NAME.json`` (metadata and
arrival times) and, with ``--lab``, ``NAME.routing.yaml`` (see :mod:`acd.bench.ami_recording`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from acd.bench.ami_recorder import Capture, RecorderError, record
from acd.bench.ami_recording import event_name, headers_of, split_events, write_recording

MAX_BYTES = 5_000_000  # what the repository accepts per recording file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m acd.bench.record_ami", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--lab", action="store_true", help="drive the test lab with the engine and sipp and record it")
    mode.add_argument("--attach", action="store_true", help="record an Asterisk that is already running")
    parser.add_argument("--out", required=True, metavar="PATH/NAME", help="where to write NAME.ami, NAME.json (and NAME.routing.yaml)")
    parser.add_argument("--calls", type=int, default=300, help="--lab: calls to place (default 300)")
    parser.add_argument("--calls-per-s", type=float, default=1.6, help="--lab: call rate (default 1.6/s)")
    parser.add_argument("--slot", type=int, default=int(os.environ.get("ACD_TEST_LAB_SLOT", "0")), help="--lab: test lab slot (default $ACD_TEST_LAB_SLOT or 0)")
    parser.add_argument("--host", default="127.0.0.1", help="--attach: AMI host")
    parser.add_argument("--ami-port", type=int, default=5038, help="--attach: AMI port")
    parser.add_argument("--user", default="acd", help="--attach: AMI user")
    parser.add_argument("--seconds", type=float, default=60.0, help="--attach: how long to record")
    return parser


async def _record_attached(args: argparse.Namespace) -> tuple[Capture, dict[str, Any], str | None]:
    secret = os.environ.get("ACD_AMI_SECRET", "")
    stop = asyncio.Event()
    task = asyncio.ensure_future(record(args.host, args.ami_port, args.user, secret, stop))
    await asyncio.sleep(args.seconds)
    stop.set()
    capture = await task
    return capture, {"source": f"attach {args.host}:{args.ami_port}", "seconds": args.seconds}, None


async def _record_lab(args: argparse.Namespace) -> tuple[Capture, dict[str, Any], str | None]:
    from acd.app import build_app
    from acd.bench.lab_traffic import FLOW, ROUTING, LabSlot, Traffic, lab_command, new_secret, place_calls, settings_text, start_agents
    from acd.lab.sipp import SippRunner
    from acd.settings import load_settings

    slot = LabSlot(args.slot)
    secret = new_secret()
    was_running = "not running" not in _status(slot, secret)
    if was_running:
        raise SystemExit(f"record_ami: lab {slot.name} is already running with another secret; stop it first (lab.sh down with its ports)")
    print(f"record_ami: starting lab {slot.name} (AMI 127.0.0.1:{slot.port('AMI')})…", file=sys.stderr, flush=True)
    lab_command(slot, secret, "up")
    lab_dir = Path(lab_command(slot, secret, "logs")).parent
    work = Path(tempfile.mkdtemp(prefix="acd-record-"))
    try:
        (work / "flows").mkdir()
        (work / "flows" / "bench.yaml").write_text(FLOW)
        (work / "routing.yaml").write_text(ROUTING)
        (work / "acd.yaml").write_text(settings_text(slot, work, lab_dir))
        settings = load_settings(work / "acd.yaml", environ={"ACD_AMI_SECRET": secret})
        stop = asyncio.Event()
        recorder = asyncio.ensure_future(record("127.0.0.1", slot.port("AMI"), "acd", secret, stop))
        await asyncio.sleep(0.5)
        sipp = SippRunner(log_dir=work / "sipp", sip_port=slot.port("SIP"))
        traffic = Traffic(calls=args.calls, calls_per_s=args.calls_per_s)
        await start_agents(sipp, slot, traffic)
        app = build_app(settings)
        await app.engine.start()
        try:
            await app.engine.ami.wait_connected(15)
            print(f"record_ami: engine up; placing {traffic.calls} calls at {traffic.calls_per_s}/s with sipp…", file=sys.stderr, flush=True)
            problems = await place_calls(sipp, traffic)
            version = lab_command(slot, secret, "cli", "-x", "core show version", timeout_s=30).split(" built ")[0]
        finally:
            await sipp.stop_all()
            await app.engine.stop(grace_s=2)
            stop.set()
        capture = await recorder
        for problem in problems:
            print(f"record_ami: sipp: {problem}", file=sys.stderr)
        meta = {"source": f"lab {slot.name} (acd.bench.lab_traffic)", "asterisk": version, "calls_planned": traffic.calls, "calls_per_s": traffic.calls_per_s,
                "sipp_problems": len(problems)}
        print(f"record_ami: sipp logs in {work / 'sipp'}", file=sys.stderr)
        return capture, meta, ROUTING
    finally:
        lab_command(slot, secret, "down", timeout_s=60)


def _status(slot: Any, secret: str) -> str:
    from acd.bench.lab_traffic import LabError, lab_command

    try:
        return lab_command(slot, secret, "status", timeout_s=30)
    except LabError:
        return "not running"


def parked_calls(raw: bytes) -> int:
    """Calls that reached an ACD queue: distinct ``UserEvent: AcdParked`` call ids, and
    callers rung straight from the IVR (``DialBegin`` from ``acd-agent``, never parked)."""
    ids = set()
    for block in split_events(raw)[0]:
        name = event_name(block)
        if name == "UserEvent":
            headers = dict(headers_of(block))
            if headers.get(b"UserEvent") == b"AcdParked":
                ids.add(headers.get(b"CallId") or headers.get(b"Uniqueid"))
        elif name == "DialBegin":
            headers = dict(headers_of(block))
            if headers.get(b"Context") == b"acd-agent":
                ids.add(headers.get(b"Uniqueid"))
    return len(ids)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        capture, meta, routing = asyncio.run(_record_lab(args) if args.lab else _record_attached(args))
    except RecorderError as exc:
        print(f"record_ami: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    meta["calls"] = parked_calls(bytes(capture.raw))
    meta = {"name": out.name, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "started_at": capture.started_at, **meta}
    path = write_recording(out.parent, out.name, bytes(capture.raw), capture.offsets(), meta, routing)
    size = path.stat().st_size
    print(f"record_ami: {len(capture.times)} events, {len(capture.raw):,} bytes ({size:,} in {path})", file=sys.stderr)
    if size > MAX_BYTES:
        print(f"record_ami: warning: larger than {MAX_BYTES:,} bytes; record fewer calls for the repository", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
