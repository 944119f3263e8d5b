"""Fewer AGI round trips per call: the hold labels in one ``EXEC MSet``, no language set
that the channel already has, and (the session) no Task per command.

Each round trip costs the engine a write, a read and a wake-up, and Asterisk the same;
a caller through IVR and queue made about nine of them.
"""

from __future__ import annotations

import asyncio

import pytest

from acd.asterisk.agi_channel import AgiChannel
from acd.asterisk.agi_protocol import AgiRequest, AgiResponse
from acd.asterisk.fastagi import AgiSession, AgiTimeout


class RecordingSession:
    """Stands in for the session: records each command, answers ``200 result=<result>``."""

    def __init__(self, language: str = "es", result: str = "0") -> None:
        self.request = AgiRequest(env={"agi_uniqueid": "1.1", "agi_channel": "PJSIP/c-1", "agi_language": language}, route="ivr", params={}, args=())
        self.sent: list[tuple[str, ...]] = []
        self.result = result

    async def command(self, command: str, *args: str, timeout_s: float | None = None) -> AgiResponse:
        self.sent.append((command, *args))
        return AgiResponse(code=200, result=self.result)


def channel(session: RecordingSession) -> AgiChannel:
    return AgiChannel(session)  # type: ignore[arg-type]


async def test_labels_go_in_one_mset_and_an_empty_value_on_its_own() -> None:
    session = RecordingSession()
    await channel(session).set_variables({"ACD_CALL_ID": "1796.12", "ACD_QUEUE": "ventas-2", "ACD_WAIT_ORIGIN": "1796.500", "ACD_PRIORITY": ""})
    assert session.sent == [
        ("EXEC", "MSet", "ACD_CALL_ID=1796.12,ACD_QUEUE=ventas-2,ACD_WAIT_ORIGIN=1796.500"),
        ("SET VARIABLE", "ACD_PRIORITY", ""),
    ]


@pytest.mark.parametrize("value", ["a,b", "a=b", 'say "hi"', "back\\slash", "${EVIL}", "two words"])
def test_a_value_mset_would_misread_is_set_on_its_own(value: str) -> None:
    session = RecordingSession()
    asyncio.run(channel(session).set_variables({"ACD_CALL_ID": "1.1", "ACD_QUEUE": value}))
    assert session.sent == [("SET VARIABLE", "ACD_CALL_ID", "1.1"), ("SET VARIABLE", "ACD_QUEUE", value)]


async def test_without_mset_every_variable_is_still_set() -> None:
    session = RecordingSession(result="-2")  # "no such application"
    await channel(session).set_variables({"ACD_CALL_ID": "1.1", "ACD_QUEUE": "q"})
    assert session.sent[1:] == [("SET VARIABLE", "ACD_CALL_ID", "1.1"), ("SET VARIABLE", "ACD_QUEUE", "q")]


async def test_the_language_the_channel_already_has_is_not_set_again() -> None:
    session = RecordingSession(language="es")
    agi = channel(session)
    await agi.set_language("es")
    assert session.sent == []
    await agi.set_language("en")
    await agi.set_language("en")
    await agi.set_language("es")
    assert session.sent == [("SET VARIABLE", "CHANNEL(language)", "en"), ("SET VARIABLE", "CHANNEL(language)", "es")]


async def test_a_silent_asterisk_still_times_a_command_out() -> None:
    reader = asyncio.StreamReader()
    writes: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            writes.append(data)

        async def drain(self) -> None:
            return None

    request = AgiRequest(env={}, route="ivr", params={}, args=())
    session = AgiSession(request, reader, Writer(), read_timeout_s=0.05)  # type: ignore[arg-type]
    with pytest.raises(AgiTimeout, match="no answer to ANSWER within 0.1 s"):
        await session.command("ANSWER")
    reader.feed_data(b"200 result=0\n")
    assert (await session.command("ANSWER", timeout_s=1)).result_int == 0
