"""Callbacks on the real lab: requested while waiting, placed agent-first or customer-first
when the agent frees up, retried, kept across an engine restart."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from acd.lab.sipp import AwaitHangup, Dtmf, Wait
from acd.privacy import mask_number
from tests.lab.acd_fixtures import of_type, running_app, wait_for

pytestmark = pytest.mark.lab

CALLER = "56982220000"


def routing(hours: str = "", mode: str = "agent-first") -> str:
    return f"""
timezone: America/Santiago
skills: [compradores]
queues:
  - name: compradores
    skills: [compradores]
    wrap_up_s: 1
    ring_timeout_s: 6
    waiting:
      announce_every_s: 2
      announce_position: false
      announce_estimate: false
      callback_offer_after_s: 5
      default_handle_s: 60
      callback_retry_s: 2
      callback_max_attempts: 3
      callback_mode: {mode}
{hours}
agents:
  - {{id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {{compradores: 9}}}}
  - {{id: bruno, name: Bruno, endpoint: PJSIP/agent2, skills: {{compradores: 5}}}}
"""


# The caller waits, hears the offer ~2 s after parking, presses 1, then # to keep its caller id.
ASK_FOR_CALLBACK = [Wait(3.5), Dtmf("1"), Wait(3.5), Dtmf("#"), AwaitHangup(30)]
HELP_LINE = "6003000000"
CUSTOMER_SETTINGS = f"callbacks:\n  customer_ring_s: 3\n  caller_id: 'Mesa de Ayuda <{HELP_LINE}>'\n"



async def test_callback_keeps_the_place_and_connects_agent_and_customer(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=routing(), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=12)
        customer = await sipp.start_agent("customer", lab.agent_port(50), calls=1, answer_after_s=0.5, talk_s=2)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        second_result = await second.wait(20)
        completed = await wait_for(sink, lambda e: e.type == "callback.completed", 40)
        results = [await customer.wait(20), await ana.wait(30), await first.wait(10)]
    assert (requested.data["number"], requested.data["number_ref"]) == (mask_number(CALLER), app.pseudonyms.ref(CALLER))  # type: ignore[union-attr]
    assert second_result.ok and second_result.remote_byes == 1, second_result.describe()  # the engine said goodbye
    assert completed.call_id == requested.call_id and completed.agent_id == "ana"
    answered = [e for e in of_type(sink, "call.answered", requested.call_id)]
    assert [e.agent_id for e in answered] == ["ana"]
    assert not of_type(sink, "call.abandoned", requested.call_id)  # hanging up after asking is not abandoning
    attempts = [e.data["outcome"] for e in of_type(sink, "callback.attempt", requested.call_id)]
    assert attempts == ["answered"]
    assert all(r.ok for r in results), [r.describe() for r in results]
    # The customer's phone shows the help line (callbacks.caller_id), not their own number.
    shown = invite_from(results[0].messages)
    assert shown and all(f'"Mesa de Ayuda" <sip:{HELP_LINE}@' in line for line in shown), shown


async def test_failed_customer_leg_is_retried_then_connected(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=routing(), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=3, answer_after_s=0.3, talk_s=8)
        away = await sipp.start_agent("customer-away", lab.agent_port(50), calls=1, answer=False)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        failed = await wait_for(sink, lambda e: e.type == "callback.attempt" and e.data["outcome"] == "no-answer", 60)
        await away.wait(10)
        back = await sipp.start_agent("customer-back", lab.agent_port(50), calls=1, answer_after_s=0.3, talk_s=1)
        completed = await wait_for(sink, lambda e: e.type == "callback.completed", 40)
        results = [await back.wait(20), await second.wait(10), await first.wait(10)]
        await ana.stop()
    attempts = [(e.data["attempt"], e.data["outcome"]) for e in of_type(sink, "callback.attempt", failed.call_id) if e.data["outcome"] != "deferred"]
    assert attempts == [(1, "no-answer"), (2, "answered")]
    assert completed.call_id == failed.call_id
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_callback_requested_outside_callback_hours_is_deferred(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    now = datetime.now(ZoneInfo("America/Santiago"))
    opens = now + timedelta(hours=3)
    window = f"{opens:%H}:00-{(opens + timedelta(hours=1)):%H}:00" if opens.hour < 23 else "01:00-02:00"
    hours = f"      callback_hours: {{mon-sun: \"{window}\"}}"
    async with running_app(lab, tmp_path, routing=routing(hours), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=1, answer_after_s=0.3, talk_s=14)
        first = await sipp.start_callers("first", [AwaitHangup(30)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        deferred = await wait_for(sink, lambda e: e.type == "callback.attempt" and e.data["outcome"] == "deferred", 10)
        await first.wait(20), await second.wait(20), await ana.wait(20)
        await asyncio.sleep(2)  # ana is free now: an in-hours callback would be ringing her
        assert app.router.call(requested.call_id) is None
        assert len(of_type(sink, "call.agent_ringing")) == 1  # only the first caller's
    assert deferred.call_id == requested.call_id
    assert deferred.data["due"] > deferred.ts + 3600


async def test_customer_first_rings_the_customer_then_the_agent_and_connects_them(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=routing(mode="customer-first"), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=12)
        customer = await sipp.start_agent("customer", lab.agent_port(50), calls=1, answer_after_s=0.5, talk_s=9)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        reached = await wait_for(sink, lambda e: e.type == "callback.attempt" and e.call_id == requested.call_id, 40)
        answered = await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id == requested.call_id, 20)
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == requested.call_id, 20)
        results = [await customer.wait(20), await ana.wait(30), await first.wait(10), await second.wait(10)]
    reserved = [e for e in of_type(sink, "agent.state") if e.agent_id == "ana" and e.data["state"] == "reserved" and e.call_id == requested.call_id]
    assert reserved and reserved[0].ts < reached.ts  # ana was held for the callback while the customer rang
    assert reached.data["outcome"] == "answered" and reached.data["mode"] == "customer-first"
    assert reached.ts < answered.ts and answered.agent_id == "ana"  # the customer answered first, then ana
    assert completed.agent_id == "ana"
    assert [e.call_id for e in of_type(sink, "callback.completed")] == [requested.call_id]
    assert not of_type(sink, "call.abandoned", requested.call_id)
    assert all(r.ok for r in results), [r.describe() for r in results]
    # Asterisk dialled the customer before ringing ana for this call (its own log, in order).
    log = (lab.log_dir / "messages.log").read_text(errors="replace")
    customer_up = log.index(f"callback {requested.call_id}: {CALLER} answered, ringing ana")
    assert "Called PJSIP/agent1" in log[customer_up:]
    shown = invite_from(results[0].messages)
    assert shown and all(f'"Mesa de Ayuda" <sip:{HELP_LINE}@' in line for line in shown), shown


async def test_customer_first_no_answer_frees_the_agent_unpaused_and_is_retried(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    async with running_app(lab, tmp_path, routing=routing(mode="customer-first"), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=10)
        away = await sipp.start_agent("customer-away", lab.agent_port(50), calls=1, answer=False)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        failed = await wait_for(sink, lambda e: e.type == "callback.attempt" and e.data["outcome"] == "no-answer", 60)
        freed = app.router.agent("ana")
        await away.wait(10)
        back = await sipp.start_agent("customer-back", lab.agent_port(50), calls=1, answer_after_s=0.3, talk_s=8)
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == failed.call_id, 60)
        results = [await back.wait(20), await ana.wait(20), await second.wait(10), await first.wait(10)]
    assert freed is not None and freed.state == "available"  # released at once: not paused, not still reserved
    assert freed.reason == "callback-not-answered"  # the router's own view (`acd agents`) agrees with the log
    ana_states = [(e.data["state"], e.data["reason"]) for e in of_type(sink, "agent.state") if e.agent_id == "ana"]
    assert ("available", "callback-not-answered") in ana_states
    assert not [s for s in ana_states if s[0] == "paused"]  # the customer's no-answer is not the agent's fault
    attempts = [(e.data["attempt"], e.data["outcome"]) for e in of_type(sink, "callback.attempt", failed.call_id) if e.data["outcome"] != "deferred"]
    assert attempts == [(1, "no-answer"), (2, "answered")]
    retried = [e for e in of_type(sink, "callback.attempt", failed.call_id) if e.data["outcome"] == "deferred"]
    assert retried and retried[0].data["due"] == pytest.approx(failed.ts + 2, abs=0.5)  # callback_retry_s later
    assert completed.agent_id == "ana"
    assert not of_type(sink, "call.abandoned", failed.call_id)
    assert all(r.ok for r in results), [r.describe() for r in results]


async def test_a_callback_survives_an_engine_restart_and_is_placed_when_an_agent_frees_up(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=14)
    customer = await sipp.start_agent("customer", lab.agent_port(50), calls=1, answer_after_s=0.5, talk_s=2)
    first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
    async with running_app(lab, tmp_path, routing=routing(), auto_login=["ana"], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        assert (await second.wait(20)).ok
    # The first engine stopped cleanly with the request still open; ana is still talking.
    async with running_app(lab, tmp_path, routing=routing(), auto_login=[], extra_yaml=CUSTOMER_SETTINGS) as (app, sink):
        restored = app.router.call(requested.call_id)
        assert restored is not None and restored.state == "waiting"
        assert restored.wait_origin == pytest.approx(requested.data["position_origin"], abs=0.01)  # its place is kept
        assert (await first.wait(30)).ok  # ana's first call ends ...
        app.dispatcher.agent_login("ana")  # ... and she is free again
        completed = await wait_for(sink, lambda e: e.type == "callback.completed", 40)
        results = [await customer.wait(20), await ana.wait(30)]
    assert completed.call_id == requested.call_id and completed.agent_id == "ana"
    assert all(r.ok for r in results), [r.describe() for r in results]


def sip_blocks(log: str) -> list[tuple[str, str, dict[str, str]]]:
    """(received|sent, first line, headers by lower-case name) of every message in a sipp
    ``-trace_msg`` log, in order."""
    messages = []
    for block in re.split(r"^-{20,}.*$", log, flags=re.MULTILINE):
        lines = block.strip().splitlines()
        if len(lines) < 3:
            continue
        headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[3:] if ":" in line}
        direction = "received" if "received" in lines[0] else "sent"
        messages.append((direction, lines[2].strip(), headers))
    return messages


def sip_messages(log: str) -> list[tuple[str, str, str, str]]:
    """(received|sent, first line, Call-ID, CSeq method) of every message in a sipp log, in order."""
    return [(way, line, headers.get("call-id", ""), headers.get("cseq", " ").split()[-1]) for way, line, headers in sip_blocks(log)]


def invite_from(log: str) -> list[str]:
    """The From header of every INVITE a sipp phone received (what its display would show)."""
    return [headers.get("from", "") for way, line, headers in sip_blocks(log) if way == "received" and line.startswith("INVITE ")]


async def test_pausing_the_reserved_agent_while_the_customer_rings_hangs_that_ring_up_before_calling_again(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    settings = "callbacks:\n  customer_ring_s: 15\n"
    async with running_app(lab, tmp_path, routing=routing(mode="customer-first"), auto_login=["ana"], extra_yaml=settings) as (app, sink):
        ana = await sipp.start_agent("ana", lab.agent_port(1), calls=1, answer_after_s=0.3, talk_s=9)
        bruno = await sipp.start_agent("bruno", lab.agent_port(2), calls=1, answer_after_s=0.3, talk_s=20)
        # The customer's phone rings 4 s before answering, unless the ring is hung up first.
        customer = await sipp.start_agent("customer", lab.agent_port(50), calls=2, answer_after_s=4, talk_s=6, cancel_ok=True)
        first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        call_id = requested.call_id
        await wait_for(sink, lambda e: e.type == "call.agent_ringing" and e.call_id == call_id and e.agent_id == "ana", 40)
        await asyncio.sleep(1.5)  # the customer's phone is ringing, ana reserved for it
        app.dispatcher.agent_login("bruno")  # idle, so the router hands the callback to bruno at once
        app.dispatcher.agent_pause("ana", "break")
        answered = await wait_for(sink, lambda e: e.type == "call.answered" and e.call_id == call_id, 40)
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == call_id, 30)
        results = [await customer.wait(20), await ana.wait(10), await first.wait(10), await second.wait(10)]
        await bruno.stop()
        ana_now = app.router.agent("ana")
    assert all(r.ok for r in results), [r.describe() for r in results]
    assert answered.agent_id == "bruno" and completed.agent_id == "bruno"
    assert ana_now is not None and ana_now.state == "paused" and ana_now.reason == "break"
    attempts = [(e.data["attempt"], e.data["outcome"], e.agent_id) for e in of_type(sink, "callback.attempt", call_id) if e.data["outcome"] != "deferred"]
    assert attempts == [(1, "cancelled", "ana"), (1, "answered", "bruno")]  # the cancelled ring is not counted
    assert [e.call_id for e in of_type(sink, "callback.completed")] == [call_id]
    # What the customer's phone saw: two INVITEs, the first cancelled before the second
    # arrived (never two rings at once), and exactly one answered.
    seen = sip_messages(results[0].messages)
    invites = [(i, cid) for i, (way, line, cid, _) in enumerate(seen) if way == "received" and line.startswith("INVITE ")]
    legs = list(dict.fromkeys(cid for _, cid in invites))  # retransmissions share a Call-ID
    assert len(legs) == 2, seen
    cancel_at = next(i for i, (way, line, cid, _) in enumerate(seen) if way == "received" and line.startswith("CANCEL ") and cid == legs[0])
    second_invite_at = next(i for i, cid in invites if cid == legs[1])
    assert cancel_at < second_invite_at
    answered_invites = {cid for way, line, cid, method in seen if way == "sent" and line.startswith("SIP/2.0 200") and method == "INVITE"}
    terminated = {cid for way, line, cid, _ in seen if way == "sent" and line.startswith("SIP/2.0 487")}
    assert answered_invites == {legs[1]} and terminated == {legs[0]}


async def test_a_customer_still_ringing_across_an_engine_restart_is_not_rung_twice_at_once(lab, sipp, tmp_path) -> None:  # noqa: ANN001
    settings = "callbacks:\n  customer_ring_s: 25\n"
    ana = await sipp.start_agent("ana", lab.agent_port(1), calls=2, answer_after_s=0.3, talk_s=12)
    # The customer's phone rings 8 s before answering, unless that ring is hung up first.
    customer = await sipp.start_agent("customer", lab.agent_port(50), calls=2, answer_after_s=8, talk_s=14, cancel_ok=True)
    first = await sipp.start_callers("first", [AwaitHangup(40)], calls=[("300", "56981110000")])
    async with running_app(lab, tmp_path, routing=routing(mode="customer-first"), auto_login=["ana"], extra_yaml=settings) as (app, sink):
        await wait_for(sink, lambda e: e.type == "call.answered", 20)
        second = await sipp.start_callers("second", ASK_FOR_CALLBACK, calls=[("300", CALLER)])
        requested = await wait_for(sink, lambda e: e.type == "callback.requested", 30)
        call_id = requested.call_id
        await wait_for(sink, lambda e: e.type == "call.agent_ringing" and e.call_id == call_id, 40)
        await asyncio.sleep(1.5)  # the customer's phone is ringing when the engine stops
    async with running_app(lab, tmp_path, routing=routing(mode="customer-first"), auto_login=["ana"], extra_yaml=settings) as (app, sink):
        completed = await wait_for(sink, lambda e: e.type == "call.completed" and e.call_id == call_id, 60)
        results = [await customer.wait(20), await ana.wait(30), await first.wait(10), await second.wait(10)]
    assert all(r.ok for r in results), [r.describe() for r in results]
    assert completed.agent_id == "ana"
    attempts = [(e.data["attempt"], e.data["outcome"]) for e in of_type(sink, "callback.attempt", call_id) if e.data["outcome"] != "deferred"]
    assert attempts == [(2, "answered")]  # the restarted engine's attempt (the first one was cut short)
    # What the customer's phone saw: the ring from before the restart cancelled, then one new ring.
    seen = sip_messages(results[0].messages)
    invites = [(i, cid) for i, (way, line, cid, _) in enumerate(seen) if way == "received" and line.startswith("INVITE ")]
    legs = list(dict.fromkeys(cid for _, cid in invites))
    assert len(legs) == 2, seen
    cancel_at = next(i for i, (way, line, cid, _) in enumerate(seen) if way == "received" and line.startswith("CANCEL ") and cid == legs[0])
    assert cancel_at < next(i for i, cid in invites if cid == legs[1])
    answered_invites = {cid for way, line, cid, method in seen if way == "sent" and line.startswith("SIP/2.0 200") and method == "INVITE"}
    assert answered_invites == {legs[1]}
