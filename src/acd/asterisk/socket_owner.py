"""Who opened a TCP connection to us from this machine: the kernel's answer, over netlink.

Why: every FastAGI session proves it comes from our Asterisk by answering ``GET VARIABLE
ACD_AGI_KEY`` (:mod:`acd.asterisk.agi_key`) — an AGI round trip per call, which costs
Asterisk an AGI command (with its two ``AGIExec`` channel snapshots) and the engine a
wake-up.  When Asterisk runs on this machine, the kernel already knows which user opened
the connection: the owner of the peer's socket, which ``ss -e`` shows and ``sock_diag``
(``NETLINK_SOCK_DIAG``, no privilege needed) tells any process.  A session whose socket
belongs to ``agi.asterisk_uid`` is let in without the question; any other answer (another
user, a peer in another network namespace such as a Docker container, another host, a
kernel that does not say) leaves the key question as it was.

Nothing is weaker: a process running as Asterisk's user (or root) can read Asterisk's
configuration and so the key itself.  The lookup is one ``sendto`` and one ``recv`` on a
netlink socket kept open, answered by the kernel at once (bounded by a short time-out).

Wire format (``linux/inet_diag.h``): a ``nlmsghdr`` then ``inet_diag_req_v2`` naming the
exact socket (family, TCP, every state, its ports and addresses seen from the peer's side:
the peer's address is the socket's source); the answer's ``inet_diag_msg`` carries
``idiag_uid``.
"""

from __future__ import annotations

import select
import socket
import struct
import threading

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
ALL_STATES = 0xFFFFFFFF
NO_COOKIE = 0xFFFFFFFF
#: nlmsghdr (16) + inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid:
#: sport, dport (big-endian), src[16], dst[16], interface, cookie[2]
_HEADER = struct.Struct("=IHHII")
_SELECT = struct.Struct("=BBBxI")
_PORTS = struct.Struct(">HH")
_TAIL = struct.Struct("=III")
_REQUEST_SIZE = _HEADER.size + _SELECT.size + _PORTS.size + 32 + _TAIL.size
#: in the answer, after nlmsghdr (16): family, state, timer, retrans (4), sockid (48),
#: expires, rqueue, wqueue (12), then the uid
_UID_AT = 16 + 4 + 48 + 12
_STATE_AT = 16 + 1
#: The one TCP state whose owner is told.  A socket its owner has closed
#: (FIN_WAIT*, LAST_ACK, CLOSING, TIME_WAIT) is orphaned, and the kernel reports it as
#: uid 0 — root, which may be Asterisk's user: a peer that connected, wrote a header and
#: closed would pass for Asterisk.  Asterisk's socket is ESTABLISHED while its session
#: starts; any other answer says nothing, and the key question is asked.
_ESTABLISHED = 1
_TIMEOUT_S = 0.05


class SocketOwners:
    """Asks the kernel for the owner (uid) of a TCP socket on this machine; None when it cannot say."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._sequence = 0
        self.unavailable = False  # no netlink here (another OS, a sandbox): never asked again

    def owner(self, peer: object, local: object) -> int | None:
        """The uid owning the peer end of the connection ``peer`` -> ``local`` (``(host, port)``
        pairs as the transport gives them), or None."""
        if self.unavailable:
            return None
        peer_address, peer_port = _address(peer)
        local_address, local_port = _address(local)
        if peer_address is None or local_address is None or len(peer_address) != len(local_address):
            return None  # unreadable, or the families differ
        family = socket.AF_INET if len(peer_address) == 4 else socket.AF_INET6
        with self._lock:
            return self._ask(family, peer_address.ljust(16, b"\0"), peer_port, local_address.ljust(16, b"\0"), local_port)

    def _ask(self, family: int, src: bytes, sport: int, dst: bytes, dport: int) -> int | None:
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
                self._socket.setblocking(False)
            self._sequence = (self._sequence + 1) & 0xFFFFFFFF
            request = b"".join((
                _HEADER.pack(_REQUEST_SIZE, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, self._sequence, 0),
                _SELECT.pack(family, socket.IPPROTO_TCP, 0, ALL_STATES),
                _PORTS.pack(sport, dport), src, dst,
                _TAIL.pack(0, NO_COOKIE, NO_COOKIE),
            ))
            self._socket.sendto(request, (0, 0))
            while True:
                answer = self._receive()
                if len(answer) < 16:
                    return None
                _length, kind, _flags, sequence, _pid = _HEADER.unpack_from(answer)
                if sequence != self._sequence:
                    continue  # a late answer to an earlier question that timed out
                if kind != SOCK_DIAG_BY_FAMILY or len(answer) < _UID_AT + 4:
                    return None  # an error message (NLMSG_ERROR): no such socket on this machine's network
                if answer[_STATE_AT] != _ESTABLISHED:
                    return None
                return int(struct.unpack_from("=I", answer, _UID_AT)[0])
        except (AttributeError, OSError):
            # AttributeError: no AF_NETLINK on this platform
            if self._socket is None:
                self.unavailable = True
            else:
                self._close()
            return None

    def _receive(self) -> bytes:
        """The next answer: at once as a rule (the kernel answers within ``sendto``), else
        within ``_TIMEOUT_S`` (a non-blocking socket: no poll before every read)."""
        assert self._socket is not None
        try:
            return self._socket.recv(4096)
        except BlockingIOError:
            readable, _, _ = select.select([self._socket], [], [], _TIMEOUT_S)
            if not readable:
                raise TimeoutError("no answer from sock_diag") from None
            return self._socket.recv(4096)

    def _close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _address(pair: object) -> tuple[bytes | None, int]:
    """(the packed address, the port) of a ``(host, port[, …])`` pair; (None, 0) if it is not one."""
    try:
        host, port = pair[0], int(pair[1])  # type: ignore[index]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.inet_pton(family, host), port
    except (TypeError, ValueError, IndexError, OSError):
        return None, 0


__all__ = ["SocketOwners"]

