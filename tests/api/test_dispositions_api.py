"""Dispositions through the engine: the API codes a wrap-up, the event is stored, ``acd report`` counts it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from acd.asterisk.call_control import AgentAnswered, LegHungUp, Parked
from acd.cli import main
from tests.api.helpers import ROUTING, TOKEN, EngineThread, free_port, make_settings
from tests.wall_clock import wait_clear_of_local_midnight

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
        - {code: venta, label: Venta, outcome: resuelto, digit: 1}
        - {code: reclamo, digit: 2}""",
)


def talk_and_hang_up(engine: EngineThread, call_id: str) -> None:
    dispatcher = engine.app.dispatcher
    engine.call(lambda: dispatcher.handle(Parked(call_id=call_id, channel=f"PJSIP/caller-{call_id}", queue="compradores", wait_origin=time.time(), priority=None)))
    engine.call(lambda: dispatcher.handle(AgentAnswered(call_id=call_id, agent_channel="PJSIP/agent1-1")))
    engine.call(lambda: dispatcher.handle(LegHungUp(leg_id=call_id, channel=f"PJSIP/caller-{call_id}", cause="16")))


def test_a_required_disposition_holds_the_wrap_up_until_the_api_codes_it_and_the_report_counts_it(tmp_path: Path, capsys) -> None:
    wait_clear_of_local_midnight(60.0)  # the calls coded now are in the report of "today" at the end
    settings = make_settings(tmp_path, api_port=free_port(), auto_login=("ana",))
    (tmp_path / "routing.yaml").write_text(CODED)
    engine = EngineThread(settings).start()
    try:
        talk_and_hang_up(engine, "c1")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=engine.url, headers=headers, timeout=5) as http:
            time.sleep(2.5)  # past the queue's wrap_up_s: a required code keeps the wrap-up
            agent = http.get("/api/agents/ana").json()
            assert agent["state"] == "wrap_up" and agent["queue"] == "compradores"
            assert agent["wrap_up"] == {
                "call_id": "c1", "queue": "compradores", "required": True,
                "codes": [{"code": "venta", "label": "Venta", "outcome": "resuelto", "digit": "1"},
                          {"code": "reclamo", "label": "reclamo", "outcome": None, "digit": "2"}],
            }
            refused = http.post("/api/agents/ana/disposition", json={"code": "nope"})
            assert refused.status_code == 409 and "no disposition 'nope'" in refused.json()["detail"]
            assert http.post("/api/agents/ana/disposition", json={"code": "venta", "call_id": "other"}).status_code == 409
            assert http.post("/api/agents/ana/disposition", json={"code": "bad code"}).status_code == 422
            coded = http.post("/api/agents/ana/disposition", json={"code": "venta", "call_id": "c1", "by": "ana.perez"})
            assert coded.status_code == 200 and coded.json()["state"] == "available" and coded.json()["wrap_up"] is None
            again = http.post("/api/agents/ana/disposition", json={"code": "venta"})
            assert again.status_code == 409 and "not in wrap-up" in again.json()["detail"]
            talk_and_hang_up(engine, "c2")
        assert main(["agent", "code", "ana", "nada", "--url", engine.url, "--token", TOKEN]) != 0  # refused: a clear line, no traceback
        refused_err = capsys.readouterr().err
        assert "no disposition 'nada'" in refused_err and "Traceback" not in refused_err
        assert main(["agent", "code", "ana", "reclamo", "--url", engine.url, "--token", TOKEN]) == 0
        assert "available" in capsys.readouterr().out
        events = [e for e in engine.sink.events if e.type == "call.disposition"]
        assert [(e.call_id, e.agent_id, e.queue, e.data["code"], e.data["by"]) for e in events] == [
            ("c1", "ana", "compradores", "venta", "ana.perez"), ("c2", "ana", "compradores", "reclamo", "api-token")]
    finally:
        engine.stop()
    database = str(settings.metrics.database)
    assert main(["report", "--dispositions", "--db", database, "--period", "today", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["coded_calls"] == 2 and report["by"] == "queue"
    assert report["groups"] == [{"queue": "compradores", "coded_calls": 2, "codes": [
        {"code": "reclamo", "outcome": None, "calls": 1, "share": 0.5}, {"code": "venta", "outcome": "resuelto", "calls": 1, "share": 0.5}]}]
    assert main(["report", "--dispositions", "--by", "agent", "--db", database, "--period", "today"]) == 0
    table = capsys.readouterr().out
    assert "ana" in table and "venta" in table and "2 coded calls" in table
    assert main(["report", "--dispositions", "--by", "skill", "--db", database, "--period", "today", "--format", "json"]) == 0
    by_skill = json.loads(capsys.readouterr().out)  # each call under the skills of its queueing
    assert [(g["skill"], g["coded_calls"]) for g in by_skill["groups"]] == [("compradores", 2)]
    assert main(["report", "--dispositions", "--by", "interval", "--interval", "15", "--db", database, "--period", "today", "--format", "json"]) == 0
    by_interval = json.loads(capsys.readouterr().out)
    assert sum(g["coded_calls"] for g in by_interval["groups"]) == 2 and all(len(g["interval"]) == 16 for g in by_interval["groups"])
    assert main(["report", "--dispositions", "--by", "team", "--db", database]) != 0
    assert "--by 'team' is not one of: queue, agent, skill, interval" in capsys.readouterr().err
