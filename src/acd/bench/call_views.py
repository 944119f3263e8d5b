"""Each call seen three independent ways: sipp's message log, Asterisk over a separate AMI
connection, the engine's SQLite event log — matched by the caller number.

Shared by ``acd bench cps`` (which counts a call as completed, clearly failed or lost from
these views) and ``acd bench faults`` (:mod:`acd.bench.fault_views` builds its checks on
them).  The views are read after the fact and do not trust each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable


# --------------------------------------------------------------------------- sipp's view


@dataclass
class SippCall:
    """One caller dialog as sipp's message log shows it."""

    caller: str = ""
    invite_ts: float | None = None
    invites_sent: int = 0
    final_code: int | None = None
    bye_received: bool = False

    @property
    def completed(self) -> bool:
        return self.final_code == 200 and self.bye_received

    @property
    def clear_failure(self) -> bool:
        return self.final_code is not None and self.final_code >= 300


_ENTRY = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n\w+ message (sent|received)[^\n]*\n\n", re.MULTILINE)
_HEADER = {name: re.compile(rf"^{name}:\s*(.*?)\s*$", re.MULTILINE | re.IGNORECASE) for name in ("Call-ID", "CSeq", "From")}


def sipp_calls(messages_log: str) -> dict[str, SippCall]:
    """Call-ID -> what happened to that caller dialog, from a caller run's ``-trace_msg`` log."""
    calls: dict[str, SippCall] = {}
    entries = list(_ENTRY.finditer(messages_log))
    for index, entry in enumerate(entries):
        end = entries[index + 1].start() if index + 1 < len(entries) else len(messages_log)
        message = messages_log[entry.end():end]
        first_line = message.split("\n", 1)[0].strip()
        call_id = _HEADER["Call-ID"].search(message)
        if not call_id or not first_line:
            continue
        call = calls.setdefault(call_id.group(1), SippCall())
        sent = entry.group(2) == "sent"
        cseq = _HEADER["CSeq"].search(message)
        cseq_method = cseq.group(1).split()[-1] if cseq else ""
        if sent and first_line.startswith("INVITE "):
            call.invites_sent += 1
            if call.invite_ts is None:
                call.invite_ts = datetime.strptime(entry.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            sender = _HEADER["From"].search(message)
            caller = re.search(r'"(\d+)"', sender.group(1)) if sender else None
            call.caller = caller.group(1) if caller else call.caller
        elif not sent and first_line.startswith("SIP/2.0 ") and cseq_method == "INVITE":
            code = int(first_line.split()[1])
            if code >= 200 and call.final_code is None:
                call.final_code = code
        elif not sent and first_line.startswith("BYE "):
            call.bye_received = True
    return calls


_CREATED = re.compile(r"^\s*Outgoing calls created\s*\|\s*\d+\s*\|\s*(\d+)", re.MULTILINE)


def sipp_created(screen_log: str) -> int | None:
    """sipp's own count of calls it started (its final screen dump)."""
    found = _CREATED.findall(screen_log)
    return int(found[-1]) if found else None


# --------------------------------------------------------------------------- Asterisk's view


@dataclass
class AstChannel:
    """One caller channel as Asterisk reported it over AMI."""

    caller: str = ""
    parked: int = 0
    rung: int = 0  # DialBegin to an agent phone (a caller rung straight from the IVR is never parked)
    agent_answered: int = 0
    hangup_cause: str | None = None


class AmiWatcher:
    """A second, independent AMI connection: what Asterisk itself says happened to the callers.

    It shares no code with the engine's AMI client on purpose, so a fault in the engine's
    event handling cannot hide in both counts at once.
    """

    def __init__(self, port: int, username: str, secret: str) -> None:
        self.port, self.username, self._secret = port, username, secret
        self.channels: dict[str, AstChannel] = {}
        self.events = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 10) -> None:
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout_s)
        await asyncio.wait_for(self._reader.readline(), timeout_s)  # "Asterisk Call Manager/…"
        self._writer.write(
            f"Action: Login\r\nActionID: cps-login\r\nUsername: {self.username}\r\nSecret: {self._secret}\r\nEvents: on\r\n\r\n".encode()
        )
        await self._writer.drain()
        while True:
            block = await asyncio.wait_for(self._block(), timeout_s)
            if block is None:
                raise ConnectionError("AMI closed the connection during login")
            if block.get("ActionID") == "cps-login":
                if block.get("Response") != "Success":
                    raise ConnectionError(f"AMI login refused: {block.get('Message', 'no message')}")
                break
        self._task = asyncio.create_task(self._read_loop(), name="cps-ami-watcher")

    async def _block(self) -> dict[str, str] | None:
        assert self._reader is not None
        block: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if not line:
                return None
            text = line.decode(errors="replace").rstrip("\r\n")
            if not text:
                if block:
                    return block
                continue
            key, _, value = text.partition(":")
            block.setdefault(key.strip(), value.strip())

    async def _read_loop(self) -> None:
        while (block := await self._block()) is not None:
            if "Event" in block:
                self.events += 1
                self.handle(block)

    def handle(self, event: dict[str, str]) -> None:
        name, uid = event["Event"], event.get("Uniqueid", "")
        if name == "Newchannel" and event.get("Channel", "").startswith("PJSIP/caller-"):
            self.channels[uid] = AstChannel()
        channel = self.channels.get(uid)
        if channel is None:
            return
        number = event.get("CallerIDNum", "")
        if number.isdigit():
            channel.caller = number
        if name == "UserEvent" and event.get("UserEvent") == "AcdParked":
            channel.parked += 1
        elif name == "DialBegin" and event.get("DestChannel", "").startswith("PJSIP/agent"):
            channel.rung += 1
        elif name == "DialEnd" and event.get("DestChannel", "").startswith("PJSIP/agent") and event.get("DialStatus") == "ANSWER":
            channel.agent_answered += 1
        elif name == "Hangup":
            channel.hangup_cause = f"{event.get('Cause', '?')} {event.get('Cause-txt', '')}".strip()

    def active_callers(self) -> int:
        return sum(1 for channel in self.channels.values() if channel.hangup_cause is None)

    def by_caller(self) -> dict[str, list[AstChannel]]:
        out: dict[str, list[AstChannel]] = {}
        for channel in self.channels.values():
            out.setdefault(channel.caller, []).append(channel)
        return out

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(b"Action: Logoff\r\n\r\n")
                await self._writer.drain()
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


# --------------------------------------------------------------------------- the engine's view


ENGINE_STAGES = ("call.started", "call.queued", "call.agent_ringing", "call.answered", "call.completed", "call.abandoned", "ivr.error")


@dataclass
class EngineCall:
    """One call as the engine's SQLite event log tells it (keyed by the caller number)."""

    started_ts: float | None = None
    call_ids: set[str] = field(default_factory=set)
    seen: Counter[str] = field(default_factory=Counter)
    waited_s: float | None = None
    answered_ts: float | None = None
    ended_cause: str | None = None


async def engine_calls(database: Path, numbers: Iterable[str], store_url: str | None = None) -> dict[str, EngineCall]:
    """Caller number -> the engine's record of that call, read back from the event log file
    (or the PostgreSQL store at ``store_url``; the pseudonym key is still beside ``database``
    unless ``$ACD_PRIVACY_KEY`` gives it).

    The log holds callers masked, with a keyed pseudonym (``caller_ref``, acd.privacy):
    the numbers the benchmark dialled are matched by computing theirs with the same key.
    """
    from acd.metrics.store import EventStore
    from acd.metrics.store_url import open_store
    from acd.privacy import Pseudonyms

    pseudonyms = Pseudonyms.load(database.parent, create=False)
    number_of_ref = {pseudonyms.ref(number): number for number in numbers}

    store = await (open_store(store_url, create=False) if store_url else EventStore.open(database, create=False))
    try:
        events = await store.events(types=[*ENGINE_STAGES, "call.ended"])
    finally:
        await store.close()
    number_of: dict[str, str] = {}
    calls: dict[str, EngineCall] = {}
    for event in events:
        if event.call_id is None:
            continue
        if event.type == "call.started":
            number_of[event.call_id] = number_of_ref.get(str(event.data.get("caller_ref", "")), "")
        number = number_of.get(event.call_id)
        if number is None:
            continue
        call = calls.setdefault(number, EngineCall())
        call.call_ids.add(event.call_id)
        call.seen[event.type] += 1
        if event.type == "call.started" and call.started_ts is None:
            call.started_ts = event.ts
        elif event.type == "call.answered":
            call.waited_s = event.data.get("waited_s")
            call.answered_ts = event.ts
        elif event.type == "call.ended":
            call.ended_cause = str(event.data.get("cause"))
    return calls
