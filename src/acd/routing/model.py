"""The router's runtime records: queues with their pools, agents and calls.

Kept apart from :mod:`acd.routing.router` so the event handlers read as behaviour while
the indexing lives here.  Each queue is precompiled from its configuration into an
ordered list of expansion steps and a single exit (overflow or time-out) so the hot path
does no parsing, and every queue holds:

* one agent pool per proficiency level (available agents, longest idle first), and
* one call pool per expansion step (waiting calls, highest priority then longest wait first).

An agent sits in the pools of every queue it is eligible for; a waiting call sits in
exactly one pool.  All deadlines are compared as absolute times computed the same way
(``entered + after_s``) so a timer firing at its deadline always sees its step as due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from acd.routing.config import MIN_PROFICIENCY, QueueConfig
from acd.routing.pools import AgentPool, Pool


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # ringing
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallState(StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"


@dataclass(slots=True, eq=False)
class QueueRuntime:
    cfg: QueueConfig
    name: str
    skills: tuple[str, ...]
    step_after: tuple[float, ...]
    step_min: tuple[int, ...]
    exit_after: float | None
    exit_to: str | None  # None with exit_after set: the call times out
    exit_reason: str  # "max-wait" | "expansion"
    # Copies of the (frozen) configuration's figures the hot path reads for every call:
    # a pydantic model's attributes go through its ``__getattr__`` hook, which costs as
    # much as a small function call.
    priority: int
    ring_timeout_s: float
    wrap_up_s: float
    disposition_required: bool = False  # wrap-up lasts until the agent enters a code
    agent_pools: list[tuple[int, AgentPool]] = field(default_factory=list)  # best proficiency first
    call_pools: list[Pool[Any]] = field(default_factory=list)  # one per step
    waiting: int = 0
    bit: int = 0  # this queue's bit in MatchingCore._waiting_bits and AgentRecord.queue_bits

    @classmethod
    def compile(cls, cfg: QueueConfig) -> "QueueRuntime":
        steps: list[tuple[float, int]] = []
        levels = [rule for rule in cfg.expansion if rule.min_proficiency is not None]
        if not levels or levels[0].after_s > 0:
            steps.append((0.0, MIN_PROFICIENCY))
        steps += [(rule.after_s, rule.min_proficiency) for rule in levels if rule.min_proficiency is not None]
        exits: list[tuple[float, str | None, str]] = [
            (rule.after_s, rule.overflow, "expansion") for rule in cfg.expansion if rule.overflow is not None
        ]
        if cfg.max_wait_s is not None:
            exits.append((cfg.max_wait_s, cfg.overflow, "max-wait"))
        # The earliest exit wins; on a tie the expansion rule (listed first) does.
        first_exit = min(exits, key=lambda item: item[0]) if exits else None
        return cls(
            cfg=cfg,
            name=cfg.name,
            skills=tuple(cfg.skills),
            step_after=tuple(after for after, _ in steps),
            step_min=tuple(level for _, level in steps),
            exit_after=first_exit[0] if first_exit else None,
            exit_to=first_exit[1] if first_exit else None,
            exit_reason=first_exit[2] if first_exit else "",
            priority=cfg.priority,
            ring_timeout_s=cfg.ring_timeout_s,
            wrap_up_s=cfg.wrap_up_s,
            disposition_required=cfg.dispositions is not None and cfg.dispositions.required,
            call_pools=[Pool() for _ in steps],
        )

    def exit_due(self, entered: float, at: float) -> bool:
        return self.exit_after is not None and entered + self.exit_after <= at

    def step_at(self, entered: float, at: float) -> int:
        """Index of the expansion step in force ``at`` for a call that entered at ``entered``."""
        after = self.step_after
        step = len(after) - 1
        while step > 0 and entered + after[step] > at:
            step -= 1
        return step

    def next_change(self, entered: float, step: int) -> float | None:
        """When a call in ``step`` next changes: its next step or the queue's exit."""
        candidates: list[float] = []
        if step + 1 < len(self.step_after):
            candidates.append(entered + self.step_after[step + 1])
        if self.exit_after is not None:
            candidates.append(entered + self.exit_after)
        return min(candidates) if candidates else None


@dataclass(slots=True, eq=False)
class AgentRecord:
    id: str
    name: str
    endpoint: str
    entries: list[tuple[QueueRuntime, int, AgentPool]]  # queue served, proficiency there, its pool
    lines: tuple[Any, ...] = ()  # those pools' deques (AgentPool.line), to join them all on becoming free
    queue_bits: int = 0  # the bits of those queues (QueueRuntime.bit)
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: float = 0.0
    idle_since: float = 0.0
    token: int = 0  # live availability token; 0 = in no pool
    timer_token: int = 0
    call: "CallRecord | None" = None  # ringing, talking or wrapping up
    pending: tuple[AgentState, str] | None = None  # pause/logout asked for during a call


@dataclass(slots=True, eq=False)
class CallRecord:
    id: str
    queue: QueueRuntime
    priority: int
    wait_origin: float
    entered: float  # when the call entered its current queue (expansion and max-wait count from here)
    seq: int
    attached: dict[str, Any]
    state: CallState = CallState.WAITING
    step: int = 0
    token: int = 0  # live pool token; 0 = in no pool
    timer_token: int = 0
    agent: AgentRecord | None = None
    answered_at: float = 0.0
    ring_timeout_s: float | None = None  # overrides the queue's until a ring goes unanswered (customer-first callbacks)

    def sort_key(self) -> tuple[int, float, int]:
        """Higher priority first, then the longest wait, then arrival order."""
        return (-self.priority, self.wait_origin, self.seq)
