"""Recordings: raw bytes kept exactly, arrival times, loops that stay distinct, the recorder itself."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from acd.bench.ami_recorder import Capture, RecorderError, record
from acd.bench.ami_recording import (
    MAX_PLAIN_BYTES,
    RecordingError,
    event_name,
    headers_of,
    looped_events,
    read_recording,
    split_events,
    write_recording,
)
from tests.bench.conftest import T0

REPO = Path(__file__).resolve().parents[2]


def test_a_recording_reads_back_its_events_times_and_routing(mini_recording: Path) -> None:
    recording = read_recording(mini_recording)
    assert len(recording.events) == len(recording.offsets) == 17
    assert event_name(recording.events[0]) == "FullyBooted"
    assert recording.started_at == T0 and recording.duration_s == pytest.approx(29.1)
    assert recording.routing_path is not None and recording.routing_path.exists()
    for name in ("mini", "mini.ami", "mini.json"):
        assert read_recording(mini_recording.parent / name).events == recording.events


def test_large_streams_are_kept_compressed_and_read_the_same(tmp_path: Path) -> None:
    block = b"Event: VarSet\r\nVariable: X\r\nValue: " + b"y" * 400
    count = MAX_PLAIN_BYTES // len(block) + 10
    raw = (block + b"\r\n\r\n") * count
    path = write_recording(tmp_path, "big", raw, [float(i) for i in range(count)], {}, None)
    assert path.name == "big.ami.gz" and not (tmp_path / "big.ami").exists()
    assert gzip.decompress(path.read_bytes()) == raw
    assert len(read_recording(tmp_path / "big").events) == count


def test_an_event_cut_off_at_the_end_is_not_kept(tmp_path: Path) -> None:
    raw = b"Event: A\r\nX: 1\r\n\r\nEvent: B\r\nX: 2\r\n\r\nEvent: C\r\nX:"
    write_recording(tmp_path, "cut", raw, [0.0, 1.0], {}, None)
    assert (tmp_path / "cut.ami").read_bytes() == b"Event: A\r\nX: 1\r\n\r\nEvent: B\r\nX: 2\r\n\r\n"
    with pytest.raises(RecordingError, match="2 events but 3 arrival times"):
        write_recording(tmp_path, "bad", raw, [0.0, 1.0, 2.0], {}, None)


def test_a_missing_or_empty_recording_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "nothing")
    (tmp_path / "empty.ami").write_bytes(b"")
    (tmp_path / "empty.json").write_text(json.dumps({"offsets": []}))
    with pytest.raises(RecordingError, match="no AMI events"):
        read_recording(tmp_path / "empty")


def test_loops_rename_every_channel_id_and_move_time_forward(mini_recording: Path) -> None:
    recording = read_recording(mini_recording)
    passes = list(looped_events(recording, 3))
    assert len(passes) == 3 * len(recording.events)
    times = [at for _, at in passes]
    assert times == sorted(times) and times[0] == T0
    per_pass = len(recording.events)
    ids = []
    for index in range(3):
        blocks = [block for block, _ in passes[index * per_pass:(index + 1) * per_pass]]
        parked = [dict(headers_of(b)) for b in blocks if b"AcdParked" in b]
        ids.append({p[b"CallId"] for p in parked})
        for p in parked:
            assert p[b"CallId"] == p[b"Uniqueid"]  # renamed the same way everywhere
        varset = [dict(headers_of(b)) for b in blocks if event_name(b) == "VarSet"]
        assert {v[b"Value"] for v in varset} == ids[-1]  # the call id inside a variable follows too
    assert not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]
    assert all(len(group) == 2 for group in ids)
    first = [dict(headers_of(b)) for b, _ in passes[:per_pass] if b"AcdParked" in b][0]
    third = [dict(headers_of(b)) for b, _ in passes[2 * per_pass:] if b"AcdParked" in b][0]
    assert float(third[b"WaitOrigin"]) - float(first[b"WaitOrigin"]) == pytest.approx(2 * (recording.duration_s + 1.0), abs=1e-3)
    assert passes[:per_pass] == [(block, T0 + offset) for block, offset in zip(recording.events, recording.offsets)]  # pass 1 untouched


def test_capture_stamps_events_when_they_complete_even_across_reads() -> None:
    capture = Capture()
    assert capture.feed(b"Event: A\r\n\r\nEvent: B\r\n", 1.0) == 1
    assert capture.feed(b"\r", 2.0) == 0
    assert capture.feed(b"\nEvent: C\r\n\r\n", 3.0) == 2
    assert capture.times == [1.0, 3.0, 3.0] and capture.offsets() == [0.0, 2.0, 2.0]
    assert bytes(capture.raw) == b"Event: A\r\n\r\nEvent: B\r\n\r\nEvent: C\r\n\r\n"
    assert split_events(bytes(capture.raw)) == ([b"Event: A", b"Event: B", b"Event: C"], b"")


async def _fake_asterisk(events: bytes, accept: bool) -> tuple[asyncio.AbstractServer, int, list[bytes]]:
    logins: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        login = await reader.readuntil(b"\r\n\r\n")
        logins.append(login)
        if not accept:
            writer.write(b"Response: Error\r\nMessage: Authentication failed\r\n\r\n")
        else:  # the response and the first events in one segment, as Asterisk often sends them
            writer.write(b"Response: Success\r\nActionID: acd-recorder\r\nMessage: Authentication accepted\r\n\r\n" + events[:20])
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(events[20:])
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], logins


async def test_the_recorder_keeps_the_bytes_after_login_exactly() -> None:
    events = b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\nEvent: Newchannel\r\nUniqueid: 1.1\r\n\r\nEvent: Hangup\r\nUniqueid: 1.1\r\n\r\n"
    server, port, logins = await _fake_asterisk(events, accept=True)
    async with server:
        capture = await record("127.0.0.1", port, "acd", "s3cret", asyncio.Event())
    assert bytes(capture.raw) == events and len(capture.times) == 3
    assert b"Events: on" in logins[0] and b"Username: acd" in logins[0]


async def test_the_recorder_reports_a_refused_login() -> None:
    server, port, _ = await _fake_asterisk(b"", accept=False)
    async with server:
        with pytest.raises(RecorderError, match="login refused"):
            await record("127.0.0.1", port, "acd", "wrong", asyncio.Event())


def test_the_shipped_recording_is_a_real_stream_that_fits_the_repository() -> None:
    folder = REPO / "deploy" / "ami-recordings"
    recording = read_recording(folder / "helpline")
    files = [path for path in folder.iterdir() if path.name.startswith("helpline.")]
    assert all(path.stat().st_size < 5_000_000 for path in files)
    names = {event_name(block) for block in recording.events}
    assert {"Newchannel", "VarSet", "DialBegin", "DialEnd", "Hangup", "UserEvent"} <= names
    assert (recording.meta.get("asterisk") or "").startswith("Asterisk 22")
    assert recording.meta["calls"] >= 200
