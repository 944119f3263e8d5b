"""A throwaway mosquitto broker on a free loopback port, for tests, the demo and the lab.

The broker runs from the Debian package (``/usr/sbin/mosquitto``) with a generated
config in a temporary folder: one loopback listener, anonymous access, no persistence,
so each instance starts empty and leaves nothing behind.  ``stop()`` and ``start()`` keep
the same port, which is what a "broker goes down and comes back" test needs.

Synchronous on purpose: it is usable from plain pytest fixtures, from async tests and
from the demo script alike (starting takes a few milliseconds).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from acd.lab.ports import free_port
from types import TracebackType
from typing import Sequence

DEFAULT_BINARY = "/usr/sbin/mosquitto"


class MosquittoError(RuntimeError):
    """The broker could not be found or did not start; the message says why."""


def find_mosquitto() -> str:
    """Path of the mosquitto binary (``$ACD_MOSQUITTO``, ``PATH``, then /usr/sbin)."""
    candidates = [os.environ.get("ACD_MOSQUITTO"), shutil.which("mosquitto"), DEFAULT_BINARY]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MosquittoError("mosquitto not found: install the Debian package 'mosquitto' or set $ACD_MOSQUITTO")


class Mosquitto:
    """One broker process; ``with Mosquitto() as broker: ... broker.port``."""

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: str | None = None,
        extra_config: Sequence[str] = (),
        start_timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.binary = binary or find_mosquitto()
        self.extra_config = tuple(extra_config)
        self.start_timeout_s = start_timeout_s
        self.workdir = Path(tempfile.mkdtemp(prefix="acd-mosquitto-"))
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to the 'mosquitto' user; stay as we are so
            # the temporary folder stays readable and removable.
            lines.append("user root")
        lines.extend(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> None:
        """Start the broker and return once it accepts TCP connections."""
        if self.running:
            return
        self._write_config()
        log = open(self.log_path, "ab")
        try:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MosquittoError(f"mosquitto exited with code {self._process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise MosquittoError(f"mosquitto did not listen on {self.host}:{self.port} within {self.start_timeout_s} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); every client connection drops."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def close(self) -> None:
        """Stop the broker and remove its temporary folder."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def __enter__(self) -> "Mosquitto":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["Mosquitto", "MosquittoError", "find_mosquitto", "free_port"]
