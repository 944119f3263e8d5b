"""Request and response bodies of the control API.

These models *are* the contract: FastAPI derives ``/openapi.json`` from them, the CLI
reads the same field names, and schemathesis checks every response against them.
Times are UNIX seconds (float, UTC); durations end in ``_s``; ratios are 0..1 (``None``
when there is nothing to divide by yet, e.g. no call offered this interval).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Reasons end up in events, logs and reports: one short word or phrase, no control characters.
Reason = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:/-]+$", examples=["almuerzo"])]
#: Agent ids, call ids and queue names given to the API: no control characters (a line
#: break would reach AMI actions and logs).
ONE_LINE_ID = r"^[^\x00-\x1f\x7f]+$"
#: The routing configuration allows up to ±1,000,000; a supervisor's change stays within ±1000.
Priority = Annotated[int, Field(ge=-1000, le=1000, description="higher is served first")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorOut(_Out):
    """Every refusal (401, 404, 409) looks like this, so a client can name what was wrong."""

    error: Literal["unauthorized", "not_found", "conflict"]
    detail: str
    kind: Literal["agent", "call", "queue"] | None = None
    id: str | None = None


class RoutingReloadOut(_Out):
    """The answer to a routing reload: applied (what changed), unchanged, or rejected (why)."""

    status: Literal["applied", "unchanged", "rejected"]
    version: str = Field(description="first 12 hex digits of the file's SHA-256")
    changes: dict[str, list[str]] = Field(default_factory=dict, description="agents/queues/skills added, removed, changed")
    problems: list[str] = Field(default_factory=list, description="FILE:LINE:COL lines when rejected")


class AgentCountsOut(_Out):
    """Agents of a queue or skill by state (an agent serving several queues counts in each)."""

    logged_in: int
    available: int
    ringing: int
    on_call: int
    wrap_up: int
    paused: int


class AgentTotalsOut(AgentCountsOut):
    """Every configured agent, counted once."""

    logged_out: int


class FiguresOut(_Out):
    """One queue's or skill's figures over one period (the current quarter hour or the day)."""

    offered: int
    answered: int
    answered_within: int = Field(description="answered within the service-level threshold")
    abandoned: int
    short_abandons: int = Field(description="abandoned within short_abandon_s (not counted as offered)")
    overflowed_out: int
    timed_out: int
    handled: int = Field(description="answered calls whose talk and wrap-up are over")
    pending_within: int = Field(
        0, description="callers still waiting within the threshold: left out of the default service level until decided"
    )
    sl_formula: str
    service_level: float | None
    abandon_rate: float | None = Field(description="(abandoned - short_abandons) / (offered - short_abandons)")
    asa_s: float | None = Field(description="average speed of answer")
    aht_s: float | None = Field(description="average handle time: talk + hold + wrap-up")


class QueueOut(_Out):
    name: str
    skills: list[str]
    threshold_s: float
    target: float
    waiting: int = Field(description="callers not yet talking to an agent (ringing included)")
    longest_wait_s: float
    agents: AgentCountsOut
    interval: FiguresOut
    day: FiguresOut
    under_target: bool = Field(
        description="the current 15 minutes' service level is below target; while no call of these 15 minutes "
        "is decided yet, the day's (so a quarter-hour boundary never hides a bad day)"
    )


class SkillOut(_Out):
    """Demand and staffing per skill: the sum over the queues that require it."""

    name: str
    waiting: int
    longest_wait_s: float
    agents: AgentCountsOut
    interval: FiguresOut
    day: FiguresOut


class StatsOut(_Out):
    """One consistent picture for wallboards: every queue and skill at the same instant."""

    at: float
    site: str
    timezone: str
    interval_start: float
    interval_end: float
    day_start: float
    day_end: float
    ami_connected: bool = Field(description="AMI up; with several Asterisk servers, every one's")
    ami_nodes: dict[str, bool] | None = Field(None, description="several Asterisk servers: each one's AMI up or not")
    queues: list[QueueOut]
    skills: list[SkillOut]
    agents: AgentTotalsOut


AgentState = Literal["logged_out", "available", "reserved", "on_call", "wrap_up", "paused"]


class DispositionCodeOut(_Out):
    code: str
    label: str = Field(description="what the agent reads (the code itself when the file gives no label)")
    outcome: str | None
    digit: str | None = Field(description="entered from the phone as *48 followed by this digit")


class WrapUpOut(_Out):
    """The wrap-up an agent is in: the call to code and the codes its queue offers."""

    call_id: str
    queue: str
    required: bool = Field(description="the wrap-up lasts until a code is entered")
    codes: list[DispositionCodeOut]


class AgentOut(_Out):
    id: str
    name: str
    endpoint: str
    state: AgentState = Field(description="reserved = a call is ringing the agent")
    reason: str
    since: float = Field(description="when the agent entered this state")
    in_state_s: float
    call_id: str | None = Field(description="the call ringing, talking or being wrapped up")
    pending: str | None = Field(description="'paused:<reason>' or 'logged_out:<reason>' once the current call ends")
    skills: dict[str, int]
    queues: list[str] = Field(description="queues the agent can serve")
    handled_today: int = Field(description="conversations completed since local midnight")
    queue: str | None = Field(None, description="the queue of the call ringing, talking or being wrapped up")
    wrap_up: WrapUpOut | None = Field(None, description="in wrap-up for a queue with dispositions: the codes to choose from")


CallState = Literal["waiting", "ringing", "connected"]


class CallOut(_Out):
    id: str
    queue: str
    skills: list[str]
    state: CallState
    position: int | None = Field(description="1 = next to be served in its queue; None unless waiting")
    priority: int
    wait_origin: float
    waited_s: float = Field(description="since the caller's wait began (kept across overflow and restarts)")
    in_queue_s: float = Field(description="since the call entered its current queue")
    min_proficiency: int = Field(description="expansion step in force: lowest proficiency accepted now")
    agent_id: str | None
    talk_s: float | None = Field(description="connected calls: time since the agent answered")


class HealthOut(_Out):
    status: Literal["ok"]
    site: str
    ami_connected: bool = Field(description="AMI up; with several Asterisk servers, every one's")
    ami_nodes: dict[str, bool] | None = Field(None, description="several Asterisk servers: each one's AMI up or not")
    fastagi_active_sessions: int


class PauseIn(_In):
    reason: Reason = "pause"


class LogoutIn(_In):
    reason: Reason = "logout"


class PriorityIn(_In):
    priority: Priority


class DispositionIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\w[\w.\-]*$", description="one of the queue's disposition codes")]
    call_id: Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE_ID)] | None = Field(
        None, description="the call being coded: refused if the agent is wrapping up another one")
    by: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")] | None = Field(
        None, description="the console's account on whose behalf it codes (ACD_API_TOKEN only; a person's token is its own account)")


class MonitorIn(_In):
    mode: Literal["listen", "whisper", "barge"] = "listen"
    supervisor: Annotated[str, Field(min_length=3, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.+-]{1,64}$",
                                     description="the supervisor's phone, rung first (a dial string such as PJSIP/agent6)")]
    by: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")] | None = Field(
        None, description="the console's account on whose behalf it asks (ACD_API_TOKEN only; a person's token is its own account)")


class MonitorOut(_Out):
    agent_id: str
    call_id: str
    mode: str
    supervisor: str


class MoveIn(_In):
    queue: Annotated[str, Field(min_length=1, max_length=128, pattern=ONE_LINE_ID)]
