"""The FastAGI server over real loopback sockets, with misbehaving peers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd.asterisk.fastagi import AgiSession, FastAgiServer, RouteRegistry

GOOD_HEADER = b"agi_network: yes\nagi_network_script: echo\nagi_channel: PJSIP/a-1\nagi_uniqueid: 1.1\n\n"


async def start_server(routes: RouteRegistry, **kwargs: float) -> FastAgiServer:
    server = FastAgiServer(routes, host="127.0.0.1", port=0, **kwargs)  # type: ignore[arg-type]
    await server.start()
    return server


def echo_routes(seen: list[str]) -> RouteRegistry:
    routes = RouteRegistry()

    async def echo(session: AgiSession) -> None:
        response = await session.command("GET VARIABLE", "X")
        seen.append(response.data or "")

    routes.add("echo", echo)
    return routes


async def fake_asterisk_call(port: int, value: str) -> bytes:
    """Behave like Asterisk: send the header, answer one command, read until close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(GOOD_HEADER)
    command = await asyncio.wait_for(reader.readline(), 5)
    writer.write(f"200 result=1 ({value})\n".encode())
    await writer.drain()
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return command + rest


async def test_peer_that_disconnects_mid_header_does_not_stall_other_calls() -> None:
    seen: list[str] = []
    server = await start_server(echo_routes(seen))
    try:
        _, bad_writer = await asyncio.open_connection("127.0.0.1", server.port)
        bad_writer.write(b"agi_network: yes\nagi_chan")
        await bad_writer.drain()
        bad_writer.close()
        command = await asyncio.wait_for(fake_asterisk_call(server.port, "ok"), 5)
        assert command.startswith(b'GET VARIABLE "X"')
        assert seen == ["ok"]
    finally:
        await server.close(grace_s=1)


async def test_silent_peer_is_dropped_after_header_timeout_while_calls_proceed() -> None:
    seen: list[str] = []
    server = await start_server(echo_routes(seen), header_timeout_s=0.3)
    try:
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", server.port)
        silent_writer.write(b"agi_network: yes\n")
        await silent_writer.drain()
        await asyncio.wait_for(fake_asterisk_call(server.port, "first"), 5)
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""  # server closed it
        assert server.stats.header_timeouts == 1
        assert seen == ["first"]
    finally:
        await server.close(grace_s=1)


@pytest.mark.parametrize(
    "junk, counter",
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "protocol_errors"),
        (b"agi_x: " + b"y" * 70000, "protocol_errors"),
        (b"\x00\xff\xfe garbage\n\n", "protocol_errors"),
    ],
)
async def test_garbage_peer_is_closed_and_counted(junk: bytes, counter: str) -> None:
    server = await start_server(echo_routes([]), max_header_bytes=16384)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(junk)
        try:
            leftover = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""  # closed by the server, nothing sent back
        assert getattr(server.stats, counter) == 1
    finally:
        await server.close(grace_s=1)


async def test_handler_that_raises_is_logged_and_server_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    routes = RouteRegistry()
    seen: list[str] = []

    async def broken(session: AgiSession) -> None:
        raise RuntimeError("boom")

    routes.add("broken", broken)
    routes.add("echo", echo_routes(seen).resolve("echo"))  # type: ignore[arg-type]
    server = await start_server(routes)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(GOOD_HEADER.replace(b"echo", b"broken"))
        assert await asyncio.wait_for(reader.read(), 5) == b""
        with caplog.at_level(logging.ERROR):
            await fake_asterisk_call(server.port, "still-here")
        assert server.stats.handler_errors == 1
        assert seen == ["still-here"]
    finally:
        await server.close(grace_s=1)


async def test_unknown_route_is_told_to_asterisk_and_closed() -> None:
    server = await start_server(echo_routes([]))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(GOOD_HEADER.replace(b"echo", b"nowhere"))
        data = await asyncio.wait_for(reader.read(), 5)
        assert data.startswith(b'VERBOSE "acd: no route nowhere"')
        assert server.stats.unknown_routes == 1
    finally:
        await server.close(grace_s=1)


async def test_asterisk_hanging_up_mid_command_ends_the_session_cleanly() -> None:
    outcome: list[str] = []
    routes = RouteRegistry()

    async def waits(session: AgiSession) -> None:
        try:
            await session.command("WAIT FOR DIGIT", "5000")
        finally:
            outcome.append("hung_up" if session.hung_up else "alive")

    routes.add("echo", waits)
    server = await start_server(routes)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(GOOD_HEADER)
        await reader.readline()
        writer.write(b"HANGUP\n200 result=-1\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert outcome == ["hung_up"]
        assert server.stats.handler_errors == 0
    finally:
        await server.close(grace_s=1)


async def test_close_waits_for_calls_in_progress_then_cancels_after_grace() -> None:
    routes = RouteRegistry()
    finished: list[str] = []

    async def slow(session: AgiSession) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            finished.append("cancelled")

    routes.add("echo", slow)
    server = await start_server(routes)
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(GOOD_HEADER)
    await writer.drain()
    while server.active_sessions == 0:
        await asyncio.sleep(0.01)
    await server.close(grace_s=0.2)
    assert finished == ["cancelled"]
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


ASTERISK_LIKE_HEADER = GOOD_HEADER[:-1] + b"".join(
    f"agi_{key}: {value}\n".encode()
    for key, value in [
        ("language", "es"), ("type", "PJSIP"), ("callerid", "56912345678"), ("calleridname", "unknown"),
        ("callingpres", "0"), ("callingani2", "0"), ("callington", "0"), ("callingtns", "0"), ("dnid", "300"),
        ("rdnis", "unknown"), ("context", "from-callers"), ("extension", "300"), ("priority", "3"),
        ("enhanced", "0.0"), ("accountcode", ""), ("threadid", "139951979935424"),
    ]
) + b"\n"


@pytest.mark.parametrize("gather_s", [0.03, 0.0])
async def test_a_header_written_a_line_at_a_time_is_read_in_a_few_gathers(gather_s: float, monkeypatch) -> None:
    """Asterisk writes the header one line per write; read as it trickles in, it woke the
    engine once a line.  Gathered, it takes at most 3 reads (uvloop reads once before the
    first pause); without gathering (0), one read a line."""
    from acd.asterisk.fastagi import _AgiConnection

    reads: list[int] = []
    original = _AgiConnection.data_received

    def counting(self: _AgiConnection, data: bytes) -> None:
        if self.session is None:
            reads.append(len(data))
        original(self, data)

    monkeypatch.setattr(_AgiConnection, "data_received", counting)
    seen: list[str] = []
    server = await start_server(echo_routes(seen), header_gather_s=gather_s)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        lines = ASTERISK_LIKE_HEADER.splitlines(keepends=True)
        for line in lines:
            writer.write(line)
            await writer.drain()
            await asyncio.sleep(0.001)
        command = await asyncio.wait_for(reader.readline(), 5)
        writer.write(b"200 result=1 (gathered)\n")
        await writer.drain()
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert command.startswith(b'GET VARIABLE "X"') and seen == ["gathered"]
        assert sum(reads) == len(ASTERISK_LIKE_HEADER)
        if gather_s:
            assert len(reads) <= 3, reads
        else:
            assert len(reads) > len(lines) // 2, reads
    finally:
        await server.close(grace_s=1)
