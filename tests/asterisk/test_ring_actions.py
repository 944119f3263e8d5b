"""A ring is ONE AMI action: ``Redirect`` to ``acd-agent``, extension ``<limit><agent id>``.

The agent's device and the recording folder are constants, set as globals in front of the
agent's first ring on each AMI connection (and again when the dialplan reports one
missing).  Each ring used to cost four ``Setvar`` and a ``Redirect`` on Asterisk.
"""

from __future__ import annotations

import re

from acd.asterisk.ami import AmiClient, AmiMessage
from acd.asterisk.call_control import AsteriskCallControl, RingFailed, agent_of_extension, channel_status, ring_extension
from tests.asterisk.test_ami_client import ScriptedAmi, _until, ami, event  # noqa: F401 - the fixture

ACTION = re.compile(rb"Action: (\w+)\r\n(.*?)\r\n\r\n", re.DOTALL)


def actions(server: ScriptedAmi) -> list[tuple[str, dict[str, str]]]:
    out = []
    for name, body in ACTION.findall(bytes(server.received)):
        fields = dict(line.split(": ", 1) for line in body.decode().split("\r\n") if ": " in line)
        fields.pop("ActionID", None)
        out.append((name.decode(), fields))
    return [item for item in out if item[0] != "Login"]


def test_the_ring_extension_carries_dials_limit_and_the_agent() -> None:
    assert ring_extension("ana", 10) == "012ana"  # the router's 10 s plus Dial's 2 s margin
    assert ring_extension("a.b-c", 0.2) == "003a.b-c"
    assert ring_extension("ana", 5000) == "999ana"
    assert agent_of_extension("012ana") == "ana" and agent_of_extension("012a.b-c") == "a.b-c"
    assert agent_of_extension("s") == "" and agent_of_extension("012") == "" and agent_of_extension("01ana") == ""


async def test_a_ring_is_one_redirect_once_the_agents_constants_are_set(ami: tuple[ScriptedAmi, AmiClient]) -> None:  # noqa: F811
    server, client = ami
    control = AsteriskCallControl(client, record_dir="/rec")
    await control.ring("PJSIP/c-1", "c1", "ana", "PJSIP/agent1", 10)
    first = actions(server)
    assert first == [
        ("Setvar", {"Variable": "ACD_AGENT_ENDPOINT_ana", "Value": "PJSIP/agent1"}),
        ("Setvar", {"Variable": "ACD_RECORD_DIR", "Value": "/rec"}),
        ("Redirect", {"Channel": "PJSIP/c-1", "Context": "acd-agent", "Exten": "012ana", "Priority": "1"}),
    ]
    server.received.clear()
    await control.ring("PJSIP/c-2", "c2", "ana", "PJSIP/agent1", 10)
    await control.ring("PJSIP/c-3", "c3", "bruno", "PJSIP/agent2", 15)
    assert actions(server) == [
        ("Redirect", {"Channel": "PJSIP/c-2", "Context": "acd-agent", "Exten": "012ana", "Priority": "1"}),
        ("Setvar", {"Variable": "ACD_AGENT_ENDPOINT_bruno", "Value": "PJSIP/agent2"}),  # bruno's first ring
        ("Redirect", {"Channel": "PJSIP/c-3", "Context": "acd-agent", "Exten": "017bruno", "Priority": "1"}),
    ]
    server.received.clear()
    await control.ring("PJSIP/c-4", "c4", "ana", "PJSIP/agent9", 10)  # a routing reload moved ana
    assert [fields.get("Variable") for name, fields in actions(server) if name == "Setvar"] == ["ACD_AGENT_ENDPOINT_ana"]


async def test_a_missing_endpoint_global_reported_by_the_dialplan_sets_them_all_again(ami: tuple[ScriptedAmi, AmiClient]) -> None:  # noqa: F811
    server, client = ami
    control = AsteriskCallControl(client)
    await control.ring("PJSIP/c-1", "c1", "ana", "PJSIP/agent1", 10)
    facts = control.events().__aiter__()
    await server.push(event("UserEvent", UserEvent="AcdRingFailed", CallId="c1", DialStatus="NOENDPOINT"))
    fact = await facts.__anext__()
    assert fact == RingFailed(call_id="c1", status="NOENDPOINT")  # the router re-offers the call
    server.received.clear()
    await control.ring("PJSIP/c-1", "c1", "ana", "PJSIP/agent1", 10)
    assert [name for name, _ in actions(server)] == ["Setvar", "Setvar", "Redirect"]
    await facts.aclose()


async def test_a_new_ami_connection_sets_the_constants_again(ami: tuple[ScriptedAmi, AmiClient]) -> None:  # noqa: F811
    server, client = ami
    control = AsteriskCallControl(client)
    await control.ring("PJSIP/c-1", "c1", "ana", "PJSIP/agent1", 10)
    client.stats.connects += 1  # what a reconnection (maybe to a restarted Asterisk) does
    server.received.clear()
    await control.ring("PJSIP/c-2", "c2", "ana", "PJSIP/agent1", 10)
    assert [name for name, _ in actions(server)] == ["Setvar", "Setvar", "Redirect"]


def test_resync_reads_the_ringing_agent_from_the_extension_before_an_older_variable() -> None:
    fields = {
        "Event": "Status", "Uniqueid": "c1", "Channel": "PJSIP/c-1", "Context": "acd-agent", "Exten": "012bruno", "Application": "Dial",
        "Variable": "ACD_CALL_ID=c1\nACD_QUEUE=general\nACD_AGENT_ID=ana",  # ana: a customer-first leg's earlier agent
    }
    found = channel_status(AmiMessage(fields))
    assert (found.role, found.agent_id) == ("agent", "bruno")
    assert channel_status(AmiMessage({**fields, "Exten": "s"})).agent_id == "ana"  # a callback leg in s
