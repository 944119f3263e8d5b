"""Free ports for the servers, phones and callers the lab and the tests are about to start.

The usual trick (bind to port 0, read the port, close) takes the port from the kernel's
ephemeral range, which the kernel also hands to every outgoing connection on the machine:
between the check and the server's own bind another socket can be given it, and the server
fails ("address already in use"; sipp: "Unable to bind main socket, errno 98": a caller
that never called; both seen in CI).  Ports outside that range are only ever taken by
someone asking for them by number, so they are tried first.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
TRIES_OUTSIDE_THE_RANGE = 200
#: The highest port handed out: sipp's media takes the port given and the next three.
HIGHEST = 65_530


def outside_ephemeral_range(source: Path = EPHEMERAL_RANGE) -> tuple[int, int] | None:
    """Ports the kernel never hands out by itself: above, else below, its ephemeral range;
    None when the range leaves no room or cannot be read."""
    try:
        low, high = (int(value) for value in source.read_text().split())
    except (OSError, ValueError):
        return None
    if high <= 64_000:
        return high + 1, HIGHEST
    if low >= 12_000:
        return 10_000, low - 8
    return None


def free_port(host: str = "127.0.0.1", *, kind: socket.SocketKind = socket.SOCK_STREAM, ephemeral_range: Path = EPHEMERAL_RANGE) -> int:
    """A port on ``host`` nobody has bound now (TCP, or UDP with ``kind=socket.SOCK_DGRAM``),
    outside the ephemeral range when there is room there; else one the kernel picks."""
    span = outside_ephemeral_range(ephemeral_range)
    if span is not None:
        for _ in range(TRIES_OUTSIDE_THE_RANGE):
            port = random.randint(*span)
            if _bindable(host, port, kind):
                return port
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A free UDP port (a sipp caller's or phone's signalling, its media's first port)."""
    return free_port(host, kind=socket.SOCK_DGRAM)


def _bindable(host: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


__all__ = ["free_port", "free_udp_port", "outside_ephemeral_range"]
