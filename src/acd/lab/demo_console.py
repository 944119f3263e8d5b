"""The web console beside ``make demo``: its own ``acd web`` process and two demo logins.

Why a separate process, as in production: the console reads the same event store and
keeps one live stream from the engine's API, so what the demo shows in the browser is
exactly what a supervisor or the client would see on a real site.

* :func:`demo_logins` puts a supervisor and a client viewer in a fresh account store in
  the demo's work folder (never the checkout's ``var/accounts.sqlite``, which may hold
  real people), each with a random password, or ``$ACD_DEMO_PASSWORD`` for both (a
  presenter who wants to type a known one);
* :func:`start_console` runs ``python -m acd web`` with the engine's URL and token, the
  demo's event store and that account store passed as ``ACD_*`` settings variables, and
  waits until it answers (or says why it did not, from its log);
* :func:`port_or_free` keeps the usual ports (8573 API, 8574 console) unless something
  already listens there, so a second demo or a running engine never makes it fail.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import httpx

from acd.accounts.store import MIN_PASSWORD, AccountStore

PASSWORD_VARIABLE = "ACD_DEMO_PASSWORD"

#: (account name, full name, role, what the role may do — printed beside the login)
DEMO_ACCOUNTS = (
    ("supervisor", "Supervisora de la demostración", "supervisor",
     "wallboard, calls with numbers, agent and call actions, reports, SLA, incident log"),
    ("cliente", "Cliente de la demostración", "viewer",
     "the client organisation, read-only: wallboard, calls with numbers masked, reports, SLA, incident log"),
)


@dataclass(frozen=True)
class DemoLogin:
    name: str
    password: str
    role: str
    reach: str


@dataclass
class DemoConsole:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    logins: list[DemoLogin] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Lines for the terminal: the address, then one per login."""
        lines = [f"web console at {self.url}  (acd web, pid {self.process.pid}; log {self.log})"]
        width = max(len(login.name) for login in self.logins)
        lines += [f"  login {login.name:<{width}}  password {login.password}  (role {login.role}: {login.reach})" for login in self.logins]
        return lines


class DemoConsoleError(Exception):
    """The console could not be prepared or did not start: one line (and its log) for the user."""


def demo_password(environ: Mapping[str, str]) -> str | None:
    """``$ACD_DEMO_PASSWORD`` if set (checked against the store's rule), else None: random ones."""
    given = environ.get(PASSWORD_VARIABLE, "")
    if not given:
        return None
    if len(given) < MIN_PASSWORD:
        raise DemoConsoleError(f"${PASSWORD_VARIABLE} is too short: at least {MIN_PASSWORD} characters")
    return given


def demo_logins(accounts_database: Path, password: str | None) -> list[DemoLogin]:
    """A supervisor and a client viewer in a new store at ``accounts_database``."""
    store = AccountStore(accounts_database)
    logins = []
    for name, full_name, role, reach in DEMO_ACCOUNTS:
        secret = password or secrets.token_urlsafe(12)
        store.add(name, full_name, role, secret, by="make demo")
        logins.append(DemoLogin(name, secret, role, reach))
    return logins


def port_or_free(host: str, preferred: int) -> int:
    """``preferred`` if nothing listens there, else a free port the kernel picks."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, preferred))
            return preferred
        except OSError:
            pass
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_console(
    settings_file: Path,
    work: Path,
    *,
    engine_url: str,
    engine_token: str,
    metrics_database: Path,
    logins: list[DemoLogin],
    accounts_database: Path,
    port: int,
    host: str = "127.0.0.1",
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> DemoConsole:
    """``acd web`` on ``host:port`` for the demo's engine and store, up and answering."""
    environ = os.environ if environ is None else environ
    env = {
        **environ,
        "ACD_WEB_ENGINE_URL": engine_url,
        "ACD_WEB_ENGINE_TOKEN": engine_token,
        "ACD_WEB_ACCOUNTS_DATABASE": str(accounts_database),
        "ACD_METRICS_DATABASE": str(metrics_database),
        "ACD_WEB_HOST": host,
    }
    log = work / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "acd", "web", "--settings", str(settings_file), "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the demo only; the demo stops the console itself
    )
    url = f"http://{host}:{port}/"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "login", timeout=1).status_code == 200:
                return DemoConsole(url, process, log, logins)
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_console_process(process)
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise DemoConsoleError(f"acd web did not start (log {log}):\n{tail}")
        time.sleep(0.2)


def stop_console_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM (uvicorn ends its live streams within its grace period), then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
