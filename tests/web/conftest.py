"""Fixtures for the web console's browser tests: a real ``acd web`` and Debian's chromium.

* ``start_console(**web_settings)`` starts ``python -m acd web`` on a free port with a
  temporary account store holding one account per role (``console.users[role]`` gives
  ``(name, password)``); it is stopped at the end of the test module.
* ``console``: one such console shared by the module (defaults: idle timeout 300 s,
  lock-out after 3 failures).
* ``page``: a fresh browser context and page (own cookies); on failure a screenshot
  and the page's HTML are saved to ``test-artifacts/web/``.
* ``login_as(page, console, role)`` logs in through the form and returns the page.

Playwright drives ``/usr/bin/chromium`` (``deploy/install-deps.sh`` installs it):
Playwright's own browser download is not used.  Without chromium the tests skip, except
under CI, where they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from acd.lab.ports import free_port
from acd.accounts.store import AccountStore
from acd.web.access import ROLES

CHROMIUM = os.environ.get("ACD_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PASSWORD_SUFFIX = "-secreto-1"


@dataclass
class Console:
    url: str
    database: Path | str  # the SQLite file, or the PostgreSQL URL of ``store.url``
    process: subprocess.Popen[bytes]
    log: Path
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    def store(self) -> AccountStore:
        return AccountStore(self.database, create=False)


def _start(folder: Path, web: dict[str, Any], extra: str = "", store_url: str | None = None) -> Console:
    """``store_url``: a PostgreSQL database holding the accounts (given as a site would, in ACD_STORE_URL)."""
    folder.mkdir(parents=True, exist_ok=True)
    database: Path | str = store_url or folder / "accounts.sqlite"
    store = AccountStore(database)
    users = {}
    for role in ROLES:
        name = f"{role}1"
        password = name + PASSWORD_SUFFIX
        store.add(name, f"Prueba {role.title()}", role, password, by="test")
        users[role] = (name, password)
    settings = {"accounts_database": str(folder / "accounts.sqlite"), "session_idle_s": 300, "lockout_failures": 3, "lockout_s": 600, **web}
    lines = ["web:"] + [f"  {key}: {value}" for key, value in settings.items()]
    (folder / "acd.yaml").write_text("\n".join(lines) + "\n" + extra)
    port = free_port()
    log = folder / "web.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACD_") or key.startswith("ACD_TEST_")}
    if store_url:
        env["ACD_STORE_URL"] = store_url
    process = subprocess.Popen(
        [sys.executable, "-m", "acd", "web", "--settings", str(folder / "acd.yaml"), "--port", str(port)],
        cwd=folder, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"acd web did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return Console(url, database, process, log, users)


@pytest.fixture(scope="module")
def start_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Console]]:
    started: list[Console] = []

    def start(extra: str = "", store_url: str | None = None, **web: Any) -> Console:
        """``web`` settings; ``extra``: more settings file text (other sections, paths relative to its folder);
        ``store_url``: the shared PostgreSQL (accounts and events there, not in files)."""
        console = _start(tmp_path_factory.mktemp("console"), web, extra, store_url)
        started.append(console)
        return console

    yield start
    for console in started:
        console.process.terminate()
        try:
            console.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            console.process.kill()


@pytest.fixture(scope="module")
def console(start_console: Callable[..., Console]) -> Console:
    return start_console()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: deploy/install-deps.sh installs chromium")
        pytest.skip(f"{CHROMIUM} missing (deploy/install-deps.sh installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="es-CL")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = ARTIFACTS / request.node.name.replace("/", "_")
        try:
            page.screenshot(path=str(stem.with_suffix(".png")), full_page=True)
            stem.with_suffix(".html").write_text(page.content())
        except Exception as exc:  # the page may be gone; the failure itself matters more
            print(f"no screenshot: {exc}", file=sys.stderr)
    context.close()


def login(page: Any, console: Console, name: str, password: str) -> Any:
    page.goto(console.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_load_state()
    return page


@pytest.fixture
def login_as() -> Callable[[Any, Console, str], Any]:
    def log_in(page: Any, console: Console, role: str) -> Any:
        name, password = console.users[role]
        login(page, console, name, password)
        assert page.locator(f'[data-viewer="{name}"]').count() == 1, f"{role} did not get in: {page.url}"
        return page

    return log_in
