"""Supervisor monitoring proven at the RTP level on the lab (Asterisk 22 ChanSpy, sipp phones).

sipp cannot say what audio it received, so the phones whose ears matter offer a test
socket in their SDP (:class:`acd.lab.rtp_probe.RtpProbe`):

* **listen**: while the agent's phone speaks (a G.711 recording), the supervisor's phone,
  which sends nothing, receives speech RTP — the call's audio through ChanSpy;
* **barge**: once the agent has stopped speaking (its phone goes on sending silent frames,
  as real phones do: Asterisk mixes a barge only into frames that flow), the caller (who
  sends nothing) receives no speech for a while — then the barging supervisor's phone
  speaks and the caller receives speech RTP: the supervisor's voice, which only the barge
  can carry.

Nobody is logged in by configuration: the agent dials ``*45``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from acd.api.http import create_api
from acd.api.lag import LoopLagProbe
from acd.api.tally import EventTally
from acd.lab.rtp_probe import RtpProbe, speech_then_silence
from acd.lab.sipp import AUDIO_PCAP, PCAP_DIR, AwaitHangup
from tests.lab.acd_fixtures import running_app, wait_for

pytestmark = pytest.mark.lab
TOKEN = "automation-token-rtp"
AGENT_SPEAKS_S = 8.0  # the length of sipp's G.711 recording (acd.lab.sipp.AUDIO_PCAP)


def timeline(ears: RtpProbe, origin: float, *, speech: bool = True) -> dict[int, int]:
    """Speech packets (or all packets) per whole second since ``origin`` (for a failure's message)."""
    counts: dict[int, int] = {}
    for packet in ears.packets:
        if packet.speech or not speech:
            second = int(packet.at - origin)
            counts[second] = counts.get(second, 0) + 1
    return counts


async def test_the_supervisor_hears_the_call_and_the_caller_hears_the_barging_supervisor(lab, sipp, tmp_path: Path) -> None:  # noqa: ANN001
    supervisor_ears, caller_ears = await RtpProbe.open(), await RtpProbe.open()
    try:
        async with running_app(lab, tmp_path) as (app, sink):
            login = await sipp.start_callers("code-45", [AwaitHangup(15)], calls=[("*45", "agent2")], from_user="agent2")
            assert (await login.wait(20)).ok
            await wait_for(sink, lambda e: e.type == "agent.state" and e.agent_id == "bruno" and e.data["state"] == "available", 10)
            api = create_api(app, token=TOKEN, tally=EventTally(app.stats.clock), lag=LoopLagProbe())
            client = httpx.AsyncClient(transport=httpx.ASGITransport(api), base_url="http://127.0.0.1", headers={"authorization": f"Bearer {TOKEN}"})

            speech = speech_then_silence(PCAP_DIR / AUDIO_PCAP, tmp_path / "agent.pcap", silence_s=30)
            agent = await sipp.start_agent("bruno", lab.agent_port(2), answer_after_s=0.3, talk_s=24, audio=speech)
            caller = await sipp.start_callers("caller", [AwaitHangup(60)], calls=[("300", "56911110009")], rtp_to=caller_ears.port)
            await wait_for(sink, lambda e: e.type == "call.answered" and e.agent_id == "bruno", 20)
            answered_at = time.monotonic()

            listener = await sipp.start_agent("sofia-listen", lab.agent_port(6), answer_after_s=0.2, talk_s=4, rtp_to=supervisor_ears.port)
            listen_asked = time.monotonic()
            response = await client.post("/api/agents/bruno/monitor", json={"mode": "listen", "supervisor": "PJSIP/agent6"})
            assert response.status_code == 200, response.text
            assert (await listener.wait(20)).ok
            heard = supervisor_ears.count(listen_asked)
            assert heard >= 50, f"the listening supervisor got {heard} speech RTP packets (20 ms each) of the call"

            await asyncio.sleep(max(0.0, answered_at + AGENT_SPEAKS_S + 1.5 - time.monotonic()))  # the agent has stopped speaking
            quiet_from = time.monotonic()
            await asyncio.sleep(2.0)
            quiet = caller_ears.count(quiet_from)
            barger = await sipp.start_agent("sofia-barge", lab.agent_port(6), answer_after_s=0.2, talk_s=8, audio=True)  # 8 s: margin for ChanSpy to attach under load
            barge_asked = time.monotonic()
            response = await client.post("/api/agents/bruno/monitor", json={"mode": "barge", "supervisor": "PJSIP/agent6"})
            assert response.status_code == 200, response.text
            await asyncio.sleep(3.0)  # the supervisor answered (0.2 s) and speaks: what carries the call now
            carriers = [await asyncio.to_thread(lab.cli, command) for command in ("bridge show all", "core show channels concise")]
            assert (await barger.wait(20)).ok
            barged = caller_ears.count(barge_asked)
            seen = (
                f"caller's speech packets per second from the answer: {timeline(caller_ears, answered_at)}, "
                f"all its packets: {timeline(caller_ears, answered_at, speech=False)}, "
                f"barge asked at {barge_asked - answered_at:.1f} s; Asterisk's bridges and channels 3 s into the barge:\n{''.join(carriers)}"
            )
            assert quiet <= 5, f"the caller got {quiet} speech packets while nobody spoke: the barge proof would mean nothing; {seen}"
            assert barged >= 50, f"the caller got {barged} speech RTP packets from the barging supervisor; {seen}"
            modes = [(e.data["mode"], e.data["by"]) for e in sink.events if e.type == "supervisor.monitor"]
            assert modes == [("listen", "api-token"), ("barge", "api-token")]
            await client.aclose()
            results = [await caller.wait(40), await agent.wait(40)]
            assert all(r.ok for r in results), [r.describe() for r in results]
            print(f"RTP: supervisor heard {heard} speech packets listening; caller {quiet} while quiet, {barged} during the barge")
    finally:
        supervisor_ears.close()
        caller_ears.close()
