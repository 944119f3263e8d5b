"""The lab's free port is one no outgoing connection can take before the server binds it."""

from __future__ import annotations

import socket
from pathlib import Path

from acd.lab.ports import ephemeral_top, free_port


def test_a_free_port_is_above_the_kernels_ephemeral_range_and_can_be_bound() -> None:
    top = ephemeral_top()
    for _ in range(20):
        port = free_port()
        assert top < port <= 65535
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_never_handed_out(tmp_path: Path) -> None:
    narrow = tmp_path / "range"
    narrow.write_text("32768\t65533\n")  # leaves two ports above the range: 65534 and 65535
    taken = []
    for port in (65534, 65535):
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            continue  # already in use on this machine: taken either way
        listener.listen()
        taken.append(listener)
    try:
        port = free_port(ephemeral_range=narrow)
        assert port not in (65534, 65535)
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
    finally:
        for listener in taken:
            listener.close()


def test_an_unreadable_range_file_falls_back_to_linuxs_default_top(tmp_path: Path) -> None:
    assert ephemeral_top(tmp_path / "missing") == 60999
    garbled = tmp_path / "garbled"
    garbled.write_text("not numbers")
    assert ephemeral_top(garbled) == 60999
    assert 60999 < free_port(ephemeral_range=tmp_path / "missing") <= 65535
