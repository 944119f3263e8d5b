"""Personal data on disk: owner-only files, and never in clear in the event log.

The real engine (``build_app``: FastAGI on a loopback socket, SQLite event log and
callbacks database) takes a call from a peer that speaks FastAGI as Asterisk does: the
caller types a RUT, the flow attaches it and queues the call, an agent answers (the call
is recorded), and a callback is requested.  The files and folders the engine created are
then owner-only whatever the umask, the event log's raw bytes hold neither the caller's
number nor the RUT, and ``acd recordings find --number`` still finds the call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from acd.asterisk.call_control import AgentAnswered, Parked
from acd.cli import main as acd_main
from acd.metrics.store import EventStore
from acd.settings import (
    AgiSettings, ApiSettings, CallbackSettings, IvrSettings, MetricsSettings, RecordingSettings, RoutingSettings, Settings, SettingsError, load_settings,
)
from tests.api.helpers import ROUTING, assemble, free_port

REPO = Path(__file__).resolve().parents[1]
CALLER = "56977770000"
CALLBACK_NUMBER = "56988881234"
RUT_DIGITS = "12345678"
RUT = "12345678-5"

FLOW = """
name: privado
numbers: ["700"]
entry: pedir_rut
nodes:
  pedir_rut: {type: collect, prompt: beep, save_as: rut, validate: rut, min_digits: 8, max_digits: 9, next: cola, fallback: fin}
  cola: {type: queue, queue: compradores, attach: [rut], fallback: fin}
  fin: {type: hangup}
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual 022: what the engine creates is private by its own doing, not the test's."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def make_settings(tmp_path: Path) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "privado.yaml").write_text(FLOW)
    (tmp_path / "routing.yaml").write_text(ROUTING)
    return Settings(
        agi=AgiSettings(port=free_port()),
        ivr=IvrSettings(flows_dir=flows),
        routing=RoutingSettings(config=tmp_path / "routing.yaml", auto_login=["ana"]),
        metrics=MetricsSettings(database=tmp_path / "var" / "events" / "acd.sqlite"),
        callbacks=CallbackSettings(database=tmp_path / "var" / "cb" / "callbacks.sqlite"),
        recording=RecordingSettings(local_dir=tmp_path / "recordings"),
        api=ApiSettings(enabled=False),
    )


async def asterisk_calls(port: int, call_id: str, caller: str, keys: str, agi_key: str) -> None:
    """A FastAGI peer that behaves like Asterisk for a caller typing ``keys`` (and holding
    the install's AGI key in its globals, as the engine's AMI Setvar leaves it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = {
        "agi_network": "yes", "agi_network_script": "ivr", "agi_channel": "PJSIP/caller-00000001",
        "agi_uniqueid": call_id, "agi_callerid": caller, "agi_extension": "700",
    }
    writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
    pending = list(keys)
    while line := await asyncio.wait_for(reader.readline(), 10):
        command = line.decode()
        if command.startswith("GET VARIABLE") and "ACD_AGI_KEY" in command:
            answer = f"200 result=1 ({agi_key})"
        elif command.startswith("WAIT FOR DIGIT"):
            answer = f"200 result={ord(pending.pop(0)) if pending else 0}"
        elif command.startswith("STREAM FILE"):
            answer = "200 result=0 endpos=1000"
        else:
            answer = "200 result=1"
        writer.write(answer.encode() + b"\n")
        await writer.drain()
    writer.close()


async def until(predicate: Callable[[], bool]) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


def event_log_bytes(database: Path) -> bytes:
    return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))


async def test_engine_files_are_owner_only_and_the_event_log_holds_no_number_nor_rut(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path)
    database, callbacks = settings.metrics.database, settings.callbacks.database
    app, control, sink = assemble(settings)
    caplog.set_level(logging.DEBUG, logger="acd")
    await app.engine.start()
    try:
        await asterisk_calls(settings.agi.port, "1700000000.1", CALLER, RUT_DIGITS + "5#", app.engine.agi_key or "")
        app.dispatcher.handle(Parked("1700000000.1", "PJSIP/caller-00000001", "compradores", None, None))
        await until(lambda: control.rings == [("1700000000.1", "ana")])
        app.dispatcher.handle(AgentAnswered("1700000000.1", "PJSIP/agent1-00000002"))
        assert app.callbacks is not None
        await app.callbacks.request("1700000000.9", "compradores", CALLBACK_NUMBER, time.time())
        await until(lambda: any(e.type == "recording.started" for e in sink.events))
        assert app.store is not None
        await app.store.flush()

        queued = next(e for e in sink.events if e.type == "call.queued")
        assert queued.data["attached"] == {"rut": "*********5"}
        assert app.router.call("1700000000.1").attached == {"rut": RUT}  # type: ignore[union-attr]  # clear for the agent
        for created in (tmp_path / "var", database.parent, callbacks.parent):
            assert mode(created) == 0o700, created
        for suffix in ("", "-wal", "-shm"):
            assert mode(database.with_name(database.name + suffix)) == 0o600, suffix
            assert mode(callbacks.with_name(callbacks.name + suffix)) == 0o600, suffix
        assert mode(database.parent / "privacy.key") == 0o600
        running = event_log_bytes(database)
    finally:
        await app.engine.stop(grace_s=1)

    for raw in (running, event_log_bytes(database)):
        for secret in (CALLER, CALLER[2:], CALLBACK_NUMBER, CALLBACK_NUMBER[2:], RUT_DIGITS):
            assert secret.encode() not in raw, secret
        assert b"*******0000" in raw  # the caller, masked
    assert CALLBACK_NUMBER.encode() in callbacks.read_bytes()  # kept to dial it: that file is 0600
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert CALLER not in logged and RUT_DIGITS not in logged and CALLBACK_NUMBER not in logged

    settings_file = tmp_path / "acd.yaml"
    settings_file.write_text(f"metrics: {{database: {database}}}\n")
    capsys.readouterr()
    find = ["recordings", "find", "--settings", str(settings_file), "--number"]
    assert await asyncio.to_thread(acd_main, [*find, "+56 9 7777 0000", "--json"]) == 0  # the CLI runs its own loop
    [found] = json.loads(capsys.readouterr().out)
    assert (found["call_id"], found["caller"], found["agent"]) == ("1700000000.1", "*******0000", "ana")
    assert await asyncio.to_thread(acd_main, [*find, "56911112222"]) == 1


def test_acd_run_creates_every_file_and_folder_owner_only(tmp_path: Path) -> None:
    """``acd run`` as an operator starts it, from a shell whose umask is 022."""
    var = tmp_path / "var"
    settings_file = tmp_path / "acd.yaml"
    settings_file.write_text(
        f"agi: {{port: {free_port()}}}\nami: {{port: {free_port()}}}\napi: {{enabled: false}}\n"
        f"routing: {{config: {REPO / 'deploy' / 'routing.yaml'}}}\nivr: {{flows_dir: {REPO / 'ivr_flows'}}}\n"
        f"metrics: {{database: {var / 'events' / 'acd.sqlite'}}}\ncallbacks: {{database: {var / 'cb' / 'callbacks.sqlite'}}}\n"
        f"recording: {{local_dir: {tmp_path / 'rec'}}}\nlog: {{level: error}}\n"
    )
    engine = subprocess.Popen(
        [sys.executable, "-m", "acd", "run", "--settings", str(settings_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "ACD_AMI_SECRET": "x"},
        preexec_fn=lambda: os.umask(0o022),
    )
    expected = [var / "events" / "acd.sqlite-wal", var / "cb" / "callbacks.sqlite-shm"]
    try:
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in expected) and engine.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.poll() is None, engine.stderr.read().decode() if engine.stderr else ""
        created = sorted(path for path in var.rglob("*"))
        assert {path.relative_to(var).as_posix() for path in created} >= {
            "events", "events/acd.sqlite", "events/acd.sqlite-wal", "events/acd.sqlite-shm", "events/privacy.key",
            "cb", "cb/callbacks.sqlite", "cb/callbacks.sqlite-wal", "cb/callbacks.sqlite-shm",
        }
        assert mode(var) == 0o700
        assert {path.relative_to(var).as_posix(): mode(path) for path in created} == {
            path.relative_to(var).as_posix(): 0o700 if path.is_dir() else 0o600 for path in created
        }
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)


async def test_an_event_log_left_readable_by_an_older_acd_is_tightened_and_private_false_leaves_the_umask(tmp_path: Path, open_umask: None) -> None:
    old = tmp_path / "old" / "acd.sqlite"
    old.parent.mkdir()
    async with await EventStore.open(old, private=False):
        pass
    assert mode(old) == 0o644  # files.private: false: the umask decides
    old.with_name("acd.sqlite-wal").write_bytes(b"")  # as a crashed older engine leaves it
    async with await EventStore.open(old) as store:
        await store.count()
        assert {p.name: mode(p) for p in old.parent.iterdir()} == {"acd.sqlite": 0o600, "acd.sqlite-wal": 0o600, "acd.sqlite-shm": 0o600}


def test_files_private_is_on_by_default_and_a_bad_value_is_one_clear_line(tmp_path: Path) -> None:
    settings_file = tmp_path / "acd.yaml"
    settings_file.write_text("files: {private: maybe}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_settings(empty, environ={}).files.private is True
    assert load_settings(empty, environ={"ACD_FILES_PRIVATE": "false"}).files.private is False
    with pytest.raises(SettingsError) as raised:
        load_settings(settings_file, environ={})
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith(f"{settings_file}:1:18: files.private") and "maybe" in problem
