"""Shared helpers: flows from inline YAML, a runner wired to a fake clock and recorder."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.ivr.channel import Channel
from acd.ivr.handoff import QueueRequest
from acd.ivr.loader import load_flow_file
from acd.ivr.model import Flow
from acd.ivr.runner import FlowRunner
from acd.ivr.testing import EventRecorder, FakeClock

SANTIAGO = ZoneInfo("America/Santiago")
REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "ivr_flows"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def flow_from(folder: Path, text: str, name: str = "flow.yaml") -> Flow:
    loaded = load_flow_file(write(folder, name, text))
    assert loaded.problems == (), [str(p) for p in loaded.problems]
    assert loaded.flow is not None
    return loaded.flow


@dataclass
class RecordingHandoff:
    requests: list[QueueRequest] = field(default_factory=list)
    fail_with: Exception | None = None

    async def enqueue(self, channel: Channel, request: QueueRequest) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.requests.append(request)


@dataclass
class Harness:
    clock: FakeClock
    events: EventRecorder
    handoff: RecordingHandoff
    runner: FlowRunner


@pytest.fixture
def harness() -> Harness:
    """A runner at Tuesday 2025-03-04 10:00 in Santiago (business hours)."""
    clock = FakeClock(datetime(2025, 3, 4, 10, 0, tzinfo=SANTIAGO))
    events = EventRecorder()
    handoff = RecordingHandoff()
    return Harness(clock, events, handoff, FlowRunner(emit=events, clock=clock, handoff=handoff))
