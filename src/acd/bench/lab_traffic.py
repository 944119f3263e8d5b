"""Real calls for a recording: the lab's Asterisk, the real engine, sipp callers and agents.

Used by :mod:`acd.bench.record_ami` to produce a stream worth replaying: callers go
through the FastAGI IVR into three queues (one with proficiency expansion, one that
overflows), eight sipp agent phones answer, talk and hang up, and some callers give up
while waiting, so the stream holds parks, rings, answers, completions and abandons.

The lab is addressed by *slot* exactly as the end-to-end tests do it
(``tests/lab/conftest.py``): slot N is lab ``testN`` with its own port block, so a
recording never disturbs a developer's lab or another test session.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from acd.checkout import lab_script
from acd.lab.sipp import AwaitHangup, Hangup, SippRunner, Wait

AGENTS = 8

ROUTING = """\
# Routing the engine ran while this stream was recorded (acd.bench.lab_traffic).
timezone: America/Santiago
skills: [compradores, proveedores, general]
queues:
  - name: compradores
    skills: [compradores]
    wrap_up_s: 1
    ring_timeout_s: 6
    expansion:
      - {after_s: 0, min_proficiency: 7}
      - {after_s: 5, min_proficiency: 1}
  - name: proveedores
    skills: [proveedores]
    wrap_up_s: 1
    ring_timeout_s: 6
    max_wait_s: 8
    overflow: general
  - name: general
    skills: [general]
    wrap_up_s: 1
    ring_timeout_s: 6
agents:
  - {id: ana,    name: Ana,    endpoint: PJSIP/agent1, skills: {compradores: 9, general: 5}}
  - {id: bruno,  name: Bruno,  endpoint: PJSIP/agent2, skills: {compradores: 6}}
  - {id: carla,  name: Carla,  endpoint: PJSIP/agent3, skills: {compradores: 2, proveedores: 8}}
  - {id: diego,  name: Diego,  endpoint: PJSIP/agent4, skills: {general: 8}}
  - {id: elena,  name: Elena,  endpoint: PJSIP/agent5, skills: {proveedores: 6, general: 6}}
  - {id: felipe, name: Felipe, endpoint: PJSIP/agent6, skills: {compradores: 8, proveedores: 3}}
  - {id: gloria, name: Gloria, endpoint: PJSIP/agent7, skills: {general: 7, compradores: 4}}
  - {id: hugo,   name: Hugo,   endpoint: PJSIP/agent8, skills: {proveedores: 9}}
"""

FLOW = """\
name: bench
numbers: ["300", "301", "302"]
entry: elegir
nodes:
  elegir:
    type: branch
    on: dialed
    cases:
      - {equals: "300", next: compradores}
      - {equals: "301", next: proveedores}
    default: general
  compradores: {type: queue, queue: compradores, fallback: fin}
  proveedores: {type: queue, queue: proveedores, fallback: fin}
  general: {type: queue, queue: general, fallback: fin}
  fin: {type: hangup}
"""

AGENT_IDS = ["ana", "bruno", "carla", "diego", "elena", "felipe", "gloria", "hugo"]


@dataclass(frozen=True)
class LabSlot:
    """Lab name and ports of a test slot (same formula as ``tests/lab/conftest.py``)."""

    slot: int

    @property
    def env(self) -> dict[str, str]:
        s = self.slot
        return {
            "ACD_LAB_NAME": f"test{s or ''}",
            "ACD_LAB_SIP_PORT": str(15060 + 200 * s),
            "ACD_LAB_AMI_PORT": str(15038 + 200 * s),
            "ACD_LAB_AGI_PORT": str(14573 + 200 * s),
            "ACD_LAB_AGENT_PORT": str(15080 + 200 * s),
            "ACD_LAB_AGENTS": str(AGENTS),
            "ACD_LAB_RTP_START": str(21000 + 1000 * s),
        }

    @property
    def name(self) -> str:
        return self.env["ACD_LAB_NAME"]

    def port(self, what: str) -> int:
        return int(self.env[f"ACD_LAB_{what}_PORT"])


class LabError(Exception):
    """The lab could not be started or used."""


def lab_command(slot: LabSlot, secret: str, *args: str, timeout_s: float = 900) -> str:
    env = {**os.environ, **slot.env, "ACD_AMI_SECRET": secret}
    result = subprocess.run([str(lab_script()), *args], env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise LabError(f"lab.sh {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip()


def new_secret() -> str:
    return secrets.token_hex(12)


def settings_text(slot: LabSlot, work: Path, lab_dir: Path) -> str:
    return (
        f"agi:\n  port: {slot.port('AGI')}\n"
        f"ami:\n  port: {slot.port('AMI')}\n"
        f"ivr:\n  flows_dir: {work / 'flows'}\n"
        f"routing:\n  config: {work / 'routing.yaml'}\n  auto_login: [{', '.join(AGENT_IDS)}]\n"
        f"metrics:\n  database: {work / 'acd.sqlite'}\n"
        f"recording:\n  asterisk_dir: /labs/{slot.name}/recordings\n  local_dir: {lab_dir / 'recordings'}\n"
        f"callbacks:\n  database: {work / 'callbacks.sqlite'}\n"
        "api:\n  enabled: false\n"
        "log:\n  level: warning\n"
    )


@dataclass(frozen=True)
class Traffic:
    """How many calls of each kind, and how fast they are placed."""

    calls: int = 300
    calls_per_s: float = 1.6
    impatient_share: float = 0.15
    answer_after_s: float = 0.6
    talk_s: float = 2.0


def caller_groups(traffic: Traffic) -> list[tuple[str, str, int, list]]:  # type: ignore[type-arg]
    """(name, dialed number, calls, sipp steps) per caller run; rates follow the shares."""
    impatient = round(traffic.calls * traffic.impatient_share)
    patient = traffic.calls - impatient
    shares = {"300": 0.45, "301": 0.33, "302": 0.22}
    groups: list[tuple[str, str, int, list]] = []  # type: ignore[type-arg]
    placed = 0
    for index, (number, share) in enumerate(shares.items()):
        count = patient - placed if index == len(shares) - 1 else round(patient * share)
        placed += count
        groups.append((f"callers-{number}", number, count, [AwaitHangup(120)]))
    groups.append(("impatient-300", "300", impatient, [Wait(3), Hangup()]))
    return groups


async def start_agents(sipp: SippRunner, slot: LabSlot, traffic: Traffic) -> None:
    """The eight agent phones; started before the engine, which checks its agents' devices."""
    for number, agent in enumerate(AGENT_IDS, start=1):
        await sipp.start_agent(agent, slot.port("AGENT") + number, calls=traffic.calls, answer_after_s=traffic.answer_after_s,
                               talk_s=traffic.talk_s, timeout_s=3600)


async def place_calls(sipp: SippRunner, traffic: Traffic) -> list[str]:
    """Place every call and wait for the callers; returns the problems sipp reported."""
    runs = []
    for name, number, count, steps in caller_groups(traffic):
        if count <= 0:
            continue
        rate = traffic.calls_per_s * count / traffic.calls
        numbers = [(number, f"569{index:08d}") for index in range(count)]
        # sipp paces fractional rates below one call per second slower than asked
        # (about 0.4x here), so the run's time limit leaves room for that.
        runs.append(await sipp.start_callers(name, steps, calls=numbers, rate=rate, timeout_s=4 * count / rate + 180))
    problems = []
    for run in runs:
        result = await run.wait(timeout_s=4 * traffic.calls / traffic.calls_per_s + 300)
        if not result.ok:
            problems.append(result.describe())
    await asyncio.sleep(3)  # the last wrap-ups end
    return problems
