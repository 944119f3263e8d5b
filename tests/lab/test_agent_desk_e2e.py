"""Issue 17 on the lab: the agent logs in from her page, a sipp caller types a RUT, the call
rings her sipp phone and pops on her page with the RUT in clear; she codes it after the call.

Asterisk 22 + sipp + the real engine (no ``auto_login``) + a real ``acd web`` + chromium.
The sample flow (``ivr_flows``, number 100, key 1) collects the RUT; the page shows it to
the handling agent only (the event log keeps it masked), the queue's required disposition
holds the wrap-up until she picks it, and ``acd report --dispositions`` counts it.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path

import pytest

from acd.cli import main
from acd.ivr.rut import check_digit
from acd.lab.sipp import AwaitHangup, Dtmf, Wait
from tests.api.helpers import free_port
from tests.lab.acd_fixtures import ROUTING, running_app, wait_for
from tests.lab.test_ivr_e2e import MONDAY_MORNING, REPO, clock_at, rut_keys
from tests.web.conftest import ARTIFACTS, CHROMIUM, _start

pytestmark = pytest.mark.lab
playwright_api = pytest.importorskip("playwright.async_api")

RUT_BODY = "12345678"
CALLER = "56977771234"
CODED = ROUTING.replace(
    """  - name: compradores
    skills: [compradores]
    wrap_up_s: 2""",
    """  - name: compradores
    skills: [compradores]
    wrap_up_s: 2
    dispositions:
      required: true
      codes: [{code: venta, label: Venta, outcome: resuelto, digit: 1}, {code: consulta, digit: 2}]""",
)


async def test_the_agent_logs_in_on_her_page_and_a_sipp_call_pops_with_the_rut(lab, sipp, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: deploy/install-deps.sh installs chromium")
    expect = playwright_api.expect
    token, port = secrets.token_urlsafe(24), free_port()
    shared = f"routing:\n  config: {tmp_path / 'routing.yaml'}\nmetrics:\n  database: {tmp_path / 'acd.sqlite'}\n"
    console = _start(tmp_path / "console", {"engine_url": f"http://127.0.0.1:{port}", "engine_token": token}, shared)
    console.store().link_agent(console.users["agent"][0], "ana", by="test")
    try:
        async with running_app(
            lab, tmp_path, flows_dir=REPO / "ivr_flows", ivr_clock=clock_at(*MONDAY_MORNING), routing=CODED,
            extra_yaml=f"api:\n  port: {port}\n  token: {token}\n",
        ) as (app, sink):
            assert app.router.agent("ana").state == "logged_out"  # no auto_login: she logs herself in
            async with playwright_api.async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = await (await browser.new_context()).new_page()
                page.set_default_timeout(30_000)
                try:
                    name, password = console.users["agent"]
                    await page.goto(console.url + "/login")
                    await page.fill("#name", name)
                    await page.fill("#password", password)
                    await page.click("#submit")
                    await page.goto(console.url + "/agent")
                    await page.wait_for_selector('#desk[data-state="logged_out"]')
                    await page.click("#do-login")
                    await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "ana" and e.data["state"] == "available", 10)

                    ana = await sipp.start_agent("ana", lab.agent_port(1), answer_after_s=1.0, talk_s=4)
                    caller = await sipp.start_callers(
                        "buyer", [Wait(1.0), Dtmf("1"), Wait(1.0), Dtmf(rut_keys(RUT_BODY), gap=0.25), AwaitHangup(60)], calls=[("100", CALLER)]
                    )
                    ringing = await wait_for(sink, lambda e: e.type == "call.agent_ringing" and e.agent_id == "ana", 40)
                    box = page.locator(f'#call-box[data-call="{ringing.call_id}"]')
                    await expect(box).to_have_count(1)
                    await expect(page.locator("#call-data")).to_contain_text(re.compile(rf"rut: {RUT_BODY}-?{check_digit(RUT_BODY)}"))
                    await expect(page.locator("#call-number")).to_have_text(CALLER)
                    await expect(page.locator("#call-queue")).to_have_text("compradores")
                    assert "pedir_rut" in await page.locator("#call-path").inner_text()

                    await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == ringing.call_id, 40)
                    await page.wait_for_selector('#desk[data-state="wrap_up"]')
                    await asyncio.sleep(2.5)  # past wrap_up_s: the required code keeps her in wrap-up
                    assert app.router.agent("ana").state == "wrap_up"
                    await page.click('#codes button[data-code="venta"]')
                    coded = await wait_for(sink, lambda e: e.type == "call.disposition", 10)
                    await page.wait_for_selector('#desk[data-state="available"]')
                except Exception:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(ARTIFACTS / "lab-agent-desk.png"), full_page=True)
                    raise
                finally:
                    await browser.close()
                results = [await ana.wait(20), await caller.wait(20)]
            assert app.store is not None
            await app.store.flush()
        assert all(result.ok for result in results), [result.describe() for result in results]
        assert (coded.call_id, coded.agent_id, coded.data["code"], coded.data["by"]) == (ringing.call_id, "ana", "venta", name)
        queued = next(e for e in sink.events if e.type == "call.queued")
        assert queued.data["attached"]["rut"] == f"*********{check_digit(RUT_BODY)}"  # the log keeps it masked
        audit = [(entry.action, entry.target) for entry in console.store().audit_entries(who=name)]
        assert ("agent.login", "ana") in audit and ("agent.screen_pop", ringing.call_id) in audit and ("agent.disposition", "ana") in audit
    finally:
        console.process.terminate()
        console.process.wait(10)
    code = await asyncio.to_thread(main, ["report", "--dispositions", "--db", str(tmp_path / "acd.sqlite"), "--period", "today", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["coded_calls"] == 1 and report["groups"][0]["codes"][0]["code"] == "venta"
