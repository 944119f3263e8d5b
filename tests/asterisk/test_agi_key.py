"""Only sessions that can show the install's AGI key start calls: a raw TCP client
speaking FastAGI to a real engine listener is asked for Asterisk's ACD_AGI_KEY and, without
it, refused (no event, counted in /metrics, logged a few times a minute at most); with it,
served.  The key file is made once, owner-only, and kept; Asterisk is given the key first
on every AMI connection; the key never reaches a log or an event."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from acd.app import App
from acd.asterisk.agi_key import AgiKeyError, _Throttle, load_or_create_key
from acd.asterisk.call_control import AsteriskCallControl
from acd.engine import MemorySink
from acd.settings import AgiSettings, AmiSettings
from tests.api.helpers import assemble, free_port, make_settings
from tests.asterisk.test_ami_client import ScriptedAmi, _fields


GET_KEY = b'GET VARIABLE "ACD_AGI_KEY"\n'


async def agi_session(port: int, script: str = "ivr", *, key: str | None = None, uniqueid: str = "1700000000.1") -> list[bytes]:
    """Speak FastAGI as Asterisk would: the header, then ``GET VARIABLE ACD_AGI_KEY``
    answered with ``key`` (``None``: as Asterisk does for an unset variable); any other
    command is answered as a caller hanging up.  Returns the command lines received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = (
        f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1:{port}/{script}\n"
        f"agi_channel: PJSIP/caller-00000001\nagi_uniqueid: {uniqueid}\nagi_callerid: 56911111111\n"
        "agi_dnid: 300\nagi_extension: 300\n\n"
    )
    writer.write(header.encode())
    commands: list[bytes] = []
    while line := await asyncio.wait_for(reader.readline(), 10):
        commands.append(line)
        if line == GET_KEY:
            writer.write(f"200 result=1 ({key})\n".encode() if key is not None else b"200 result=0\n")
        else:
            writer.write(b"HANGUP\n200 result=-1\n")
    writer.close()
    return commands


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[App, MemorySink, int]]:
    settings = make_settings(tmp_path, api_port=free_port())
    app, _, sink = assemble(settings)
    await app.engine.start()
    try:
        yield app, sink, settings.api.port
    finally:
        await app.engine.stop(grace_s=1)


def stored_types(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT type FROM events ORDER BY seq")]


async def test_a_session_without_the_key_is_closed_counted_and_produces_no_event(
    running: tuple[App, MemorySink, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, sink, api_port = running
    port = app.engine.fastagi.port
    assert await agi_session(port, "ivr") == [GET_KEY]  # asked for the key, then closed without a word
    assert await agi_session(port, "ivr", key="not-the-key-0123456789", uniqueid="1700000000.2") == [GET_KEY]
    assert await agi_session(port, "survey") == [GET_KEY] and await agi_session(port, "announce") == [GET_KEY]
    assert app.engine.fastagi.stats.refused_without_key == 4
    assert sink.of_type("call.started", "ivr.node", "ivr.error", "call.ended") == []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as client:
        metrics = (await client.get("/metrics")).text
    assert "acd_fastagi_refused_sessions_total 4" in metrics.splitlines()
    warnings = [r.getMessage() for r in caplog.records if "refused a session" in r.getMessage()]
    assert len(warnings) == 4 and "PJSIP/caller-00000001" in warnings[0] and "no AGI key" in warnings[0]
    assert "wrong AGI key" in warnings[1] and not any("not-the-key" in w for w in warnings)
    database = app.engine.settings.metrics.database
    await app.engine.stop(grace_s=1)
    assert "call.started" not in stored_types(database)


async def test_a_session_with_the_key_starts_a_call_and_the_key_never_reaches_logs_or_events(
    running: tuple[App, MemorySink, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, sink, _ = running
    key = app.engine.agi_key
    assert key is not None
    assert await agi_session(app.engine.fastagi.port, "ivr", key=key) == [GET_KEY, b"ANSWER\n"]
    for _ in range(100):
        if sink.of_type("call.ended"):
            break
        await asyncio.sleep(0.02)
    [started] = sink.of_type("call.started")
    assert started.call_id == "1700000000.1" and started.data["dialed"] == "300"
    assert app.engine.fastagi.stats.refused_without_key == 0
    assert key not in caplog.text and all(key not in str(event.data) for event in sink.events)


async def test_a_peer_that_never_answers_is_refused_in_bounded_time_and_one_that_hangs_up_is_not_counted(
    running: tuple[App, MemorySink, int],
) -> None:
    app, sink, _ = running
    port = app.engine.fastagi.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network: yes\nagi_network_script: ivr\nagi_channel: PJSIP/x-1\nagi_uniqueid: 9.1\n\n")
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.readline(), 5) == GET_KEY  # ... and no answer
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed after the header time-out
    assert asyncio.get_running_loop().time() - started < app.engine.settings.agi.header_timeout_s + 3
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network: yes\nagi_network_script: ivr\nagi_channel: PJSIP/x-2\nagi_uniqueid: 9.2\n\n")
    assert await asyncio.wait_for(reader.readline(), 5) == GET_KEY
    writer.write(b"HANGUP\n200 result=-1\n")  # a real caller gone already
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert app.engine.fastagi.stats.refused_without_key == 1
    assert sink.of_type("call.started") == []


async def test_a_flood_of_refused_sessions_is_counted_whole_but_logged_a_few_times(
    running: tuple[App, MemorySink, int], caplog: pytest.LogCaptureFixture
) -> None:
    app, sink, _ = running
    port = app.engine.fastagi.port
    await asyncio.gather(*(agi_session(port, "ivr", uniqueid=f"1.{n}") for n in range(60)))
    assert app.engine.fastagi.stats.refused_without_key == 60
    assert len([r for r in caplog.records if "refused a session" in r.getMessage()]) == 5
    assert sink.of_type("call.started") == []


def test_the_key_file_is_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "agi-key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 40
    assert load_or_create_key(path) == key  # stable across restarts
    path.chmod(0o644)
    assert load_or_create_key(path) == key and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_key_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "agi-key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(AgiKeyError, match="agi-key: not an AGI key .* delete it"):
        load_or_create_key(path)


async def test_a_configured_key_wins_over_the_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, enabled=False)
    settings = settings.model_copy(update={"agi": AgiSettings(port=settings.agi.port, key="k" * 32)})  # type: ignore[arg-type]
    app, _, _ = assemble(settings)
    await app.engine.start()
    try:
        assert app.engine.agi_key == "k" * 32 and not (tmp_path / "agi-key").exists()
    finally:
        await app.engine.stop(grace_s=1)


def test_the_refusal_log_allows_a_few_lines_per_window_then_resumes() -> None:
    now = [0.0]
    throttle = _Throttle(per_window=2, window_s=60, clock=lambda: now[0])
    assert [throttle.allow() for _ in range(5)] == [True, True, False, False, False]
    now[0] = 61
    assert throttle.allow() and throttle.suppressed == 3


async def test_asterisk_is_given_the_key_first_on_every_ami_connection(tmp_path: Path) -> None:
    """Setvar without a Channel (Asterisk's global ACD_AGI_KEY), before the resync's own
    actions, on the first connection and again after a reconnection."""
    server = ScriptedAmi()
    ami_port = await server.start()
    base = make_settings(tmp_path, enabled=False)
    # (the scripted server does not answer Status lists: the resync gives up after 0.5 s)
    ami = AmiSettings(port=ami_port, secret="s", reconnect_initial_s=0.05, action_timeout_s=0.5)  # type: ignore[arg-type]
    app, _, _ = assemble(base.model_copy(update={"ami": ami}))
    app.dispatcher.control = AsteriskCallControl(app.engine.ami)  # the real one: resync sends actions
    await app.engine.start()
    try:
        await app.engine.ami.wait_connected(5)
        key = app.engine.agi_key
        assert key is not None
        await _until_sent(server, b"Action: Status", 1)
        app.engine.ami.abort_connection()
        await _until_sent(server, b"Variable: ACD_AGI_KEY", 2)
        actions = [_fields(block) for block in bytes(server.received).split(b"\r\n\r\n") if block]
        names = [fields.get("action") for fields in actions]
        # (the other global Setvars are the engine-away plan's, acd.features.engine_away, sent after)
        setvars = [fields for fields in actions if fields.get("action") == "Setvar" and fields.get("variable") == "ACD_AGI_KEY"]
        assert len(setvars) == 2 and all(s == {"action": "Setvar", "actionid": s["actionid"], "variable": "ACD_AGI_KEY", "value": key} for s in setvars)
        for login in (i for i, name in enumerate(names) if name == "Login"):
            assert names[login + 1] == "Setvar" and actions[login + 1].get("variable") == "ACD_AGI_KEY"  # before anything else
    finally:
        await app.engine.stop(grace_s=1)
        await server.close()


async def _until_sent(server: ScriptedAmi, marker: bytes, count: int) -> None:
    for _ in range(250):
        if bytes(server.received).count(marker) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{marker!r} not sent {count} time(s): {bytes(server.received)!r}")
