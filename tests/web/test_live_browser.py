"""Wallboard and calls view in Debian's chromium, against a real engine (fake call control).

The engine runs with its API on a loopback port; ``acd web`` follows its stream.  Calls
are parked and answered by feeding the dispatcher the facts AMI would give it, so the
browser's view is checked against the engine's own state without Asterisk (the lab test
``tests/lab/test_web_live_e2e.py`` does it with sipp callers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.api.helpers import TOKEN, EngineThread, answer, free_port, make_settings, park
from tests.web.conftest import Console

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineThread]:
    running = EngineThread(make_settings(tmp_path_factory.mktemp("engine"), api_port=free_port())).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def live_console(start_console: Callable[..., Console], engine: EngineThread) -> Console:
    return start_console(engine_url=engine.url, engine_token=TOKEN)


def cell(page: Any, table: str, row_attr: str, name: str, column: int) -> Any:
    return page.locator(f'#{table} tr[{row_attr}="{name}"] td').nth(column)


def test_the_wallboard_follows_the_engine_without_reload(page: Any, live_console: Console, engine: EngineThread, login_as: Any) -> None:
    login_as(page, live_console, "viewer")
    page.goto(live_console.url + "/wallboard")
    waiting = cell(page, "queues", "data-name", "general", 1)
    page.wait_for_selector('#live-status.live')
    assert waiting.inner_text() == "0"
    seq = page.get_attribute("body", "data-seq")
    engine.call(lambda: park(engine.app, "w1", "general", waited_s=40))  # past general's 10 s threshold
    expect(waiting).to_have_text("1")
    assert page.get_attribute("body", "data-seq") != seq  # pushed, same page: no reload
    assert re.fullmatch(r"0:4\d", cell(page, "queues", "data-name", "general", 2).inner_text())  # longest wait ticks
    engine.call(lambda: engine.app.dispatcher.agent_login("diego"))
    expect(page.locator('#agents tr[data-agent="diego"] .state')).to_have_class(re.compile("state-reserved"))
    engine.call(lambda: answer(engine.app, "w1"))
    expect(page.locator('#agents tr[data-agent="diego"] .state')).to_have_class(re.compile("state-on_call"))
    expect(waiting).to_have_text("0")
    # answered after 40 s against a 10 s threshold: the queue is under target, drawn as an alarm
    page.wait_for_selector('#queues tr[data-name="general"].alarm')
    page.goto(live_console.url + "/wallboard?kiosk=1")
    page.wait_for_selector("#live-status.live")
    assert not page.locator(".topbar").is_visible()


def test_calls_view_masks_for_a_viewer_and_lets_a_supervisor_act(
    browser: Any, live_console: Console, engine: EngineThread, login_as: Any, tmp_path: Path
) -> None:
    engine.call(lambda: engine.app.caller_number("c9", "+56912345678"))
    engine.call(lambda: park(engine.app, "c9", "proveedores", waited_s=5))
    viewer_page = browser.new_context().new_page()
    supervisor_page = browser.new_context().new_page()
    try:
        login_as(viewer_page, live_console, "viewer")
        viewer_page.goto(live_console.url + "/calls")
        row = viewer_page.locator('#calls tr[data-call="c9"]')
        row.wait_for()
        assert row.locator("td").nth(0).inner_text() == "+*******5678"
        assert row.locator("form").count() == 0  # a viewer cannot act
        assert viewer_page.locator("#agent-controls button").count() == 0

        login_as(supervisor_page, live_console, "supervisor")
        supervisor_page.goto(live_console.url + "/calls")
        srow = supervisor_page.locator('#calls tr[data-call="c9"]')
        srow.wait_for()
        assert srow.locator("td").nth(0).inner_text() == "+56912345678"
        srow.locator('input[name="priority"]').fill("7")
        srow.locator("form").first.locator("button").click()
        expect(supervisor_page.locator('#calls tr[data-call="c9"] td.priority')).to_have_text("7")
        expect(viewer_page.locator('#calls tr[data-call="c9"] td.priority')).to_have_text("7")
        assert engine.call(lambda: engine.app.router.call("c9").priority) == 7

        supervisor_page.locator('#agent-controls tr[data-agent="carla"] button[data-action="login"]').click()
        expect(viewer_page.locator('#calls tr[data-call="c9"] .state')).to_have_class(re.compile("state-ringing"))
        assert engine.call(lambda: engine.app.router.agent("carla").state) == "reserved"
    finally:
        viewer_page.context.close()
        supervisor_page.context.close()
    audit = [(entry.who, entry.action, entry.target) for entry in live_console.store().audit_entries(limit=50)]
    assert ("supervisor1", "calls.priority", "c9") in audit and ("supervisor1", "agents.login", "carla") in audit
    assert ("supervisor1", "calls.view_personal", "live calls") in audit
    assert not any(who == "viewer1" and action == "calls.view_personal" for who, action, _ in audit)


def test_actions_need_csrf_and_permission(live_console: Console, engine: EngineThread) -> None:
    with httpx.Client(base_url=live_console.url) as client:
        name, password = live_console.users["viewer"]
        client.get("/login")
        csrf = client.cookies.get("acd_csrf")
        client.post("/login", data={"name": name, "password": password, "csrf": csrf})
        page = client.get("/calls")
        token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        refused = client.post("/calls/c9/priority", json={"priority": 1}, headers={"X-CSRF-Token": token, "Accept": "application/json"})
        assert refused.status_code == 403  # a viewer may not act, even with the token
    with httpx.Client(base_url=live_console.url) as client:
        name, password = live_console.users["supervisor"]
        client.get("/login")
        client.post("/login", data={"name": name, "password": password, "csrf": client.cookies.get("acd_csrf")})
        no_csrf = client.post("/agents/ana/login", json={}, headers={"Accept": "application/json"})
        assert no_csrf.status_code == 403
        assert engine.call(lambda: engine.app.router.agent("ana").state) == "logged_out"


def test_a_stopped_engine_shows_stale_figures(start_console: Callable[..., Console], page: Any, login_as: Any, tmp_path: Path) -> None:
    port = free_port()
    engine = EngineThread(make_settings(tmp_path, api_port=port)).start()
    console = start_console(engine_url=engine.url, engine_token=TOKEN)
    try:
        login_as(page, console, "supervisor")
        page.goto(console.url + "/wallboard")
        page.wait_for_selector("#live-status.live")
    finally:
        engine.stop()
    page.wait_for_selector("#live-status.stale")
    assert page.locator('#queues tr[data-name="general"]').count() == 1  # the last picture stays, greyed
    assert "stale" in (page.get_attribute("body", "class") or "")


def test_the_console_stops_promptly_with_live_screens_open(tmp_path: Path) -> None:
    """A live stream never ends by itself: SIGTERM must not wait for the wall screens."""
    import threading
    import time

    from tests.web.conftest import _start

    console = _start(tmp_path / "console", {})
    _t, token = console.store().issue_token("viewer1", "wall", ["view_live"])
    opened = threading.Event()

    def watch() -> None:
        try:
            with httpx.stream("GET", console.url + "/live/stream", headers={"Authorization": f"Bearer {token}"}, timeout=30) as response:
                opened.set()
                for _line in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert opened.wait(10)
        started = time.monotonic()
        console.process.terminate()
        console.process.wait(15)
        assert time.monotonic() - started < 8
    finally:
        if console.process.poll() is None:
            console.process.kill()


def first_snapshot(console: Console, token: str, query: str, until: Any = None) -> tuple[int, dict[str, Any] | None]:
    """The first snapshot the stream sends (``until``: the first one it holds true of: the console
    may still relay a picture from before the test's change, the next one comes within a second)."""
    import json

    with httpx.stream("GET", console.url + "/live/stream" + query, headers={"Authorization": f"Bearer {token}"}, timeout=10) as response:
        if response.status_code != 200:
            return response.status_code, None
        for line in response.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                if set(message) <= {"status"}:  # the console has not heard from the engine yet: "not connected yet"
                    continue
                if until is not None and not until(message):
                    continue
                return 200, message
    return 0, None


def test_each_role_streams_only_what_it_may(live_console: Console, engine: EngineThread) -> None:
    store = live_console.store()
    tokens = {role: store.issue_token(f"{role}1", "stream test")[1] for role in ("qa", "agent", "viewer", "supervisor")}
    engine.call(lambda: engine.app.caller_number("r1", "+56987654321"))
    engine.call(lambda: park(engine.app, "r1", "general", waited_s=1))
    has_r1 = lambda message: any(call.get("id") == "r1" for call in message.get("calls") or [])  # noqa: E731
    status, qa = first_snapshot(live_console, tokens["qa"], "?calls=1", until=has_r1)  # calls, but no wallboard figures
    assert status == 200 and qa is not None and "stats" not in qa and "agents" not in qa
    assert any(call["id"] == "r1" and call["caller"] == "+*******4321" and "number" not in call for call in qa["calls"])
    assert first_snapshot(live_console, tokens["qa"], "")[0] == 403
    assert first_snapshot(live_console, tokens["agent"], "?calls=1")[0] == 403
    status, wall = first_snapshot(live_console, tokens["viewer"], "")
    assert status == 200 and wall is not None and "stats" in wall and "calls" not in wall
    status, sup = first_snapshot(live_console, tokens["supervisor"], "?calls=1")
    assert sup is not None and any(call.get("number") == "+56987654321" for call in sup["calls"])
    assert "skills" not in sup["agents"][0]  # screens get what they show


class _OneSnapshotEngine:
    """A stand-in for the engine's ``/api/stream``: one given snapshot, then heartbeats.

    Lets a test put figures on the wallboard that a live engine only reaches at chosen
    instants (a quarter hour whose ASA differs from the day's)."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = f"event: snapshot\ndata: {json.dumps(snapshot)}\n\n".encode()
        stopping = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if not self.path.startswith("/api/stream"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                while not stopping.wait(1.0):
                    self.wfile.write(b": heartbeat\n\n")
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._stopping = stopping
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


def test_the_wallboard_shows_the_quarter_hours_asa_and_aht_beside_the_days(
    start_console: Callable[..., Console], engine: EngineThread, page: Any, login_as: Any
) -> None:
    import json

    with httpx.stream("GET", engine.url + "/api/stream", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as response:
        snapshot = next(json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:"))
    queue = next(q for q in snapshot["stats"]["queues"] if q["name"] == "general")
    skill = snapshot["stats"]["skills"][0]
    for item in (queue, skill):  # the engine's own picture, with figures a quarter hour and a day apart
        item["interval"].update(asa_s=12.0, aht_s=56.0)
        item["day"].update(asa_s=34.0, aht_s=78.0)
    fake = _OneSnapshotEngine(snapshot)
    try:
        console = start_console(engine_url=fake.url, engine_token="x")
        login_as(page, console, "viewer")
        page.goto(console.url + "/wallboard")
        page.wait_for_selector("#live-status.live")
        for table, name in (("queues", "general"), ("skills", skill["name"])):
            row = page.locator(f'#{table} tr[data-name="{name}"]')
            assert [row.locator(f"td.{key}").inner_text() for key in ("asa-interval", "asa-day", "aht-interval", "aht-day")] == [
                "0:12", "0:34", "0:56", "1:18"
            ]
        headers = page.locator("#queues thead th").all_inner_texts()
        assert {"ASA 15 min", "ASA día", "TMO 15 min", "TMO día"} <= set(headers)
    finally:
        fake.stop()
