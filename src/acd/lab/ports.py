"""A free TCP port for a server the lab or a test is about to start.

The usual trick (bind to port 0, read the port, close) takes the port from the kernel's
ephemeral range, which the kernel also hands to every outgoing connection on the machine:
between the check and the server's own bind another connection can take it, and the
server fails with "address already in use" (seen in CI).  A port above that range is
never handed out implicitly, so only an explicit bind can take it in between.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
TRIES_ABOVE_THE_RANGE = 200


def ephemeral_top(source: Path = EPHEMERAL_RANGE) -> int:
    """The highest port the kernel picks by itself (60999 when the file cannot be read)."""
    try:
        return int(source.read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 60999


def free_port(host: str = "127.0.0.1", *, ephemeral_range: Path = EPHEMERAL_RANGE) -> int:
    """A port on ``host`` nobody listens on now, above the ephemeral range when there is room.

    Falls back to a kernel-picked port when every port tried above the range is taken (or
    the range reaches 65535)."""
    top = ephemeral_top(ephemeral_range)
    candidates = list(range(top + 1, 65536))
    random.shuffle(candidates)
    for port in candidates[:TRIES_ABOVE_THE_RANGE]:
        if _bindable(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


__all__ = ["free_port", "ephemeral_top"]
