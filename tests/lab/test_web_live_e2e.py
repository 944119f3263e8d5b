"""Issue 15 on the lab: a sipp call shows on the wallboard and in the calls view, live.

Asterisk 22 + sipp + the real engine (its API on a free port) + a real ``acd web``
process + Debian's chromium.  A caller waits with nobody logged in: both pages show it
without a reload (the supervisor with the number in clear, the viewer masked); the
supervisor logs an agent in from the calls view; the agent's sipp phone answers, and
both pages follow to "talking" and the queue's waiting count back to 0.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from acd.lab.sipp import AwaitHangup
from tests.api.helpers import free_port
from tests.lab.acd_fixtures import running_app, wait_for
from tests.web.conftest import ARTIFACTS, CHROMIUM, _start

pytestmark = pytest.mark.lab
playwright_api = pytest.importorskip("playwright.async_api")


async def login(context, console, role: str):  # noqa: ANN001, ANN201
    name, password = console.users[role]
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(console.url + "/login")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_selector(f'[data-viewer="{name}"]')
    return page


async def test_a_sipp_call_shows_live_while_it_waits_and_when_answered(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: deploy/install-deps.sh installs chromium")
    expect = playwright_api.expect
    token, port = secrets.token_urlsafe(24), free_port()
    console = _start(tmp_path / "console", {"engine_url": f"http://127.0.0.1:{port}", "engine_token": token})
    try:
        async with running_app(lab, tmp_path, auto_login=[], extra_yaml=f"api:\n  port: {port}\n  token: {token}\n") as (app, sink):
            async with playwright_api.async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                supervisor = await login(await browser.new_context(), console, "supervisor")
                viewer = await login(await browser.new_context(), console, "viewer")
                try:
                    await supervisor.goto(console.url + "/calls")
                    await viewer.goto(console.url + "/wallboard")
                    await expect(viewer.locator("#live-status")).to_have_class(re.compile(r"\blive\b"))
                    waiting = viewer.locator('#queues tr[data-name="compradores"] td').nth(1)
                    await expect(waiting).to_have_text("0")

                    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.5, talk_s=6)
                    caller = await sipp.start_callers("caller", [AwaitHangup(60)], calls=[("300", "56911116666")])
                    queued = await wait_for(sink, lambda e: e.type == "call.queued", 20)
                    row = supervisor.locator(f'#calls tr[data-call="{queued.call_id}"]')
                    await expect(row.locator(".state")).to_have_class(re.compile("state-waiting"))
                    await expect(row.locator("td").nth(0)).to_have_text("56911116666")  # a supervisor sees the number
                    await expect(row.locator("td").nth(1)).to_have_text("compradores")
                    assert "elegir" in await row.locator("td.path").inner_text()  # the IVR path it took
                    await expect(waiting).to_have_text("1")  # the wallboard, no reload

                    await supervisor.locator('#agent-controls tr[data-agent="ana"] button[data-action="login"]').click()
                    await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id == queued.call_id, 20)
                    await expect(row.locator(".state")).to_have_class(re.compile("state-connected"))
                    await expect(waiting).to_have_text("0")
                    await expect(viewer.locator('#agents tr[data-agent="ana"] .state')).to_have_class(re.compile("state-on_call"))
                    handled = viewer.locator('#queues tr[data-name="compradores"] td').nth(1)
                    assert await handled.inner_text() == "0"
                except Exception:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    await supervisor.screenshot(path=str(ARTIFACTS / "lab-calls.png"), full_page=True)
                    await viewer.screenshot(path=str(ARTIFACTS / "lab-wallboard.png"), full_page=True)
                    raise
                finally:
                    await browser.close()
                results = [await ana.wait(20), await caller.wait(20)]
        assert all(result.ok for result in results), [result.describe() for result in results]
        audit = [(entry.who, entry.action, entry.target) for entry in console.store().audit_entries(limit=50)]
        assert ("supervisor1", "agents.login", "ana") in audit
    finally:
        console.process.terminate()
        console.process.wait(10)
