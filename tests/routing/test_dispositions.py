"""Wrap-up dispositions: validated with positions, entered in wrap-up, ending it; required ones hold it."""

from __future__ import annotations

from acd.routing import load_routing_text
from acd.routing.decisions import AgentStateChanged, CallDispositioned, Ignored
from acd.routing.outcome_events import outcome_to_event
from acd.routing.router import Router

ROUTING = """\
skills: [general]
queues:
  - name: ventas
    skills: [general]
    wrap_up_s: 30
    dispositions:
      codes:
        - {code: venta, label: "Venta cerrada", outcome: resuelto, digit: 1}
        - {code: consulta, digit: 2}
  - name: reclamos
    skills: [general]
    wrap_up_s: 0
    dispositions:
      required: true
      codes: [{code: resuelto}, {code: escalado}]
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {general: 5}}
"""


def router() -> Router:
    config, problems = load_routing_text(ROUTING)
    assert problems == [] and config is not None
    router = Router(config)
    router.agent_login(0.0, "ana")
    return router


def talk(router: Router, call_id: str, queue: str, start: float) -> None:
    router.call_arrived(start, call_id, queue)
    router.agent_answered(start + 1, "ana", call_id)
    router.call_completed(start + 60, call_id)


def test_bad_dispositions_are_reported_at_their_line_and_column() -> None:
    text = ROUTING.replace("{code: consulta, digit: 2}", "{code: venta, digit: 1}")
    config, problems = load_routing_text(text, "routing.yaml")
    found = [str(problem) for problem in problems]
    assert config is None
    assert "routing.yaml:9:18: queue 'ventas': duplicate disposition code 'venta' (first defined on line 8)" in found
    assert "routing.yaml:9:32: queue 'ventas': digit 1 already chooses another disposition (line 8)" in found
    for bad, expected in (
        ("[{code: 'con espacio'}]", "<routing>:15:22: queues.1.dispositions.codes.0.code: found 'con espacio' (text), expected a name"),
        ("[]", "<routing>:15:"),
        ("[{code: x, digit: 12}]", "<routing>:15:"),
    ):
        config, problems = load_routing_text(ROUTING.replace("[{code: resuelto}, {code: escalado}]", bad))
        assert config is None and str(problems[0]).startswith(expected), (bad, [str(p) for p in problems])


def test_a_code_in_wrap_up_is_recorded_and_ends_the_wrap_up_early() -> None:
    r = router()
    talk(r, "c1", "ventas", 10.0)
    assert r.agent("ana").state == "wrap_up" and r.agent("ana").queue == "ventas"  # type: ignore[union-attr]
    out = r.disposition(75.0, "ana", "venta", "c1", by="ana.perez")
    coded = [o for o in out if isinstance(o, CallDispositioned)]
    assert coded == [CallDispositioned("c1", "ana", "ventas", "venta", "resuelto", "ana.perez", 75.0)]
    assert any(isinstance(o, AgentStateChanged) and o.state == "available" and o.reason == "disposition" for o in out)
    assert r.agent("ana").state == "available" and r.check_invariants() == []  # type: ignore[union-attr]
    event = outcome_to_event(coded[0])
    assert event is not None and event.type == "call.disposition" and event.queue == "ventas" and event.agent_id == "ana"
    assert event.data == {"code": "venta", "result": "resuelto", "by": "ana.perez"}


def test_an_optional_code_not_entered_lets_the_wrap_up_end_on_time() -> None:
    r = router()
    talk(r, "c1", "ventas", 10.0)
    r.advance(70.0 + 30.0)
    assert r.agent("ana").state == "available"  # type: ignore[union-attr]
    late = r.disposition(101.0, "ana", "venta")
    assert [o for o in late if isinstance(o, Ignored)] and not [o for o in late if isinstance(o, CallDispositioned)]


def test_a_required_code_holds_the_wrap_up_until_entered_even_with_no_wrap_up_time() -> None:
    r = router()
    talk(r, "c1", "reclamos", 10.0)
    r.advance(10_000.0)
    assert r.agent("ana").state == "wrap_up" and r.check_invariants() == []  # type: ignore[union-attr]
    r.call_arrived(10_001.0, "c2", "reclamos")
    assert r.call("c2").state == "waiting"  # type: ignore[union-attr]  # nobody rings an agent who has not coded
    for wrong in (("venta", None), ("resuelto", "c9")):
        out = r.disposition(10_002.0, "ana", *wrong)
        assert [o for o in out if isinstance(o, Ignored)] and r.agent("ana").state == "wrap_up"  # type: ignore[union-attr]
    out = r.disposition(10_003.0, "ana", "resuelto", "c1")
    assert [o.code for o in out if isinstance(o, CallDispositioned)] == ["resuelto"]
    assert r.agent("ana").state == "reserved" and r.agent("ana").call_id == "c2"  # type: ignore[union-attr]


def test_a_required_wrap_up_survives_a_routing_reload() -> None:
    r = router()
    talk(r, "c1", "reclamos", 10.0)
    config, _ = load_routing_text(ROUTING.replace("wrap_up_s: 30", "wrap_up_s: 20"))
    assert config is not None
    r.reconfigure(100.0, config)
    r.advance(5_000.0)
    assert r.agent("ana").state == "wrap_up" and r.check_invariants() == []  # type: ignore[union-attr]
    r.disposition(5_001.0, "ana", "escalado")
    assert r.agent("ana").state == "available"  # type: ignore[union-attr]


def test_pausing_during_a_required_wrap_up_still_works() -> None:
    r = router()
    talk(r, "c1", "reclamos", 10.0)
    r.agent_pause(80.0, "ana", "almuerzo")
    assert r.agent("ana").state == "paused" and r.check_invariants() == []  # type: ignore[union-attr]


def test_a_simulation_treats_required_codes_as_optional_so_wrap_up_ends_on_time() -> None:
    from acd.planning.sim.engine import codes_optional

    config, _ = load_routing_text(ROUTING)
    assert config is not None
    relaxed = codes_optional(config)
    assert [q.dispositions.required for q in relaxed.queues] == [False, False]  # type: ignore[union-attr]
    assert config.queue("reclamos").dispositions.required  # type: ignore[union-attr]  # the original is unchanged
    r = Router(relaxed)
    r.agent_login(0.0, "ana")
    talk(r, "c1", "reclamos", 10.0)
    r.advance(71.0)
    assert r.agent("ana").state == "available"  # type: ignore[union-attr]
