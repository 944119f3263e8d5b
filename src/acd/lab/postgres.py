"""A throwaway PostgreSQL cluster in a temporary folder, for tests and benchmarks.

Like ``acd.lab.mosquitto``: the server runs from the Debian package (``postgresql``,
``/usr/lib/postgresql/<version>/bin``) with ``initdb`` into a fresh folder, one loopback
TCP listener on a free port plus a unix socket in that folder, and is removed on close,
so each instance starts empty and leaves nothing behind.

PostgreSQL refuses to run as root (CI runs as root): then ``initdb`` and the server run
as the ``postgres`` system user (which the Debian package creates) through ``runuser``,
and the folder is handed to that user.  As anyone else they run as that user.

The superuser ``acd`` has a generated password (``password``): TCP connections must
show it (scram-sha-256), so the URL-with-a-secret paths are exercised for real; unix
socket connections from the machine are trusted.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from acd.lab.mosquitto import free_port


class PostgresError(RuntimeError):
    """The server could not be found or did not start; the message says why."""


def find_bindir() -> Path:
    """The folder of ``initdb``/``pg_ctl``: ``$ACD_LAB_PG_BINDIR``, Debian's newest, then ``PATH``."""
    explicit = os.environ.get("ACD_LAB_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates += [Path(p) for p in reversed(versions)]
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(os.path.realpath(found)).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresError("PostgreSQL not found: install the Debian package 'postgresql' (deploy/install-deps.sh)")


class Postgres:
    """One cluster; ``with Postgres() as pg: pg.url()``."""

    def __init__(self, *, port: int | None = None, start_timeout_s: float = 30.0) -> None:
        self.bindir = find_bindir()
        self.port = port if port is not None else free_port()
        self.start_timeout_s = start_timeout_s
        self.user = "acd"
        self.password = secrets.token_urlsafe(16)
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError("running as root needs the 'postgres' system user (Debian's postgresql package creates it)") from None
            self._run_as = "postgres"
        # Under /tmp, not pytest's tmp_path: that one is root-only, the server's user could not enter it.
        self.workdir = Path(tempfile.mkdtemp(prefix="acd-postgres-"))
        self.datadir = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self._started = False

    def _cmd(self, *args: str) -> list[str]:
        if self._run_as is None:
            return list(args)
        return ["runuser", "-u", self._run_as, "--", *args]

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise PostgresError(f"{Path(args[0]).name} failed ({result.returncode}): {tail}")

    def start(self) -> None:
        """initdb (the first time), start the server and return once it accepts connections."""
        if self._started:
            return
        if self._run_as is not None:
            os.chmod(self.workdir, 0o755)
            shutil.chown(self.workdir, self._run_as)
        if not self.datadir.exists():
            pwfile = self.workdir / "pw"
            pwfile.write_text(self.password + "\n", encoding="utf-8")
            if self._run_as is not None:
                shutil.chown(pwfile, self._run_as)
            try:
                self._run(
                    str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.user, f"--pwfile={pwfile}",
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C",
                    "--no-sync",
                )
            finally:
                pwfile.unlink(missing_ok=True)
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.workdir} "
            "-c fsync=on -c max_connections=100 -c shared_buffers=64MB"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log_path), "-o", options, "-w",
                  "-t", str(int(self.start_timeout_s)), "start", timeout=self.start_timeout_s + 10)
        self._started = True
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise PostgresError(f"PostgreSQL did not listen on 127.0.0.1:{self.port}: {self.log_tail()}")

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop", timeout=60)
        except (PostgresError, subprocess.TimeoutExpired):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop", timeout=60)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        """A ``postgresql://`` URL over TCP (with the password unless ``password=False``)."""
        secret = f":{self.password}" if password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` through psql over the unix socket; returns its unaligned output."""
        result = subprocess.run(
            [str(self.bindir / "psql"), "-h", str(self.workdir), "-p", str(self.port), "-U", self.user, "-d", database,
             "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL (with the password)."""
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def __enter__(self) -> "Postgres":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.lower().replace("-", "") in ("c.utf8",) for line in out.splitlines())


__all__ = ["Postgres", "PostgresError", "find_bindir"]
