"""Personal data on the real lab: a caller types a RUT in the sample flow and talks to an agent.

Neither the caller's number nor the RUT reaches the SQLite file or the MQTT stream in
clear; the call is still found by number; the recording is owner-only in an owner-only
folder, and so are Asterisk's logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from pathlib import Path

import pytest

from acd.cli import main
from acd.ivr.rut import check_digit
from acd.lab.sipp import AwaitHangup, Dtmf, Wait
from tests.lab.acd_fixtures import running_app, wait_for
from tests.lab.test_ivr_e2e import MONDAY_MORNING, REPO, clock_at, rut_keys

pytestmark = pytest.mark.lab

CALLER = "56933331234"
RUT_BODY = "12345678"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_in(raw: bytes) -> list[str]:
    return [s for s in (CALLER, CALLER[2:], RUT_BODY) if s.encode() in raw]


async def test_number_and_rut_never_reach_sqlite_nor_mqtt_and_recordings_are_owner_only(lab, sipp, tmp_path, capsys) -> None:  # noqa: ANN001
    from acd.lab.mosquitto import Mosquitto

    import aiomqtt

    payloads: list[bytes] = []

    async def collect(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payloads.append(str(message.topic).encode() + b" " + bytes(message.payload))  # type: ignore[arg-type]

    with Mosquitto() as broker:
        extra = f"mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {broker.port}\n  topic_prefix: acd\n"
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("acd/#", qos=1)
            collector = asyncio.create_task(collect(client))
            try:
                async with running_app(
                    lab, tmp_path, flows_dir=REPO / "ivr_flows", ivr_clock=clock_at(*MONDAY_MORNING), auto_login=["ana"], extra_yaml=extra
                ) as (app, sink):
                    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=3)
                    caller = await sipp.start_callers(
                        "buyer", [Wait(1.0), Dtmf("1"), Wait(1.0), Dtmf(rut_keys(RUT_BODY), gap=0.25), AwaitHangup(60)], calls=[("100", CALLER)]
                    )
                    finished = await wait_for(sink, lambda e: e.type == "recording.finished", 60)
                    results = [await caller.wait(20), await ana.wait(20)]
                    queued = next(e for e in sink.events if e.type == "call.queued")
                    assert app.store is not None
                    await app.store.flush()
                    running = b"".join(p.read_bytes() for p in tmp_path.glob("acd.sqlite*"))
                    await asyncio.sleep(1.5)  # the last events' MQTT messages arrive
            finally:
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
    assert all(r.ok for r in results), [r.describe() for r in results]
    assert queued.data["attached"]["rut"] == f"*********{check_digit(RUT_BODY)}"

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("acd.sqlite*"))
    assert secrets_in(running) == [] and secrets_in(stored) == []
    assert b"*******1234" in stored  # the caller, masked
    mqtt = b"\n".join(payloads)
    assert b"call.queued" in mqtt and b"call.started" in mqtt  # the stream did carry the call
    assert secrets_in(mqtt) == []

    code = await asyncio.to_thread(
        main, ["recordings", "find", "--number", CALLER, "--db", str(tmp_path / "acd.sqlite"), "--settings", str(tmp_path / "acd.yaml"), "--json"]
    )
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [(r["call_id"], r["caller"], r["exists"]) for r in rows] == [(finished.call_id, "*******1234", True)]

    recording = Path(finished.data["path"])  # compressed after the call (.opus): as private as the WAV was
    assert (mode(recording), mode(lab.recordings_dir)) == (0o600, 0o700)
    assert mode(lab.log_dir) == 0o700
    logs = list(lab.log_dir.rglob("*"))
    assert "messages.log" in {p.name for p in logs}
    readable = {p.name: oct(mode(p)) for p in logs if mode(p) & 0o077}
    assert readable == {}, "Asterisk's logs name callers: nobody but their owner may read them"
    assert all(mode(p) == 0o600 for p in tmp_path.glob("acd.sqlite*"))
