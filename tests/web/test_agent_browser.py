"""The agent's desk in Debian's chromium against a real engine (fake call control) and ``acd web``.

An agent account linked to routing agent ``ana`` logs in and out, pauses with a reason of
the routing file and comes back; a call rings her: the page pops the number, the RUT in
clear, the IVR path, the queue and the caller's earlier contact today, while a viewer's
calls view shows the RUT masked; after the call the required disposition is picked on the
page, the wrap-up ends, the engine records ``call.disposition`` by the account, and the
console's dispositions report counts it.  Every action is in the audit log.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import httpx
import pytest

from acd.asterisk.call_control import AgentAnswered, LegHungUp, Parked
from acd.privacy import Personal
from tests.api.helpers import ROUTING, TOKEN, EngineThread, free_port, make_settings
from tests.wall_clock import wait_clear_of_local_midnight
from tests.web.conftest import Console, login

CODED = ROUTING.replace(
    """  - name: compradores
    skills: [compradores]
    wrap_up_s: 2""",
    """  - name: compradores
    skills: [compradores]
    wrap_up_s: 2
    dispositions:
      required: true
      codes:
        - {code: venta, label: Venta cerrada, outcome: resuelto, digit: 1}
        - {code: reclamo, label: Reclamo, digit: 2}""",
) + "pause_reasons: {1: almuerzo, 2: capacitacion}\n"
RUT = "12345678-5"
NUMBER = "+56912345678"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineThread]:
    folder = tmp_path_factory.mktemp("engine")
    settings = make_settings(folder, api_port=free_port())
    (folder / "routing.yaml").write_text(CODED)
    running = EngineThread(settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def desk(start_console: Callable[..., Console], engine: EngineThread) -> Console:
    settings = engine.settings
    shared = f"routing:\n  config: {settings.routing.config}\nmetrics:\n  database: {settings.metrics.database}\n"
    console = start_console(shared, engine_url=engine.url, engine_token=TOKEN)
    console.store().link_agent(console.users["agent"][0], "ana", by="test")
    return console


def state(engine: EngineThread, agent: str = "ana") -> tuple[str, str]:
    view = engine.call(lambda: engine.app.router.agent(agent))
    return str(view.state), view.reason


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def emit(engine: EngineThread, type_: str, **fields: Any) -> None:
    engine.call(lambda: engine.app.engine.emit(type_, **fields))


def test_the_agent_logs_in_pauses_gets_the_screen_pop_and_codes_the_call(
    page: Any, browser: Any, desk: Console, engine: EngineThread, login_as: Any
) -> None:
    wait_clear_of_local_midnight(120.0)  # the earlier call and the coded one must be "today" for the pop and the report
    login_as(page, desk, "agent")
    page.goto(desk.url + "/agent")
    page.wait_for_selector('#desk[data-state="logged_out"]')
    page.click("#do-login")
    wait_for(lambda: state(engine) == ("available", "login"), "ana logged in from her page")
    page.wait_for_selector('#desk[data-state="available"]')
    assert page.locator("#pause-reason option").all_inner_texts()[1:] == ["almuerzo", "capacitacion"]
    page.select_option("#pause-reason", "almuerzo")
    page.click("#do-pause")
    wait_for(lambda: state(engine) == ("paused", "almuerzo"), "ana paused for lunch")
    page.wait_for_selector('#desk[data-state="paused"]')
    assert page.locator("#reason").inner_text() == "almuerzo"
    page.click("#do-unpause")
    wait_for(lambda: state(engine)[0] == "available", "ana available again")
    page.wait_for_selector('#desk[data-state="available"]')

    # an earlier call today from the same number (same pseudonym), abandoned in the queue
    caller = {"caller": "+569****5678", "caller_ref": "ref-ana-test"}
    emit(engine, "call.started", call_id="e1", data={**caller, "dialed": "600", "channel": "PJSIP/x-1"})
    emit(engine, "call.queued", call_id="e1", queue="compradores", data={"priority": 0, "skills": ["compradores"], "attached": {}, "wait_origin": time.time()})
    emit(engine, "call.abandoned", call_id="e1", queue="compradores", data={"waited_s": 30.0})
    time.sleep(0.6)  # the store's batch (0.2 s) is written before the pop asks for it

    # the call now: number and RUT from the IVR, its path, then it rings ana
    emit(engine, "call.started", call_id="c1", data={**caller, "dialed": "600", "channel": "PJSIP/caller-c1"})
    engine.call(lambda: engine.app.caller_number("c1", NUMBER))
    for node in ("bienvenida", "menu", "pedir_rut"):
        emit(engine, "ivr.node", call_id="c1", data={"flow": "cola", "flow_version": "1", "node": node, "node_type": "menu"})
    engine.call(lambda: engine.app.dispatcher._attached.__setitem__("c1", {"rut": Personal(RUT)}))
    engine.call(lambda: engine.app.dispatcher.handle(Parked(call_id="c1", channel="PJSIP/caller-c1", queue="compradores", wait_origin=time.time() - 12, priority=None)))
    assert state(engine)[0] == "reserved"
    page.wait_for_selector('#call-box[data-call="c1"]')
    assert page.locator("#call-number").inner_text() == NUMBER
    assert page.locator("#call-data").inner_text() == f"rut: {RUT}"
    assert page.locator("#call-queue").inner_text() == "compradores"
    assert page.locator("#call-path").inner_text() == "bienvenida › menu › pedir_rut"
    page.wait_for_selector('#earlier li[data-contact="e1"]')
    assert "compradores" in page.locator('#earlier li[data-contact="e1"]').inner_text()

    # a viewer's calls view: the same call, RUT and number masked
    context = browser.new_context(locale="es-CL")
    other = context.new_page()
    try:
        name, password = desk.users["viewer"]
        login(other, desk, name, password)
        other.goto(desk.url + "/calls")
        other.wait_for_selector('tr[data-call="c1"]')
        row = other.locator('tr[data-call="c1"]').inner_text()
        assert RUT not in row and NUMBER not in row and "*********5" in row
    finally:
        context.close()

    # answered, hung up: a required disposition keeps the wrap-up until picked on the page
    engine.call(lambda: engine.app.dispatcher.handle(AgentAnswered(call_id="c1", agent_channel="PJSIP/agent1-1")))
    engine.call(lambda: engine.app.dispatcher.handle(LegHungUp(leg_id="c1", channel="PJSIP/caller-c1", cause="16")))
    page.wait_for_selector('#codes button[data-code="venta"]')
    assert page.locator("#wrap-up").get_attribute("data-call") == "c1"
    time.sleep(2.5)  # past the queue's wrap_up_s: still in wrap-up, waiting for the code
    assert state(engine)[0] == "wrap_up"
    page.click('#codes button[data-code="venta"]')
    wait_for(lambda: state(engine) == ("available", "disposition"), "the disposition ended the wrap-up")
    page.wait_for_selector('#desk[data-state="available"]')
    coded = [e for e in engine.sink.events if e.type == "call.disposition"]
    assert [(e.call_id, e.agent_id, e.data["code"], e.data["by"]) for e in coded] == [("c1", "ana", "venta", desk.users["agent"][0])]

    # the console's report counts it; the audit log has every step
    time.sleep(0.5)
    with httpx.Client(base_url=desk.url) as http:
        supervisor = desk.users["supervisor"]
        token = desk.store().issue_token(supervisor[0], "t", None, by="test")[1]
        answer = http.get("/reports/dispositions?period=today&by=agent", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and 'data-group="ana" data-code="venta" data-calls="1"' in answer.text
    actions = [(entry.action, entry.target) for entry in desk.store().audit_entries(who=desk.users["agent"][0])]
    for expected in (("agent.login", "ana"), ("agent.pause", "ana"), ("agent.unpause", "ana"), ("agent.screen_pop", "c1"), ("agent.disposition", "ana")):
        assert expected in actions, (expected, actions)


def test_the_desk_acts_only_for_the_linked_agent_and_refuses_others(desk: Console, engine: EngineThread) -> None:
    store = desk.store()
    with httpx.Client(base_url=desk.url) as http:
        agent_token = store.issue_token(desk.users["agent"][0], "t", None, by="test")[1]
        viewer_token = store.issue_token(desk.users["viewer"][0], "t", None, by="test")[1]
        assert http.post("/agent/login", headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 403
        bad = http.post("/agent/pause", json={"reason": "siesta"}, headers={"Authorization": f"Bearer {agent_token}"})
        assert bad.status_code == 422 and "siesta" in bad.json()["detail"]
        # the QA account has no agent link and no act_as_agent; an admin unlinked gets a clear refusal
        admin_token = store.issue_token(desk.users["admin"][0], "t", None, by="test")[1]
        unlinked = http.post("/agent/login", headers={"Authorization": f"Bearer {admin_token}"})
        assert unlinked.status_code == 409 and unlinked.json()["error"] == "not_linked"
        # no way to name another agent: the path has no agent id
        assert http.post("/agent/bruno/login", headers={"Authorization": f"Bearer {agent_token}"}).status_code in (404, 405)
    assert state(engine, "bruno")[0] == "logged_out"


def test_a_supervisor_monitors_from_the_calls_view_and_a_viewer_cannot(browser: Any, desk: Console, engine: EngineThread, login_as: Any) -> None:
    engine.call(lambda: engine.app.dispatcher.agent_login("bruno"))
    engine.call(lambda: engine.app.dispatcher.handle(Parked(call_id="m1", channel="PJSIP/caller-m1", queue="general", wait_origin=time.time(), priority=None)))
    engine.call(lambda: engine.app.dispatcher.handle(AgentAnswered(call_id="m1", agent_channel="PJSIP/agent2-1")))
    assert state(engine, "bruno")[0] == "on_call"
    viewer_context = browser.new_context(locale="es-CL")
    viewer_page = viewer_context.new_page()
    try:
        login_as(viewer_page, desk, "viewer")
        viewer_page.goto(desk.url + "/calls")
        viewer_page.wait_for_selector('tr[data-call="m1"]')
        assert viewer_page.locator('tr[data-call="m1"] button[data-monitor]').count() == 0
        assert viewer_page.locator("#my-phone").count() == 0
        refused = viewer_page.request.post(desk.url + "/agents/bruno/monitor", data={"mode": "listen", "supervisor": "PJSIP/agent6"},
                                           headers={"X-CSRF-Token": viewer_page.locator("body").get_attribute("data-csrf") or ""})
        assert refused.status == 403
    finally:
        viewer_context.close()
    context = browser.new_context(locale="es-CL")
    page = context.new_page()
    try:
        login_as(page, desk, "supervisor")
        page.goto(desk.url + "/calls")
        page.wait_for_selector('tr[data-call="m1"] button[data-monitor="listen"]')
        page.click('tr[data-call="m1"] button[data-monitor="listen"]')  # no phone typed yet: nothing sent
        page.fill("#my-phone", "PJSIP/agent6")
        page.locator("#my-phone").dispatch_event("change")
        page.click('tr[data-call="m1"] button[data-monitor="barge"]')
        wait_for(lambda: any(e.type == "supervisor.monitor" for e in engine.sink.events), "the engine's supervisor.monitor event")
    finally:
        context.close()
    asked = [e for e in engine.sink.events if e.type == "supervisor.monitor"]
    supervisor = desk.users["supervisor"][0]
    assert [(e.agent_id, e.call_id, e.data["mode"], e.data["supervisor"], e.data["by"]) for e in asked] == [("bruno", "m1", "barge", "PJSIP/agent6", supervisor)]
    wait_for(lambda: bool(desk.store().audit_entries(who=supervisor, action="agents.monitor")), "the audit line")
    line = desk.store().audit_entries(who=supervisor, action="agents.monitor")[0]
    # no Asterisk behind this engine: the attempt is audited with the engine's refusal
    assert line.target == "bruno" and line.detail.startswith("barge from PJSIP/agent6") and "Asterisk did not start monitoring" in line.detail


def test_the_desk_lists_the_agents_own_callbacks_today(desk: Console, engine: EngineThread) -> None:
    wait_clear_of_local_midnight(60.0)  # the desk lists those since local midnight
    emit(engine, "callback.attempt", call_id="cb-ana", agent_id="ana", queue="compradores",
         data={"number": "*******1111", "number_ref": "r1", "attempt": 1, "outcome": "no-answer", "mode": "agent-first"})
    emit(engine, "callback.completed", call_id="cb-ana", agent_id="ana", queue="compradores", data={"number": "*******1111", "number_ref": "r1", "mode": "agent-first"})
    emit(engine, "callback.completed", call_id="cb-bruno", agent_id="bruno", queue="compradores", data={"number": "*******2222", "number_ref": "r2"})
    token = desk.store().issue_token(desk.users["agent"][0], "t", None, by="test")[1]
    with httpx.Client(base_url=desk.url, headers={"Authorization": f"Bearer {token}"}) as http:
        wait_for(lambda: 'data-callback="cb-ana"' in http.get("/agent").text, "ana's callback on her desk", timeout_s=30)
        page = http.get("/agent").text
    assert 'data-callback="cb-ana" data-outcome="completed"' in page and "*******1111" in page
    assert "cb-bruno" not in page and "2222" not in page  # a colleague's callbacks are not hers
