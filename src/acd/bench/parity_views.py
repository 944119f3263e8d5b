"""What ``acd bench parity`` measures, from views both sides share: sipp's message logs
(callers and agent phones) and the queue entries seen on the bench's own AMI connection.

Neither side's own bookkeeping is trusted: app_queue and the ACD are timed and counted
by exactly the same code from the same kinds of record, so a ratio between them compares
the systems, not two ways of measuring.

* **agent phone timeline** (:func:`agent_calls`): per call an agent phone took, the caller
  number (Asterisk copies it into the INVITE's From), when the INVITE arrived, when the
  phone answered and when the call ended (the phone's own BYE, or Asterisk's);
* **queue entry**: the moment a caller started waiting for an agent (the ACD's
  ``UserEvent(AcdParked)``, app_queue's ``QueueCallerJoin``), as the AMI watcher received it;
* **dispatch latency** (:func:`dispatch_latencies`): an agent becomes free (its call ended,
  plus the wrap-up) while a caller waits → the next INVITE reaching that agent's phone,
  for a caller who was already waiting then;
* **wait** (:func:`waits`): queue entry → the agent phone's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from acd.bench.call_views import _ENTRY, _HEADER


@dataclass
class AgentCall:
    """One call an agent phone was offered, as its sipp message log shows it."""

    phone: str
    caller: str
    invite_ts: float
    answer_ts: float | None = None
    end_ts: float | None = None


_NUMBER_IN_FROM = (re.compile(r'^\s*"(\d+)"'), re.compile(r"sip:(\d+)@"))


def _caller_of(from_header: str) -> str:
    for pattern in _NUMBER_IN_FROM:
        found = pattern.search(from_header)
        if found:
            return found.group(1)
    return ""


def agent_calls(phone: str, messages_log: str) -> list[AgentCall]:
    """The calls one agent phone saw, in arrival order (a retransmitted INVITE is one call).

    ``answer_ts`` is the first 200 OK the phone sent to the INVITE, ``end_ts`` the first
    BYE sent or received in that dialog (the phone hangs up after talking, or Asterisk
    does when the caller left first)."""
    calls: dict[str, AgentCall] = {}
    entries = list(_ENTRY.finditer(messages_log))
    for index, entry in enumerate(entries):
        end = entries[index + 1].start() if index + 1 < len(entries) else len(messages_log)
        message = messages_log[entry.end():end]
        first_line = message.split("\n", 1)[0].strip()
        call_id = _HEADER["Call-ID"].search(message)
        if not call_id or not first_line:
            continue
        at = datetime.strptime(entry.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        sent = entry.group(2) == "sent"
        key = call_id.group(1)
        cseq = _HEADER["CSeq"].search(message)
        cseq_method = cseq.group(1).split()[-1] if cseq else ""
        if not sent and first_line.startswith("INVITE "):
            if key not in calls:
                sender = _HEADER["From"].search(message)
                calls[key] = AgentCall(phone=phone, caller=_caller_of(sender.group(1) if sender else ""), invite_ts=at)
            continue
        call = calls.get(key)
        if call is None:
            continue  # OPTIONS (qualify) and anything else outside an offered call
        if sent and first_line.startswith("SIP/2.0 200") and cseq_method == "INVITE" and call.answer_ts is None:
            call.answer_ts = at
        elif first_line.startswith("BYE ") and call.end_ts is None:
            call.end_ts = at
    return sorted(calls.values(), key=lambda call: call.invite_ts)


def dispatch_latencies(calls: Iterable[AgentCall], joined: Mapping[str, float], wrap_up_s: float) -> list[float]:
    """Seconds from an agent becoming free while a caller waited to that agent's next INVITE.

    An agent is free ``wrap_up_s`` after its call ended.  The sample counts only when the
    next INVITE to that phone is for a caller that had already joined the queue by then
    (otherwise the agent was idle for want of callers, which is no dispatch delay)."""
    by_phone: dict[str, list[AgentCall]] = {}
    for call in calls:
        by_phone.setdefault(call.phone, []).append(call)
    samples = []
    for phone_calls in by_phone.values():
        phone_calls.sort(key=lambda call: call.invite_ts)
        for current, following in zip(phone_calls, phone_calls[1:]):
            if current.end_ts is None:
                continue
            free_at = current.end_ts + wrap_up_s
            entered = joined.get(following.caller)
            if entered is not None and entered <= free_at <= following.invite_ts:
                samples.append(following.invite_ts - free_at)
    return samples


def waits(calls: Iterable[AgentCall], joined: Mapping[str, float]) -> list[float]:
    """Per answered caller: queue entry → the first answer by an agent phone, in seconds."""
    answered: dict[str, float] = {}
    for call in calls:
        if call.answer_ts is not None and call.caller:
            answered[call.caller] = min(call.answer_ts, answered.get(call.caller, call.answer_ts))
    return [answer - joined[caller] for caller, answer in answered.items() if caller in joined]


def answered_per_second(calls: Iterable[AgentCall], first_invite_ts: float | None) -> float | None:
    """Calls answered by agents per second, from the first caller's INVITE to the last answer."""
    answers = [call.answer_ts for call in calls if call.answer_ts is not None]
    if not answers or first_invite_ts is None or max(answers) <= first_invite_ts:
        return None
    return len(answers) / (max(answers) - first_invite_ts)
