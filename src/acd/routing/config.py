"""Routing configuration: skills, queues, agents, expansion rules — validated with positions.

Supervisors edit ``routing.yaml`` by hand, and a wrong skill name or an overflow loop
must be caught at load time with ``FILE:LINE:COL`` rather than discovered when a caller
waits forever.  Validation runs in two passes: pydantic (strict, ``extra="forbid"``)
checks shapes and ranges, then :func:`semantic_problems` checks what pydantic cannot see —
references between queues, skills and agents, duplicate ids and endpoints, overflow
cycles and the ordering of expansion rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from acd.bounds import PositiveSeconds, Seconds
from acd.yamlpos import DEFAULT_LIMITS, PositionedDocument, Problem, YamlLimits, load_yaml_file, load_yaml_text, pydantic_problems, sorted_problems

DEFAULT_SL_FORMULA: Final = "answered_within/(offered-short_abandons)"
SlFormula = Literal["answered_within/(offered-short_abandons)", "sl", "sl2"]
SL_FORMULAS: tuple[str, ...] = SlFormula.__args__  # type: ignore[attr-defined]

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 10

# \Z, not $: "$" also matches before a final newline, and "agent1\\n" must not pass.
_NAME = re.compile(r"^\w[\w.\-]*\Z")
_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/\S+\Z")

Proficiency = Annotated[int, Field(ge=MIN_PROFICIENCY, le=MAX_PROFICIENCY)]

_MODEL = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a name of letters, digits, '_', '-' or '.' (no spaces)")
    return value


class ServiceLevel(BaseModel):
    """The promise a queue is measured against: ``target`` of calls answered within ``threshold_s``."""

    model_config = _MODEL

    threshold_s: PositiveSeconds = 25.0
    target: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.75


class ExpansionRule(BaseModel):
    """From ``after_s`` in the queue on, accept agents down to ``min_proficiency``, or overflow.

    Like Asterisk's queuerules ``penaltychange`` or a TaskRouter workflow timeout: a call
    first waits for the best agents and widens its search as its wait grows.
    """

    model_config = _MODEL

    after_s: Seconds
    min_proficiency: Proficiency | None = None
    overflow: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> "ExpansionRule":
        if (self.min_proficiency is None) == (self.overflow is None):
            raise ValueError("a rule with exactly one of min_proficiency or overflow")
        return self


class WaitingPolicy(BaseModel):
    """What a caller hears while waiting: periodic position/estimate, and a callback offer."""

    model_config = _MODEL

    announce_every_s: PositiveSeconds | None = None  # None: music only
    announce_position: bool = True
    announce_estimate: bool = True
    callback_offer_after_s: Seconds | None = None  # offer "press 1 to be called back" when the estimate exceeds this
    callback_hours: dict[str, str] | None = None  # e.g. {mon-thu: "09:00-18:00", fri: "09:00-17:00"}; None = any time
    callback_max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    callback_retry_s: PositiveSeconds = 300.0
    # agent-first: ring the agent, then dial the customer; customer-first: dial the customer,
    # ring the agent (reserved meanwhile) once the customer answers (see acd.features.callbacks)
    callback_mode: Literal["agent-first", "customer-first"] = "agent-first"
    default_handle_s: PositiveSeconds = 180.0  # assumed handle time until calls have been measured

    @field_validator("callback_hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from acd.base.schedule import parse_ranges, parse_weekdays

        for days, ranges in (value or {}).items():
            for problem in (parse_weekdays(days), parse_ranges(str(ranges))):
                if isinstance(problem, str):
                    raise ValueError(problem)
        return value


class DispositionCode(BaseModel):
    """One code an agent may give a call of the queue: why the customer called, how it ended.

    ``code`` is what is stored and counted (a name, like skills); ``label`` what the agent
    reads; ``outcome`` groups codes in reports (e.g. ``resolved``, ``sale``, ``escalated``);
    ``digit`` lets the agent enter the code from the phone (``*48N``) during wrap-up.
    """

    model_config = _MODEL

    code: str
    label: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    outcome: str | None = None
    digit: Annotated[str, Field(pattern=r"^[0-9]$")] | None = None

    @field_validator("digit", mode="before")
    @classmethod
    def _digit_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9 else value

    @field_validator("code", "outcome")
    @classmethod
    def _valid_code(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)


class Dispositions(BaseModel):
    """A queue's wrap-up codes (Amazon Connect's after-call work codes, QueueMetrics' call outcomes).

    ``required``: after each call the agent stays in wrap-up until a code is entered (the
    queue's ``wrap_up_s`` does not end it); optional: wrap-up ends at ``wrap_up_s`` or as
    soon as a code is entered, whichever comes first.
    """

    model_config = _MODEL

    required: bool = False
    codes: Annotated[list[DispositionCode], Field(min_length=1, max_length=100)]

    def find(self, code: str) -> DispositionCode | None:
        return next((item for item in self.codes if item.code == code), None)


class QueueConfig(BaseModel):
    """One queue: what skills it needs and how long a caller may wait before it widens or overflows."""

    model_config = _MODEL

    name: str
    skills: Annotated[list[str], Field(min_length=1)]
    service_level: ServiceLevel = ServiceLevel()
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] = 0
    max_wait_s: PositiveSeconds | None = None
    overflow: str | None = None
    wrap_up_s: Seconds = 0.0
    ring_timeout_s: PositiveSeconds = 15.0
    short_abandon_s: Seconds = 5.0
    sl_formula: SlFormula = DEFAULT_SL_FORMULA
    expansion: list[ExpansionRule] = Field(default_factory=list)
    waiting: WaitingPolicy = WaitingPolicy()
    dispositions: Dispositions | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)


class AgentConfig(BaseModel):
    """A person who takes calls on ``endpoint`` (an Asterisk dial string such as ``PJSIP/agent1``)."""

    model_config = _MODEL

    id: str
    name: str
    endpoint: str
    skills: dict[str, Proficiency] = Field(default_factory=dict)
    pin: str | None = Field(None, pattern=r"^[0-9]{4,8}$", description="asked when the agent uses a feature code on the phone (4-8 digits)")
    team: str | None = Field(None, description="the team the agent belongs to (quality scores per team)")
    node: str | None = Field(None, description="the Asterisk server the agent's phone is on (settings' nodes); none: the first")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("team", "node")
    @classmethod
    def _valid_team(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("endpoint")
    @classmethod
    def _dial_string(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError("a dial string like PJSIP/agent1")
        return value

    def proficiency_for(self, skills: list[str] | tuple[str, ...]) -> int | None:
        """The agent's proficiency for a set of skills: the weakest of them, None if one is missing.

        A caller who needs billing *and* Spanish is only as well served as the agent's
        weaker of the two, so the minimum (not the mean) ranks agents for a queue.
        """
        levels = [self.skills.get(skill) for skill in skills]
        if not levels or any(level is None for level in levels):
            return None
        return min(level for level in levels if level is not None)


class RoutingConfig(BaseModel):
    """The whole routing file."""

    model_config = _MODEL

    timezone: str = "America/Santiago"
    skills: list[str]
    queues: list[QueueConfig]
    agents: list[AgentConfig] = Field(default_factory=list)
    #: digit an agent dials after the pause code (*46N) -> the pause reason recorded
    pause_reasons: dict[str, str] = Field(default_factory=dict)

    @field_validator("pause_reasons", mode="before")
    @classmethod
    def _reason_digits(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        checked = {}
        for digit, reason in value.items():
            key = str(digit)
            if not (len(key) == 1 and key.isdigit()):
                raise ValueError(f"{digit}: a pause reason is chosen by one digit, 0-9")
            checked[key] = _check_name(str(reason)) if isinstance(reason, str) else reason
        return checked

    def queue(self, name: str) -> QueueConfig | None:
        return next((queue for queue in self.queues if queue.name == name), None)

    def agent(self, agent_id: str) -> AgentConfig | None:
        return next((agent for agent in self.agents if agent.id == agent_id), None)

    def eligible_agents(self, queue: QueueConfig) -> dict[str, int]:
        """Agent id -> proficiency for every agent holding all of the queue's skills."""
        result: dict[str, int] = {}
        for agent in self.agents:
            level = agent.proficiency_for(queue.skills)
            if level is not None:
                result[agent.id] = level
        return result


def _first_line(doc: PositionedDocument, path: tuple[str | int, ...]) -> int:
    return doc.where(path)[0]


def _check_names(doc: PositionedDocument, items: list[str], path: tuple[str | int, ...], what: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(items):
        try:
            _check_name(name)
        except ValueError as exc:
            problems.append(doc.problem(path + (index,), f"{what} {name!r}: expected {exc}"))
        if name in seen:
            line = _first_line(doc, path + (seen[name],))
            problems.append(doc.problem(path + (index,), f"duplicate {what} {name!r} (first defined on line {line})"))
        else:
            seen[name] = index
    return problems


def _overflow_edges(queue: QueueConfig, index: int) -> list[tuple[str, tuple[str | int, ...]]]:
    edges: list[tuple[str, tuple[str | int, ...]]] = []
    if queue.overflow is not None:
        edges.append((queue.overflow, ("queues", index, "overflow")))
    for rule_index, rule in enumerate(queue.expansion):
        if rule.overflow is not None:
            edges.append((rule.overflow, ("queues", index, "expansion", rule_index, "overflow")))
    return edges


def _check_expansion(doc: PositionedDocument, queue: QueueConfig, index: int) -> list[Problem]:
    problems: list[Problem] = []
    previous_after: float | None = None
    # Before the first rule applies a call accepts any agent with the skills.
    widest = MIN_PROFICIENCY if queue.expansion and queue.expansion[0].after_s > 0 else None
    current_min = widest
    for rule_index, rule in enumerate(queue.expansion):
        path: tuple[str | int, ...] = ("queues", index, "expansion", rule_index)
        if previous_after is not None and rule.after_s <= previous_after:
            problems.append(
                doc.problem(path + ("after_s",), f"expansion rules must be in ascending after_s order: {rule.after_s:g} does not come after {previous_after:g}")
            )
        previous_after = rule.after_s
        if rule.overflow is not None and rule_index != len(queue.expansion) - 1:
            problems.append(doc.problem(path + ("overflow",), "an overflow rule must be the last expansion rule (the call leaves the queue)"))
        if rule.min_proficiency is not None:
            if current_min is not None and rule.min_proficiency > current_min:
                problems.append(
                    doc.problem(
                        path + ("min_proficiency",),
                        f"expansion may only widen: min_proficiency {rule.min_proficiency} is above the {current_min} already accepted"
                        + (" (any proficiency is accepted before the first rule)" if rule_index == 0 else ""),
                    )
                )
            current_min = rule.min_proficiency if current_min is None else min(current_min, rule.min_proficiency)
    return problems


def _check_dispositions(doc: PositionedDocument, queue: QueueConfig, index: int) -> list[Problem]:
    """A code or a phone digit given twice in one queue would make the agent's choice ambiguous."""
    if queue.dispositions is None:
        return []
    problems: list[Problem] = []
    codes: dict[str, int] = {}
    digits: dict[str, int] = {}
    for code_index, item in enumerate(queue.dispositions.codes):
        path: tuple[str | int, ...] = ("queues", index, "dispositions", "codes", code_index)
        if item.code in codes:
            line = _first_line(doc, path[:-1] + (codes[item.code], "code"))
            problems.append(doc.problem(path + ("code",), f"queue {queue.name!r}: duplicate disposition code {item.code!r} (first defined on line {line})"))
        else:
            codes[item.code] = code_index
        if item.digit is not None:
            if item.digit in digits:
                line = _first_line(doc, path[:-1] + (digits[item.digit], "digit"))
                problems.append(doc.problem(path + ("digit",), f"queue {queue.name!r}: digit {item.digit} already chooses another disposition (line {line})"))
            else:
                digits[item.digit] = code_index
    return problems


def _check_cycles(doc: PositionedDocument, config: RoutingConfig) -> list[Problem]:
    known = {queue.name for queue in config.queues}
    graph: dict[str, list[tuple[str, tuple[str | int, ...]]]] = {}
    for index, queue in enumerate(config.queues):
        graph.setdefault(queue.name, [])
        graph[queue.name].extend((target, path) for target, path in _overflow_edges(queue, index) if target in known and target != queue.name)
    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target, path in graph.get(name, []):
            if state.get(target) == 1:
                loop = trail[trail.index(target):] + [name, target]
                problems.append(doc.problem(path, "overflow cycle: " + " -> ".join(loop)))
            elif target not in state:
                visit(target, trail + [name])
        state[name] = 2

    for queue in config.queues:
        if queue.name not in state:
            visit(queue.name, [])
    return problems


def semantic_problems(config: RoutingConfig, doc: PositionedDocument) -> list[Problem]:
    """Cross-reference checks pydantic cannot express; positions come from ``doc``."""
    problems: list[Problem] = []
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(doc.problem(("timezone",), f"unknown timezone {config.timezone!r}: expected an IANA name such as America/Santiago"))
    problems += _check_names(doc, config.skills, ("skills",), "skill")
    skills = set(config.skills)
    queue_names = [queue.name for queue in config.queues]
    seen_queues: dict[str, int] = {}
    for index, queue in enumerate(config.queues):
        if queue.name in seen_queues:
            line = _first_line(doc, ("queues", seen_queues[queue.name], "name"))
            problems.append(doc.problem(("queues", index, "name"), f"duplicate queue {queue.name!r} (first defined on line {line})"))
        else:
            seen_queues[queue.name] = index
        for skill_index, skill in enumerate(queue.skills):
            if skill not in skills:
                problems.append(doc.problem(("queues", index, "skills", skill_index), f"queue {queue.name!r}: unknown skill {skill!r}"))
        if len(set(queue.skills)) != len(queue.skills):
            problems.append(doc.problem(("queues", index, "skills"), f"queue {queue.name!r}: a skill is listed twice"))
        for target, path in _overflow_edges(queue, index):
            if target == queue.name:
                problems.append(doc.problem(path, f"queue {queue.name!r} cannot overflow to itself"))
            elif target not in queue_names:
                problems.append(doc.problem(path, f"queue {queue.name!r}: overflow to unknown queue {target!r}"))
        if queue.overflow is not None and queue.max_wait_s is None:
            problems.append(doc.problem(("queues", index, "overflow"), f"queue {queue.name!r}: overflow needs max_wait_s (it says when to overflow)"))
        problems += _check_expansion(doc, queue, index)
        problems += _check_dispositions(doc, queue, index)
    problems += _check_cycles(doc, config)
    seen_ids: dict[str, int] = {}
    seen_endpoints: dict[str, int] = {}
    for index, agent in enumerate(config.agents):
        if agent.id in seen_ids:
            line = _first_line(doc, ("agents", seen_ids[agent.id], "id"))
            problems.append(doc.problem(("agents", index, "id"), f"duplicate agent id {agent.id!r} (first defined on line {line})"))
        else:
            seen_ids[agent.id] = index
        endpoint_key = agent.endpoint.lower()
        if endpoint_key in seen_endpoints:
            line = _first_line(doc, ("agents", seen_endpoints[endpoint_key], "endpoint"))
            problems.append(
                doc.problem(("agents", index, "endpoint"), f"agent {agent.id!r}: endpoint {agent.endpoint!r} already belongs to another agent (line {line})")
            )
        else:
            seen_endpoints[endpoint_key] = index
        for skill in agent.skills:
            if skill not in skills:
                problems.append(doc.problem(("agents", index, "skills", skill), f"agent {agent.id!r}: unknown skill {skill!r}", key=True))
    return problems


def validate_routing_data(data: Any, doc: PositionedDocument | None = None) -> tuple[RoutingConfig | None, list[Problem]]:
    """Validate already-parsed data; without ``doc`` every problem points at line 1 (synthetic configs)."""
    if doc is None:
        doc = PositionedDocument(file="<routing>", data=data)
    if not isinstance(data, dict):
        return None, [doc.problem((), "expected a mapping with skills, queues and agents")]
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        return None, sorted_problems(pydantic_problems(doc, exc))
    problems = semantic_problems(config, doc)
    return (None if problems else config), sorted_problems(problems)


def _from_document(doc: PositionedDocument | None, problems: list[Problem]) -> tuple[RoutingConfig | None, list[Problem]]:
    if doc is None:
        return None, problems
    config, more = validate_routing_data(doc.data, doc)
    problems = sorted_problems(problems + more)
    return (config if not problems else None), problems


def load_routing_config(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[RoutingConfig | None, list[Problem]]:
    """Load ``routing.yaml``; the config is None whenever there is any problem."""
    return _from_document(*load_yaml_file(path, limits))


def load_routing_text(text: str, file: str = "<routing>", limits: YamlLimits = DEFAULT_LIMITS) -> tuple[RoutingConfig | None, list[Problem]]:
    """Same as :func:`load_routing_config` for text already in memory (tests, control API uploads)."""
    return _from_document(*load_yaml_text(text, file, limits))
