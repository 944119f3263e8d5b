"""``make demo``'s path on the lab: it prints the console's address and logins, and they work.

Runs ``python -m acd.lab.demo`` (what ``make demo`` runs) against this slot's lab, with
the event store in the test's folder, reads what it prints, and then, over HTTP against
the ``acd web`` it started, logs in with the printed logins: the supervisor sees calls
and adds an incident, the client viewer gets the wallboard, the report whose CSV counts
exactly the calls the demo's summary says were queued, the incident, and is refused the
supervisor's actions and the admin page.  Ctrl-C (SIGINT) then stops engine and console.
"""

from __future__ import annotations

import csv
import io
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.helpers import free_port
from tests.lab.conftest import REPO

pytestmark = pytest.mark.lab

LOGIN_LINE = re.compile(r"^demo:\s+login (\S+)\s+password (\S+)\s+\(role (\w+):")
CONSOLE_LINE = re.compile(r"^demo: web console at (http://\S+/)")


class Output:
    """The demo's stdout, line by line, read in a thread (a pipe read would block the test)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError("the demo ended early:\n" + "\n".join(self.lines))
            if line:
                self.lines.append(line)
                if re.search(pattern, line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no line matching {pattern!r} within {timeout_s} s:\n" + "\n".join(self.lines))


def logged_in(url: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=20)
    assert client.get("/login").status_code == 200
    answer = client.post("/login", data={"name": name, "password": password, "csrf": client.cookies.get("acd_csrf")})
    assert answer.status_code == 303, answer.text[:500]
    home = client.get("/")
    assert f'data-viewer="{name}"' in home.text
    return client


def csrf_of(client: httpx.Client) -> str:
    """The session's CSRF token, from the hidden field of a form every account has."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/account").text)
    assert found is not None
    return found.group(1)


def test_make_demo_prints_the_console_and_logins_that_work(lab, tmp_path: Path) -> None:  # noqa: ANN001
    env = {
        **lab.env,
        "ACD_METRICS_DATABASE": str(tmp_path / "acd.sqlite"),
        "ACD_CALLBACKS_DATABASE": str(tmp_path / "callbacks.sqlite"),
        "ACD_API_PORT": str(free_port()),
        "ACD_WEB_PORT": str(free_port()),
        "ACD_DEMO_KEEP_S": "300",  # a safety net: the test stops it with SIGINT long before
    }
    env.pop("ACD_API_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "acd.lab.demo"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = Output(process)
    try:
        url = CONSOLE_LINE.match(output.until(CONSOLE_LINE.pattern, 240)).group(1)  # type: ignore[union-attr]
        logins = {}
        while len(logins) < 2:
            found = LOGIN_LINE.match(output.until(LOGIN_LINE.pattern, 10))
            assert found is not None
            logins[found.group(3)] = (found.group(1), found.group(2))
        assert set(logins) == {"supervisor", "viewer"}
        assert logins["supervisor"][1] != logins["viewer"][1]  # each its own random password

        output.until(r"the console stays up at", 240)
        queued = sum(1 for line in output.lines if line.startswith("  queue: "))
        assert queued >= 3, output.lines  # the buyer, the supplier and the caller asking for an agent at least

        wrong = httpx.Client(base_url=url).post("/login", data={"name": "cliente", "password": "not-the-password"})
        assert wrong.status_code in (401, 403)  # 403: no CSRF cookie; either way not in

        supervisor = logged_in(url, *logins["supervisor"])
        viewer = logged_in(url, *logins["viewer"])
        for page in ("/wallboard", "/calls", "/reports?period=today", "/sla", "/incidents"):
            assert supervisor.get(page).status_code == 200, page
            assert viewer.get(page).status_code == 200, page

        report = viewer.get("/reports/export.csv", params={"period": "today", "interval": "day"})
        assert report.status_code == 200, report.text
        total = next(row for row in csv.DictReader(io.StringIO(report.text)) if row["row"] == "total" and not row["group"])
        assert int(total["offered"]) == queued, (report.text, output.lines)

        now = datetime.now(ZoneInfo("America/Santiago")).strftime("%Y-%m-%dT%H:%M")
        text = "Prueba de la demo: caída de un enlace"
        added = supervisor.post("/incidents", data={"start": now, "severity": "low", "text": text, "csrf": csrf_of(supervisor)})
        assert added.status_code == 303, added.text[:500]
        assert text in viewer.get("/incidents").text

        paused = supervisor.post("/agents/ana/pause", json={}, headers={"X-CSRF-Token": csrf_of(supervisor)})
        assert paused.status_code == 200, paused.text  # through the engine's API
        refused = viewer.post("/agents/ana/unpause", json={}, headers={"X-CSRF-Token": csrf_of(viewer)})
        assert refused.status_code == 403, refused.text  # a viewer cannot act
        assert viewer.get("/admin/users").status_code == 403

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, "\n".join(output.lines)
        with pytest.raises(httpx.HTTPError):
            httpx.get(url + "login", timeout=2)  # the console went with it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
