"""A tiny hand-made AMI recording: two calls through the ACD, with the noise real streams carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.bench.ami_recording import write_recording

ROUTING = """\
timezone: America/Santiago
skills: [ventas]
queues:
  - {name: ventas, skills: [ventas], wrap_up_s: 1, ring_timeout_s: 10}
agents:
  - {id: ana, name: Ana, endpoint: PJSIP/agent1, skills: {ventas: 9}}
  - {id: bruno, name: Bruno, endpoint: PJSIP/agent2, skills: {ventas: 5}}
"""

T0 = 1_795_000_000.0


def event(**headers: str) -> bytes:
    return "\r\n".join(f"{key.replace('_', '-') if key == 'Cause_txt' else key}: {value}" for key, value in headers.items()).encode()


def call(caller_uid: str, agent_uid: str, channel: str, start: float) -> list[tuple[bytes, float]]:
    """One call as Asterisk reports it: parked, agent dialled and answered, both legs hung up."""
    return [
        (event(Event="Newchannel", Channel=channel, Uniqueid=caller_uid, Linkedid=caller_uid), start),
        (event(Event="VarSet", Channel=channel, Variable="ACD_CALL_ID", Value=caller_uid, Uniqueid=caller_uid), start + 0.1),
        (event(Event="Newexten", Channel=channel, Context="acd-hold", Extension="s", Uniqueid=caller_uid), start + 0.2),
        (event(Event="UserEvent", UserEvent="AcdParked", Channel=channel, Uniqueid=caller_uid, CallId=caller_uid,
               Queue="ventas", WaitOrigin=f"{start:.3f}", Priority=""), start + 0.3),
        (event(Event="DialBegin", Channel=channel, Uniqueid=caller_uid, DestChannel="PJSIP/agent1-01", DestUniqueid=agent_uid), start + 0.5),
        (event(Event="DialEnd", Channel=channel, Uniqueid=caller_uid, DestChannel="PJSIP/agent1-01", DestUniqueid=agent_uid, DialStatus="ANSWER"), start + 1.5),
        (event(Event="Hangup", Channel="PJSIP/agent1-01", Uniqueid=agent_uid, Linkedid=caller_uid, Cause="16", Cause_txt="Normal Clearing"), start + 9.0),
        (event(Event="Hangup", Channel=channel, Uniqueid=caller_uid, Linkedid=caller_uid, Cause="16", Cause_txt="Normal Clearing"), start + 9.1),
    ]


def write_mini_recording(folder: Path) -> Path:
    items = [(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted", T0)]
    items += call(f"{T0:.0f}.11", f"{T0:.0f}.12", "PJSIP/caller-01", T0 + 1)
    items += call(f"{T0:.0f}.21", f"{T0:.0f}.22", "PJSIP/caller-02", T0 + 20)
    raw = b"".join(block + b"\r\n\r\n" for block, _ in items)
    offsets = [at - T0 for _, at in items]
    write_recording(folder, "mini", raw, offsets, {"started_at": T0, "calls": 2, "asterisk": "hand-made"}, ROUTING)
    return folder / "mini"


@pytest.fixture
def mini_recording(tmp_path: Path) -> Path:
    return write_mini_recording(tmp_path)
