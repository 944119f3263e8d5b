"""The runtime form of a flow: immutable plain dataclasses the runner walks.

The YAML schema (``acd.ivr.schema``) accepts the friendly spellings ops staff write
(``prompt: x`` or a list, hours as text, holidays in a file); compiling turns them into
these exact, already-checked values, so the runner never re-validates anything and a
call in progress can keep its ``Flow`` object however often the files change.

Each node lists its targets and prompts together with the path of the YAML value they
came from, so validation problems point at the exact line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal, Mapping, Union

from acd.base.schedule import Schedule
from acd.yamlpos import PositionedDocument, Problem

RelPath = tuple[str | int, ...]
Prompts = tuple[str, ...]
DTMF_KEYS = "0123456789*#"


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A reference from a node to another node of the same flow."""

    label: str
    target: str
    path: RelPath


@dataclass(frozen=True, slots=True)
class PromptRef:
    prompt: str
    path: RelPath


def _prompt_refs(prompts: Prompts, base: RelPath) -> list[PromptRef]:
    return [PromptRef(prompt, base + (index,)) for index, prompt in enumerate(prompts)]


@dataclass(frozen=True, slots=True)
class PlayNode:
    kind: ClassVar[str] = "play"
    waits_for_input: ClassVar[bool] = False
    name: str
    prompts: Prompts
    interruptible: bool
    next: str

    def targets(self) -> list[TargetRef]:
        return [TargetRef("next", self.next, ("next",))]

    def prompt_refs(self) -> list[PromptRef]:
        return _prompt_refs(self.prompts, ("prompt",))


@dataclass(frozen=True, slots=True)
class MenuNode:
    kind: ClassVar[str] = "menu"
    waits_for_input: ClassVar[bool] = True
    name: str
    prompts: Prompts
    keys: tuple[tuple[str, str], ...]  # (DTMF key, target node)
    timeout: float
    retries: int
    invalid: Prompts
    no_input: Prompts
    fallback: str

    def target_for(self, key: str) -> str | None:
        for candidate, target in self.keys:
            if candidate == key:
                return target
        return None

    def targets(self) -> list[TargetRef]:
        refs = [TargetRef(key, target, ("keys", key)) for key, target in self.keys]
        refs.append(TargetRef("fallback", self.fallback, ("fallback",)))
        return refs

    def prompt_refs(self) -> list[PromptRef]:
        return (
            _prompt_refs(self.prompts, ("prompt",))
            + _prompt_refs(self.invalid, ("invalid",))
            + _prompt_refs(self.no_input, ("no_input",))
        )


Validator = Literal["numeric", "rut", "regex", "any"]


@dataclass(frozen=True, slots=True)
class CollectNode:
    kind: ClassVar[str] = "collect"
    waits_for_input: ClassVar[bool] = True
    name: str
    prompts: Prompts
    save_as: str
    min_digits: int
    max_digits: int
    terminator: str | None
    timeout: float  # for the first key, after the prompt
    inter_digit_timeout: float
    total_timeout: float
    validate: Validator
    pattern: re.Pattern[str] | None
    retries: int
    invalid: Prompts
    no_input: Prompts
    next: str
    fallback: str

    def targets(self) -> list[TargetRef]:
        return [TargetRef("next", self.next, ("next",)), TargetRef("fallback", self.fallback, ("fallback",))]

    def prompt_refs(self) -> list[PromptRef]:
        return (
            _prompt_refs(self.prompts, ("prompt",))
            + _prompt_refs(self.invalid, ("invalid",))
            + _prompt_refs(self.no_input, ("no_input",))
        )


@dataclass(frozen=True, slots=True)
class ScheduleNode:
    kind: ClassVar[str] = "schedule"
    waits_for_input: ClassVar[bool] = False
    name: str
    schedule: Schedule
    open: str
    closed: str
    holiday: str
    holiday_given: bool

    def targets(self) -> list[TargetRef]:
        refs = [TargetRef("open", self.open, ("open",)), TargetRef("closed", self.closed, ("closed",))]
        if self.holiday_given:
            refs.append(TargetRef("holiday", self.holiday, ("holiday",)))
        return refs

    def prompt_refs(self) -> list[PromptRef]:
        return []


ConditionKind = Literal["equals", "in", "regex", "prefix"]


@dataclass(frozen=True, slots=True)
class Condition:
    kind: ConditionKind
    values: tuple[str, ...]
    pattern: re.Pattern[str] | None
    next: str

    def matches(self, value: str) -> bool:
        if self.kind == "regex":
            return self.pattern is not None and self.pattern.search(value) is not None
        if self.kind == "prefix":
            return any(value.startswith(prefix) for prefix in self.values)
        return value in self.values

    def describe(self) -> str:
        if self.kind == "regex" and self.pattern is not None:
            return f"regex {self.pattern.pattern}"
        if self.kind == "equals":
            return f"= {self.values[0]}"
        return f"{self.kind} {', '.join(self.values)}"


@dataclass(frozen=True, slots=True)
class BranchNode:
    kind: ClassVar[str] = "branch"
    waits_for_input: ClassVar[bool] = False
    name: str
    on: str
    cases: tuple[Condition, ...]
    default: str

    def targets(self) -> list[TargetRef]:
        refs = [TargetRef(case.describe(), case.next, ("cases", index, "next")) for index, case in enumerate(self.cases)]
        refs.append(TargetRef("default", self.default, ("default",)))
        return refs

    def prompt_refs(self) -> list[PromptRef]:
        return []


@dataclass(frozen=True, slots=True)
class SetNode:
    kind: ClassVar[str] = "set"
    waits_for_input: ClassVar[bool] = False
    name: str
    variables: tuple[tuple[str, str], ...]  # (name, template)
    next: str

    def targets(self) -> list[TargetRef]:
        return [TargetRef("next", self.next, ("next",))]

    def prompt_refs(self) -> list[PromptRef]:
        return []


@dataclass(frozen=True, slots=True)
class QueueNode:
    kind: ClassVar[str] = "queue"
    waits_for_input: ClassVar[bool] = False
    name: str
    queue: str | None
    skills: tuple[str, ...]
    priority: int
    attach: tuple[tuple[str, str], ...]  # (name, template)
    prompts: Prompts
    fallback: str | None
    personal: frozenset[str] = frozenset()  # attached fields the flow marks personal (beyond collected data)

    def targets(self) -> list[TargetRef]:
        return [TargetRef("fallback", self.fallback, ("fallback",))] if self.fallback else []

    def prompt_refs(self) -> list[PromptRef]:
        return _prompt_refs(self.prompts, ("prompt",))


@dataclass(frozen=True, slots=True)
class TransferNode:
    kind: ClassVar[str] = "transfer"
    waits_for_input: ClassVar[bool] = False
    name: str
    to: str  # template
    prompts: Prompts

    def targets(self) -> list[TargetRef]:
        return []

    def prompt_refs(self) -> list[PromptRef]:
        return _prompt_refs(self.prompts, ("prompt",))


@dataclass(frozen=True, slots=True)
class MessageNode:
    kind: ClassVar[str] = "message"
    waits_for_input: ClassVar[bool] = False
    name: str
    prompts: Prompts

    def targets(self) -> list[TargetRef]:
        return []

    def prompt_refs(self) -> list[PromptRef]:
        return _prompt_refs(self.prompts, ("prompt",))


@dataclass(frozen=True, slots=True)
class SurveyQuestion:
    name: str
    prompts: Prompts


@dataclass(frozen=True, slots=True)
class SurveyNode:
    kind: ClassVar[str] = "survey"
    waits_for_input: ClassVar[bool] = True
    name: str
    prompts: Prompts
    questions: tuple[SurveyQuestion, ...]
    timeout: float
    retries: int
    invalid: Prompts
    no_input: Prompts
    next: str

    def targets(self) -> list[TargetRef]:
        return [TargetRef("next", self.next, ("next",))]

    def prompt_refs(self) -> list[PromptRef]:
        refs = _prompt_refs(self.prompts, ("prompt",))
        for index, question in enumerate(self.questions):
            refs += _prompt_refs(question.prompts, ("questions", index, "prompt"))
        return refs + _prompt_refs(self.invalid, ("invalid",)) + _prompt_refs(self.no_input, ("no_input",))


@dataclass(frozen=True, slots=True)
class GotoNode:
    kind: ClassVar[str] = "goto"
    waits_for_input: ClassVar[bool] = False
    name: str
    flow: str
    node: str | None

    def targets(self) -> list[TargetRef]:
        return []

    def prompt_refs(self) -> list[PromptRef]:
        return []


@dataclass(frozen=True, slots=True)
class HangupNode:
    kind: ClassVar[str] = "hangup"
    waits_for_input: ClassVar[bool] = False
    name: str

    def targets(self) -> list[TargetRef]:
        return []

    def prompt_refs(self) -> list[PromptRef]:
        return []


Node = Union[
    PlayNode,
    MenuNode,
    CollectNode,
    ScheduleNode,
    BranchNode,
    SetNode,
    QueueNode,
    TransferNode,
    MessageNode,
    SurveyNode,
    GotoNode,
    HangupNode,
]


@dataclass(frozen=True, eq=False)
class Flow:
    """One validated flow file.  Immutable: a reload builds a new ``Flow``."""

    name: str
    version: str
    path: Path
    language: str
    fallback_language: str
    entry: str
    after_call: str | None
    numbers: tuple[str, ...]
    nodes: Mapping[str, Node]
    description: str | None = None
    dependencies: tuple[Path, ...] = ()
    source: PositionedDocument | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, MappingProxyType):
            object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))

    def problem_at(self, path: RelPath, message: str, *, key: bool = False) -> Problem:
        """A positioned problem in this flow's file (line 1 when the flow was built in code)."""
        if self.source is None:
            return Problem(str(self.path), 1, 1, message)
        return self.source.problem(path, message, key=key)
