"""The lab's free ports are ones no outgoing socket can take before the server binds them."""

from __future__ import annotations

import socket
from pathlib import Path

from acd.lab.ports import HIGHEST, free_port, free_udp_port, outside_ephemeral_range


def test_a_free_tcp_port_is_above_the_kernels_ephemeral_range_and_can_be_bound() -> None:
    span = outside_ephemeral_range()
    assert span is not None, "this machine's ephemeral range leaves no room: the test proves nothing here"
    for _ in range(20):
        port = free_port()
        assert span[0] <= port <= span[1]
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_free_udp_port_is_outside_the_range_and_can_be_bound() -> None:
    span = outside_ephemeral_range()
    assert span is not None
    port = free_udp_port()
    assert span[0] <= port <= HIGHEST
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", port))


def _range_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ip_local_port_range"
    path.write_text(text)
    return path


def test_the_room_is_above_the_range_else_below_it_else_none(tmp_path: Path) -> None:
    assert outside_ephemeral_range(_range_file(tmp_path, "32768\t60999\n")) == (61000, HIGHEST)
    assert outside_ephemeral_range(_range_file(tmp_path, "20000\t65535\n")) == (10000, 19992)
    assert outside_ephemeral_range(_range_file(tmp_path, "1024\t65535\n")) is None
    assert outside_ephemeral_range(_range_file(tmp_path, "not numbers")) is None
    assert outside_ephemeral_range(tmp_path / "missing") is None


def test_a_port_someone_has_bound_is_never_handed_out(tmp_path: Path) -> None:
    narrow = _range_file(tmp_path, f"32768\t{HIGHEST - 2}\n")  # room for two ports: the last two
    taken = []
    for port in (HIGHEST - 1, HIGHEST):
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            continue  # already bound on this machine: taken either way
        listener.listen()
        taken.append(listener)
    try:
        port = free_port(ephemeral_range=narrow)
        assert port not in (HIGHEST - 1, HIGHEST)
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
    finally:
        for listener in taken:
            listener.close()
