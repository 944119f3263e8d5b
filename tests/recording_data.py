"""Recorded calls for tests: the events the engine writes and real audio files beside them.

``seed(folder, calls)`` writes, for each :class:`Recorded`, what a real recorded call
leaves: ``call.started`` (number masked, pseudonym under a real privacy key in
``folder``), ``call.answered``, ``recording.started`` and ``recording.finished`` (through
the same :func:`~acd.features.recordings.storage.store_finished` the engine uses, so a
call is compressed and checksummed as in production) into ``folder/acd.sqlite``, with the
audio in ``folder/recordings``.  A call with ``seconds=0`` leaves a header-only WAV.
"""

from __future__ import annotations

import array
import asyncio
import math
import wave
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from acd.base.events import Event
from acd.features.recordings.files import wav_duration_s
from acd.features.recordings.storage import store_finished
from acd.metrics.store import EventStore
from acd.privacy import Pseudonyms


@dataclass(frozen=True)
class Recorded:
    call_id: str
    number: str
    agent: str
    queue: str
    ts: float
    seconds: float = 3.0
    disposition: str | None = None  # the agent's wrap-up code, if any


def write_wav(path: Path, seconds: float, *, hz: float = 440.0) -> None:
    """8 kHz 16-bit mono with a tone (so an encoder has something to encode)."""
    frames = int(8000 * seconds)
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * hz * i / 8000)) for i in range(frames)))
    with closing(wave.open(str(path), "wb")) as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(samples.tobytes())


async def _seed(folder: Path, calls: list[Recorded], codec: str) -> None:
    recordings = folder / "recordings"
    recordings.mkdir(parents=True, exist_ok=True)
    names = Pseudonyms.load(folder, create=True, environ={})
    store = await EventStore.open(folder / "acd.sqlite")
    try:
        for call in calls:
            wav = recordings / f"{call.call_id}.wav"
            write_wav(wav, call.seconds)
            duration = wav_duration_s(wav)
            finished = {"duration_s": duration, **store_finished(wav, duration, codec)}
            for event in (
                Event(type="call.started", ts=call.ts, call_id=call.call_id, data=names.caller(call.number)),
                Event(type="call.answered", ts=call.ts + 5, call_id=call.call_id, agent_id=call.agent, queue=call.queue),
                Event(type="recording.started", ts=call.ts + 5, call_id=call.call_id, agent_id=call.agent, queue=call.queue,
                      data={"path": str(wav), "queue": call.queue}),
                Event(type="call.completed", ts=call.ts + 5 + call.seconds, call_id=call.call_id, agent_id=call.agent, queue=call.queue),
                Event(type="recording.finished", ts=call.ts + 6 + call.seconds, call_id=call.call_id, agent_id=call.agent, data=finished),
                *([Event(type="call.disposition", ts=call.ts + 7 + call.seconds, call_id=call.call_id, agent_id=call.agent, queue=call.queue,
                         data={"code": call.disposition, "result": "resolved", "by": call.agent})] if call.disposition else []),
            ):
                store.append(event)
        await store.flush()
    finally:
        await store.close()


def seed(folder: Path, calls: list[Recorded], *, codec: str = "opus") -> None:
    """Synchronous, from any thread (Playwright's sync API keeps a loop running in the test's thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _seed(folder, calls, codec)).result()


def around_now(tz: str = "America/Santiago") -> dict[str, str]:
    """``from``/``to`` dates around today (local), so a search finds calls just made whatever the week or hour."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(tz)).date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=2)).isoformat()}
