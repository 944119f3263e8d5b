"""Issue 16 on the lab, in a browser: a real sipp call's recording is found and played.

Asterisk 22 records a sipp caller talking to a sipp agent phone (the engine compresses
it to Opus after the call); a real ``acd web`` on the same event log and recordings
folder, Debian's chromium as the client's viewer: the call is found by number and agent,
and the audio element plays it to its end; the play is in the audit log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.lab.sipp import Audio, AwaitHangup
from tests.lab.acd_fixtures import running_app, wait_for
from tests.lab.test_web_live_e2e import login
from tests.web.conftest import ARTIFACTS, CHROMIUM, _start

pytestmark = pytest.mark.lab
playwright_api = pytest.importorskip("playwright.async_api")

PLAY_TO_THE_END = """() => new Promise((done, fail) => {
    const a = document.getElementById('player');
    const go = () => { a.muted = true; a.currentTime = Math.max(0, a.duration - 1.0); a.play().catch(fail); };
    a.addEventListener('ended', () => done([a.duration, a.currentTime]));
    a.addEventListener('error', () => fail(new Error('media error ' + (a.error && a.error.code))));
    if (a.readyState >= 1) go(); else a.addEventListener('loadedmetadata', go);
})"""


async def test_a_real_calls_recording_is_found_by_number_and_agent_and_plays_in_the_browser(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: deploy/install-deps.sh installs chromium")
    async with running_app(lab, tmp_path, auto_login=["ana"]) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=0.3, talk_s=4, audio=True)
        caller = await sipp.start_callers("caller", [Audio(), AwaitHangup(30)], calls=[("300", "56977771234")])
        finished = await wait_for(sink, lambda e: e.type == "recording.finished" and e.data.get("codec") == "opus", 40)
        results = [await ana.wait(10), await caller.wait(10)]
    assert all(r.ok for r in results), [r.describe() for r in results]
    length = float(finished.data["duration_s"])
    console = _start(
        tmp_path / "console", {"heartbeat_s": 0},
        extra=f"metrics: {{database: {tmp_path / 'acd.sqlite'}}}\nrecording: {{local_dir: {lab.recordings_dir}}}\n",
    )
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            page = await login(await browser.new_context(), console, "viewer")
            try:
                await page.goto(console.url + "/recordings?number=%2B56977771234&agent=ana")
                rows = page.locator("#recordings tbody tr")
                assert await rows.count() == 1 and await rows.first.get_attribute("data-call") == finished.call_id
                assert "77771234" not in await rows.first.locator(".caller").inner_text()  # never the whole number
                await rows.first.locator("a.listen").click()
                await page.wait_for_selector("#player")
                duration, position = await page.evaluate(PLAY_TO_THE_END)
                assert duration == pytest.approx(length, abs=0.3) and position == pytest.approx(duration, abs=0.1)
            except Exception:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "lab-recordings.png"), full_page=True)
                raise
            finally:
                await browser.close()
        plays = console.store().audit_entries(action="recordings.play")
        assert [(e.who, e.target) for e in plays] == [(console.users["viewer"][0], finished.call_id)]
        assert plays[0].address == "127.0.0.1"
    finally:
        console.process.terminate()
        console.process.wait(10)
