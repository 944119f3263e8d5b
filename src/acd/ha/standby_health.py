"""What the standby answers on the API's address while it waits: ``/api/health`` says standby.

Why: load balancers, keepalived checks and operators ask each node "are you the one?".
The leader answers with the engine's API (200, ``status: ok``); the standby, which runs
no engine yet, answers every request with 503 and ``{"status": "standby", "node",
"leader", "epoch"}`` — with the same bearer token as the API (401 without it), and only
when the API is on (``api.enabled`` and ``ACD_API_TOKEN``).  It closes the moment the
standby takes over, so the engine's API can take the address.  A port already taken
(two nodes on one host sharing it) leaves the standby without it, logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

log = logging.getLogger("acd.ha")

_MAX_HEADER_BYTES = 8192
_READ_TIMEOUT_S = 5.0


class StandbyHealth:
    """A minimal HTTP/1.1 responder: one answer per connection, then close."""

    def __init__(self, host: str, port: int, token: str, node: str) -> None:
        self.host, self.port, self.node = host, port, node
        self._token = token
        self.leader = ""
        self.epoch = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> bool:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            log.warning("standby %s: no health answer on %s:%d (%s)", self.node, self.host, self.port, exc.strerror or exc)
            return False
        log.info("standby %s: /api/health on http://%s:%d answers 503 standby", self.node, self.host, self.port)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            status, body = self.answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            status, body = "400 Bad Request", {"detail": "bad request"}
        payload = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode() + payload
        )
        try:
            await asyncio.wait_for(writer.drain(), _READ_TIMEOUT_S)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, head: bytes) -> tuple[str, dict[str, object]]:
        """(status line, JSON body) for one request's header block."""
        if len(head) > _MAX_HEADER_BYTES:
            return "431 Request Header Fields Too Large", {"detail": "headers too large"}
        shown = ""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"authorization":
                shown = value.strip().decode("latin-1")
        expected = f"Bearer {self._token}"
        if not hmac.compare_digest(shown.encode("latin-1", "replace"), expected.encode("latin-1", "replace")):
            return "401 Unauthorized", {"detail": "a valid bearer token is required"}
        return "503 Service Unavailable", {"status": "standby", "node": self.node, "leader": self.leader, "epoch": self.epoch}

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
            self._server = None
