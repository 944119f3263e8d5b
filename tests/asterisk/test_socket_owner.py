"""A FastAGI session whose socket belongs to Asterisk's user (the kernel says, over
sock_diag) is let in without the AGI key question; any other is still asked."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from acd.app import App
from acd.asterisk.socket_owner import SocketOwners
from tests.api.helpers import assemble, free_port, make_settings
from tests.asterisk.test_agi_key import GET_KEY, agi_session


def test_the_kernel_names_the_user_that_opened_a_loopback_connection() -> None:
    owners = SocketOwners()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            accepted, peer = server.accept()
            with accepted:
                assert owners.owner(peer, accepted.getsockname()) == os.getuid()
                assert owners.owner(client.getsockname(), ("127.0.0.1", 1)) is None  # no such connection
                assert owners.owner(("::1", peer[1]), accepted.getsockname()) is None  # families differ
                assert owners.owner("garbage", None) is None
    owners.close()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to open a socket as another user (CI runs as root)")
def test_a_connection_opened_by_another_user_is_that_users() -> None:
    owners = SocketOwners()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        go_read, go_write = os.pipe()  # the parent says when the child may close its socket
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only connects and waits
            try:
                os.setuid(65534)
                with socket.create_connection(server.getsockname()):
                    os.read(go_read, 1)
            finally:
                os._exit(0)
        accepted, peer = server.accept()
        try:
            assert owners.owner(peer, accepted.getsockname()) == 65534
            os.write(go_write, b"x")
            os.waitpid(child, 0)
            # closed by its owner, the socket is orphaned: the kernel says uid 0 (root) for
            # it, which must not count as anyone's
            assert owners.owner(peer, accepted.getsockname()) is None
        finally:
            with contextlib.suppress(ChildProcessError):
                os.write(go_write, b"x")
                os.waitpid(child, 0)
            accepted.close()
            os.close(go_read)
            os.close(go_write)
    owners.close()


@pytest.fixture
async def engine_with_uid(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[App]:
    settings = make_settings(tmp_path, api_port=free_port())
    settings = settings.model_copy(update={"agi": settings.agi.model_copy(update={"asterisk_uid": request.param})})
    app, _, _sink = assemble(settings)
    await app.engine.start()
    try:
        yield app
    finally:
        await app.engine.stop(grace_s=1)


@pytest.mark.parametrize("engine_with_uid", [os.getuid()], indirect=True)
async def test_a_session_from_asterisks_user_skips_the_key_question(engine_with_uid: App) -> None:
    app = engine_with_uid
    commands = await agi_session(app.engine.fastagi.port, "ivr")  # this process plays Asterisk
    assert commands and commands[0] != GET_KEY and GET_KEY not in commands
    assert app.engine.fastagi.stats.admitted_by_owner == 1 and app.engine.fastagi.stats.refused_without_key == 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.engine.settings.api.port}") as client:
        metrics = (await client.get("/metrics")).text
    assert "acd_fastagi_admitted_by_owner_total 1" in metrics.splitlines()


@pytest.mark.parametrize("engine_with_uid", [os.getuid() + 1], indirect=True)
async def test_a_session_from_any_other_user_is_still_asked_and_refused_without_the_key(engine_with_uid: App) -> None:
    app = engine_with_uid
    assert await agi_session(app.engine.fastagi.port, "ivr") == [GET_KEY]
    assert app.engine.fastagi.stats.admitted_by_owner == 0 and app.engine.fastagi.stats.refused_without_key == 1
