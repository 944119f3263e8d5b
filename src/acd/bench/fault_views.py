"""What the fault harness counts, kept free of any I/O so it can be tested with made-up records.

Three views of the same calls (as in :mod:`acd.bench.cps_bench`), none trusting another:

* **sipp** — the callers' dialogs (:func:`acd.bench.call_views.sipp_calls`) and the agent
  phones' own message logs (:func:`agent_dialogs`): which caller each phone was rung for
  and answered, and when;
* **Asterisk** — an independent AMI listener's record (:class:`AmiLedger`): caller and
  agent channels, ``DialBegin``/``DialEnd``, parks, hangups;
* **the engine** — its event log and ``acd report``, and its agent list over the API.

:func:`account` joins them into the done-when figures of issue 13 (callers lost, agents
rung while talking, callers connected twice, agents left in a wrong state, report drift),
each failure with the call, the agent, the timestamps and the fault it followed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable

from acd.bench.call_views import _ENTRY, _HEADER, EngineCall, SippCall

_NUMBER = re.compile(r"\b(569\d{8})\b")


# --------------------------------------------------------------------------- sipp agent phones


@dataclass
class AgentDialog:
    """One INVITE an agent phone received, as its own message log shows it."""

    agent: str
    call_id: str
    caller: str = ""
    invite_ts: float | None = None
    answered_ts: float | None = None
    ended_ts: float | None = None
    cancelled: bool = False


def agent_dialogs(agent: str, messages_log: str) -> list[AgentDialog]:
    """Every INVITE dialog of one sipp agent phone (``-trace_msg`` log), OPTIONS left out."""
    dialogs: dict[str, AgentDialog] = {}
    entries = list(_ENTRY.finditer(messages_log))
    for index, entry in enumerate(entries):
        end = entries[index + 1].start() if index + 1 < len(entries) else len(messages_log)
        message = messages_log[entry.end():end]
        first = message.split("\n", 1)[0].strip()
        call_id = _HEADER["Call-ID"].search(message)
        if not call_id or not first:
            continue
        ts = datetime.strptime(entry.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        sent = entry.group(2) == "sent"
        cseq = _HEADER["CSeq"].search(message)
        method = cseq.group(1).split()[-1] if cseq else ""
        key = call_id.group(1)
        if not sent and first.startswith("INVITE "):
            dialog = dialogs.setdefault(key, AgentDialog(agent, key))
            if dialog.invite_ts is None:
                dialog.invite_ts = ts
                sender = _HEADER["From"].search(message)
                number = _NUMBER.search(sender.group(1)) if sender else None
                dialog.caller = number.group(1) if number else ""
            continue
        dialog = dialogs.get(key)
        if dialog is None:
            continue
        if sent and first.startswith("SIP/2.0 200") and method == "INVITE" and dialog.answered_ts is None:
            dialog.answered_ts = ts
        elif not sent and first.startswith("CANCEL "):
            dialog.cancelled = True
            dialog.ended_ts = dialog.ended_ts or ts
        elif first.startswith("BYE ") and dialog.ended_ts is None:
            dialog.ended_ts = ts
    return list(dialogs.values())


# --------------------------------------------------------------------------- Asterisk over AMI


def endpoint_of(channel: str) -> str:
    """``PJSIP/agent3-0000001a`` -> ``PJSIP/agent3``."""
    return channel.rsplit("-", 1)[0] if "-" in channel else channel


@dataclass
class CallerChannel:
    uid: str
    number: str = ""
    created_ts: float = 0.0
    parked_ts: list[float] = field(default_factory=list)
    dials: list[tuple[float, str]] = field(default_factory=list)  # (DialBegin ts, agent endpoint)
    dial_ends: list[tuple[float, str, str]] = field(default_factory=list)  # (ts, agent endpoint, DialStatus)
    hangup_ts: float | None = None
    cause: str | None = None

    @property
    def answers(self) -> list[tuple[float, str]]:
        return [(ts, agent) for ts, agent, status in self.dial_ends if status == "ANSWER"]

    def state(self) -> str:
        """Where the caller is now: ivr, hold, ringing, talking or gone."""
        if self.hangup_ts is not None:
            return "gone"
        if len(self.dials) > len(self.dial_ends):
            return "ringing"
        if self.dial_ends and self.dial_ends[-1][2] == "ANSWER":
            return "talking"
        return "hold" if self.parked_ts else "ivr"


@dataclass
class AgentChannel:
    uid: str
    endpoint: str
    caller_uid: str = ""
    created_ts: float = 0.0
    up_ts: float | None = None
    hangup_ts: float | None = None


@dataclass
class DoubleRing:
    """Asterisk dialled an agent whose phone already had a call up."""

    ts: float
    agent: str
    caller: str
    busy_with_caller: str
    busy_since_ts: float | None


class AmiLedger:
    """Everything the harness's own AMI connection saw, fed one event (and its arrival time) at a time."""

    def __init__(self) -> None:
        self.callers: dict[str, CallerChannel] = {}
        self.agents: dict[str, AgentChannel] = {}
        self.double_rings: list[DoubleRing] = []
        self.events = 0

    def handle(self, event: dict[str, str], ts: float) -> None:
        self.events += 1
        name, uid, channel = event.get("Event", ""), event.get("Uniqueid", ""), event.get("Channel", "")
        if name == "Newchannel":
            if channel.startswith("PJSIP/caller-"):
                self.callers[uid] = CallerChannel(uid, created_ts=ts)
            elif channel.startswith("PJSIP/agent"):
                self.agents[uid] = AgentChannel(uid, endpoint_of(channel), created_ts=ts)
        caller = self.callers.get(uid)
        number = event.get("CallerIDNum", "")
        if caller is not None and number.isdigit() and not caller.number:
            caller.number = number
        if name == "UserEvent" and event.get("UserEvent") == "AcdParked" and caller is not None:
            caller.parked_ts.append(ts)
        elif name == "DialBegin" and caller is not None and event.get("DestChannel", "").startswith("PJSIP/agent"):
            self._dial_begin(caller, event, ts)
        elif name == "DialEnd" and caller is not None and event.get("DestChannel", "").startswith("PJSIP/agent"):
            caller.dial_ends.append((ts, endpoint_of(event["DestChannel"]), event.get("DialStatus", "")))
        elif name == "Newstate" and uid in self.agents and event.get("ChannelState") == "6":
            self.agents[uid].up_ts = self.agents[uid].up_ts or ts
        elif name == "Hangup":
            if caller is not None:
                caller.hangup_ts = ts
                caller.cause = f"{event.get('Cause', '?')} {event.get('Cause-txt', '')}".strip()
            if uid in self.agents:
                self.agents[uid].hangup_ts = ts

    def _dial_begin(self, caller: CallerChannel, event: dict[str, str], ts: float) -> None:
        agent = endpoint_of(event["DestChannel"])
        dest = self.agents.get(event.get("DestUniqueid", ""))
        if dest is not None:
            dest.caller_uid = caller.uid
        for other in self.agents.values():
            if other is dest or other.endpoint != agent or other.up_ts is None or other.hangup_ts is not None:
                continue
            busy = self.callers.get(other.caller_uid)
            self.double_rings.append(DoubleRing(ts, agent, caller.number, busy.number if busy else "?", other.up_ts))
            break
        caller.dials.append((ts, agent))

    def states(self) -> dict[str, int]:
        """How many callers are in the IVR, on hold, ringing and talking right now."""
        out = {"ivr": 0, "hold": 0, "ringing": 0, "talking": 0}
        for caller in self.callers.values():
            state = caller.state()
            if state in out:
                out[state] += 1
        return out

    def active_callers(self) -> int:
        return sum(1 for caller in self.callers.values() if caller.hangup_ts is None)

    def by_number(self) -> dict[str, list[CallerChannel]]:
        out: dict[str, list[CallerChannel]] = {}
        for caller in self.callers.values():
            out.setdefault(caller.number, []).append(caller)
        return out


# --------------------------------------------------------------------------- joining the views


@dataclass
class Injection:
    """One fault as injected: when, the callers' states at that moment, what the injector saw."""

    repetition: int
    kind: str
    ts: float
    states: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class KindRun:
    """Everything measured during one fault kind's traffic, before the views are joined."""

    kind: str
    planned: list[str]
    sipp: dict[str, SippCall]
    dialogs: list[AgentDialog]
    ledger: AmiLedger
    engine: dict[str, EngineCall]
    agents: list[dict[str, Any]] | None  # GET /api/agents at the end; None if the engine did not answer
    report_total: dict[str, Any] | None  # `acd report --format json`'s "total"; None if it failed
    injections: list[Injection]
    started_ts: float
    problems: list[str] = field(default_factory=list)  # the harness's own trouble (engine did not restart ...)


def _when(ts: float | None, base: float) -> str:
    return "?" if ts is None else f"t+{ts - base:.2f}s"


def repetition_at(injections: list[Injection], ts: float | None) -> int:
    """The fault a problem at ``ts`` followed (its repetition number); 0 before the first fault."""
    found = 0
    for injection in injections:
        if ts is not None and injection.ts <= ts:
            found = injection.repetition
    return found


def lost_callers(run: KindRun) -> list[dict[str, Any]]:
    """Callers sipp placed that no agent answered and that got no clear failure, with how far each got."""
    by_number = {call.caller: call for call in run.sipp.values() if call.caller and call.invite_ts is not None}
    answered = {dialog.caller for dialog in run.dialogs if dialog.answered_ts is not None}
    channels = run.ledger.by_number()
    out = []
    for number in run.planned:
        call = by_number.get(number)
        if call is None or call.clear_failure or number in answered:
            continue
        seen = channels.get(number, [])
        engine = run.engine.get(number)
        last = seen[-1] if seen else None
        ended = last.hangup_ts if last else None
        stages = sorted(set(engine.seen)) if engine else []
        out.append({
            "caller": number,
            "after_fault": repetition_at(run.injections, ended or call.invite_ts),
            "invite": _when(call.invite_ts, run.started_ts),
            "sip_final": call.final_code,
            "asterisk": {
                "parked": len(last.parked_ts) if last else 0,
                "agents_rung": [agent for _, agent in last.dials] if last else [],
                "dial_results": [status for _, _, status in last.dial_ends] if last else [],
                "hangup": _when(ended, run.started_ts),
                "cause": last.cause if last else None,
            },
            "engine_events": stages,
            "why": _loss_reason(call, last, stages),
        })
    return out


def _loss_reason(call: SippCall, channel: CallerChannel | None, engine_events: list[str]) -> str:
    if call.final_code is None:
        return "Asterisk never answered the INVITE"
    if channel is None:
        return "no caller channel seen over AMI"
    if channel.hangup_ts is None:
        return f"still up at the end ({channel.state()}): the caller gave up waiting"
    if not engine_events:
        return "hung up in the dialplan without reaching the engine (no call.started): engine away"
    if not channel.parked_ts and not channel.dials:
        return "reached the IVR, never queued (neither parked nor rung)"
    if channel.dials:
        return f"rung {len(channel.dials)}x ({', '.join(status for _, _, status in channel.dial_ends) or 'no DialEnd'}), never answered, then hung up"
    return "parked, never rung, hung up by Asterisk"


def double_rings(run: KindRun) -> list[dict[str, Any]]:
    """Agents rung while talking: the AMI view, confirmed (or not) by the agent phone's own log."""
    out = []
    for ring in run.ledger.double_rings:
        phone = _phone_busy_at(run.dialogs, ring.agent, ring.ts)
        out.append({
            "agent": ring.agent, "caller": ring.caller, "at": _when(ring.ts, run.started_ts),
            "after_fault": repetition_at(run.injections, ring.ts),
            "agent_talking_with": ring.busy_with_caller, "talking_since": _when(ring.busy_since_ts, run.started_ts),
            "phone_log_agrees": phone,
        })
    return out


def _phone_busy_at(dialogs: list[AgentDialog], endpoint: str, ts: float) -> bool:
    agent = endpoint.split("/", 1)[-1]
    return any(
        dialog.agent == agent and dialog.answered_ts is not None and dialog.answered_ts < ts - 0.05
        and (dialog.ended_ts is None or dialog.ended_ts > ts + 0.05)
        for dialog in dialogs
    )


def phone_double_rings(dialogs: list[AgentDialog]) -> int:
    """The sipp view: INVITEs a phone received while an answered call of its own was still up."""
    count = 0
    for dialog in dialogs:
        if dialog.invite_ts is not None and _phone_busy_at(dialogs, f"PJSIP/{dialog.agent}", dialog.invite_ts):
            count += 1
    return count


def connected_twice(run: KindRun) -> list[dict[str, Any]]:
    """Callers answered by more than one agent (AMI DialEnd ANSWER on one caller channel, or the phones' logs)."""
    out = []
    phones: dict[str, list[AgentDialog]] = {}
    for dialog in run.dialogs:
        if dialog.answered_ts is not None:
            phones.setdefault(dialog.caller, []).append(dialog)
    numbers = set(run.planned)
    for caller in run.ledger.callers.values():
        if caller.number in numbers and len(caller.answers) > 1:
            out.append(_twice(run, caller.number, [(ts, agent) for ts, agent in caller.answers], "AMI"))
            numbers.discard(caller.number)
    for number, dialogs in phones.items():
        if number in numbers and len(dialogs) > 1:
            out.append(_twice(run, number, sorted((d.answered_ts or 0.0, f"PJSIP/{d.agent}") for d in dialogs), "agent phones"))
    return out


def _twice(run: KindRun, number: str, answers: list[tuple[float, str]], view: str) -> dict[str, Any]:
    return {
        "caller": number, "view": view, "after_fault": repetition_at(run.injections, answers[1][0]),
        "answers": [f"{agent} at {_when(ts, run.started_ts)}" for ts, agent in answers],
    }


def wrong_states(agents: list[dict[str, Any]] | None, ledger: AmiLedger) -> list[dict[str, Any]]:
    """Agents not available at the end although every phone is fine and no channel is up.

    Agent phones answer every call, so after the traffic drained each logged-in agent must
    be available: paused (no-answer, unreachable …), ringing, on a call or in wrap-up with
    no channel of theirs left is a state the engine got wrong.
    """
    if agents is None:
        return [{"agent": "*", "state": "unknown", "why": "the engine's API did not answer at the end"}]
    up = {channel.endpoint for channel in ledger.agents.values() if channel.hangup_ts is None}
    out = []
    for agent in agents:
        if agent.get("state") == "available":
            continue
        out.append({
            "agent": agent.get("id"), "endpoint": agent.get("endpoint"), "state": agent.get("state"),
            "reason": agent.get("reason"), "call_id": agent.get("call_id"),
            "in_state_s": agent.get("in_state_s"), "phone_channel_up": agent.get("endpoint") in up,
        })
    return out


REPORT_FIGURES = ("offered", "answered", "abandoned", "waiting")


def sipp_figures(run: KindRun) -> dict[str, int]:
    """What sipp says the report should show: callers that entered, answered by an agent, left without one."""
    entered = {call.caller for call in run.sipp.values() if call.caller in set(run.planned) and call.final_code == 200}
    answered = {dialog.caller for dialog in run.dialogs if dialog.answered_ts is not None and dialog.caller in entered}
    return {"offered": len(entered), "answered": len(answered), "abandoned": len(entered - answered), "waiting": 0}


def record_mismatches(run: KindRun) -> list[dict[str, Any]]:
    """Callers whose engine record disagrees with what the phones saw: the calls behind a report drift.

    An agent phone answered the caller, but the engine logged no ``call.answered`` (or logged
    ``call.abandoned``); or the engine logged an answer no phone gave; or the call has no
    end at all in the engine's log (it stays "waiting" in the report).
    """
    answered: dict[str, list[AgentDialog]] = {}
    for dialog in run.dialogs:
        if dialog.answered_ts is not None:
            answered.setdefault(dialog.caller, []).append(dialog)
    entered = {call.caller for call in run.sipp.values() if call.final_code == 200}
    out = []
    for number in run.planned:
        engine = run.engine.get(number)
        seen = engine.seen if engine else {}
        phones = answered.get(number, [])
        problems = []
        if phones and not seen.get("call.answered"):
            problems.append("answered by an agent, no call.answered in the engine's log")
        if phones and seen.get("call.abandoned"):
            problems.append("answered by an agent, logged call.abandoned")
        if seen.get("call.answered") and not phones:
            problems.append("call.answered logged, no agent phone answered")
        if number in entered and seen.get("call.queued") and not (seen.get("call.completed") or seen.get("call.abandoned")):
            problems.append("no call.completed nor call.abandoned: left open in the report")
        if seen.get("call.answered", 0) > 1 or seen.get("call.queued", 0) > 1:
            problems.append(f"logged {seen.get('call.queued', 0)} queued / {seen.get('call.answered', 0)} answered")
        if problems:
            out.append({
                "caller": number, "problems": problems,
                # the moment the record should have been written: the call's end, else its answer
                "after_fault": repetition_at(run.injections, (phones[-1].ended_ts or phones[-1].answered_ts) if phones else None),
                "agents_answered": [f"{d.agent} at {_when(d.answered_ts, run.started_ts)}, ended {_when(d.ended_ts, run.started_ts)}" for d in phones],
                "engine_events": dict(sorted(seen.items())), "call_ids": sorted(engine.call_ids) if engine else [],
            })
    return out


def report_drift(run: KindRun) -> dict[str, Any]:
    """``acd report`` minus sipp, per figure (all zero when the engine's record is right)."""
    expected = sipp_figures(run)
    if run.report_total is None:
        return {"sipp": expected, "report": None, "drift": None}
    got = {key: int(run.report_total.get(key) or 0) for key in REPORT_FIGURES}
    return {"sipp": expected, "report": got, "drift": {key: got[key] - expected[key] for key in REPORT_FIGURES}}


def account(run: KindRun) -> dict[str, Any]:
    """One fault kind's figures: totals, per repetition, and every failure with its details."""
    lost, rings, twice = lost_callers(run), double_rings(run), connected_twice(run)
    wrong = wrong_states(run.agents, run.ledger)
    drift = report_drift(run)
    repetitions = []
    for injection in run.injections:
        number = injection.repetition
        repetitions.append({
            **asdict(injection), "at": _when(injection.ts, run.started_ts),
            "lost": sum(1 for item in lost if item["after_fault"] == number),
            "double_rings": sum(1 for item in rings if item["after_fault"] == number),
            "connected_twice": sum(1 for item in twice if item["after_fault"] == number),
        })
    placed = sum(1 for number in run.planned if any(c.caller == number and c.invite_ts is not None for c in run.sipp.values()))
    drifted = drift["drift"] is None or any(drift["drift"].values())
    return {
        "kind": run.kind,
        "repetitions": len(run.injections),
        "placed": placed,
        "lost": len(lost),
        "double_rings": len(rings),
        "double_rings_phone_view": phone_double_rings(run.dialogs),
        "connected_twice": len(twice),
        "wrong_states": len(wrong),
        "report_drift": drift,
        "ok": not (lost or rings or twice or wrong or drifted or run.problems),
        "per_repetition": repetitions,
        "details": {"lost": lost, "double_rings": rings, "connected_twice": twice, "wrong_states": wrong,
                    "engine_record_mismatches": record_mismatches(run)},
        "problems": run.problems,
        "ami_events": run.ledger.events,
    }


def totals(kinds: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The done-when figures summed over every kind."""
    out = {"lost": 0, "double_rings": 0, "connected_twice": 0, "wrong_states": 0, "drifted_kinds": 0, "repetitions": 0}
    for kind in kinds:
        for key in ("lost", "double_rings", "connected_twice", "wrong_states", "repetitions"):
            out[key] += kind[key]
        drift = kind["report_drift"]["drift"]
        out["drifted_kinds"] += int(drift is None or any(drift.values()))
    return out
