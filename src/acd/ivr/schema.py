"""The flow file schema: what ops staff may write, as pydantic models.

Every model forbids unknown fields, so a typo (``timout:``) is an error at that key
rather than a silently ignored setting.  Field checks that need a friendly message raise
``ValueError`` whose text completes the sentence "found X, expected ..." produced by
``acd.yamlpos.pydantic_problems``.  Checks that need positions of mapping keys (DTMF keys,
weekday names) or other files (holidays) happen when compiling (``acd.ivr.compile``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

AUDIO_EXTENSIONS = (
    ".gsm", ".wav", ".wav16", ".ulaw", ".alaw", ".sln", ".sln16", ".g722", ".g729", ".mp3", ".ogg", ".siren7", ".siren14",
)  # fmt: skip

_NAME = re.compile(r"^[\w-]+$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROMPT = re.compile(r"^[\w./-]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]+)*$")
_NUMBER = re.compile(r"^[0-9A-Za-z+*#_-]+(?:\.\.\.)?$")


def _text(value: Any) -> Any:
    """Accept an unquoted whole number where text is expected (``to: 2001``).

    The flow loader has already turned numbers whose spelling matters (``0800``,
    ``+56``) back into their written text, so ``str(int)`` is exact here.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _one_or_many(value: Any) -> Any:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [_text(value)]
    return value


def _node_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a node name: letters, digits, '-' or '_'")
    return value


def _flow_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a flow name: letters, digits, '-' or '_'")
    return value


def _variable(value: str) -> str:
    if not _VARIABLE.match(value):
        raise ValueError("a variable name: letters, digits and '_', not starting with a digit")
    return value


def _prompt(value: str) -> str:
    if value.lower().endswith(AUDIO_EXTENSIONS):
        raise ValueError("a sound name without its file extension (Asterisk picks the format)")
    if not _PROMPT.match(value):
        raise ValueError("a sound name like 'vm-goodbye' or 'digits/1' (no spaces)")
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("an Asterisk language code such as 'es' or 'en'")
    return value


def _number(value: str) -> str:
    if not _NUMBER.match(value):
        raise ValueError("a dialed number such as \"100\", or a prefix ending in '...' such as \"600...\"")
    return value


def _terminator(value: Any) -> Any:
    if value is None:
        raise ValueError("'#', '*' or 'none'; write \"#\" in quotes, a bare # starts a comment")
    return value


def _some(value: Any) -> Any:
    if len(value) == 0:
        raise ValueError("at least one entry")
    return value


def _not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("some text")
    return value


NodeName = Annotated[str, AfterValidator(_node_name)]
FlowName = Annotated[str, AfterValidator(_flow_name)]
Variable = Annotated[str, AfterValidator(_variable)]
Text = Annotated[str, BeforeValidator(_text), AfterValidator(_not_empty)]
Template = Annotated[str, BeforeValidator(_text)]
Prompt = Annotated[str, AfterValidator(_prompt)]
Prompts = Annotated[tuple[Prompt, ...], BeforeValidator(_one_or_many), AfterValidator(_some)]
OptionalPrompts = Annotated[tuple[Prompt, ...], BeforeValidator(_one_or_many)]
Texts = Annotated[tuple[Text, ...], BeforeValidator(_one_or_many), AfterValidator(_some)]
Language = Annotated[str, AfterValidator(_language)]
Number = Annotated[str, BeforeValidator(_text), AfterValidator(_number)]
Seconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
Retries = Annotated[int, Field(ge=0, le=10)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class _Node(_Strict):
    description: str | None = None


class PlaySchema(_Node):
    type: Literal["play"]
    prompt: Prompts
    interruptible: bool = False
    next: NodeName


class MenuSchema(_Node):
    type: Literal["menu"]
    prompt: Prompts
    keys: Annotated[dict[str, NodeName], AfterValidator(_some)]
    timeout: Seconds = 5.0
    retries: Retries = 2
    invalid: OptionalPrompts = ()
    no_input: OptionalPrompts = ()
    fallback: NodeName


class CollectSchema(_Node):
    type: Literal["collect"]
    prompt: Prompts
    save_as: Variable
    validate_: Literal["numeric", "rut", "regex", "any"] = Field("numeric", alias="validate")
    regex: str | None = None
    min_digits: Annotated[int, Field(ge=1, le=64)] = 1
    max_digits: Annotated[int, Field(ge=1, le=64)] = 20
    terminator: Annotated[Literal["#", "*", "none"], BeforeValidator(_terminator)] = "#"
    timeout: Seconds = 5.0
    inter_digit_timeout: Seconds = 3.0
    total_timeout: Seconds = 30.0
    retries: Retries = 2
    invalid: OptionalPrompts = ()
    no_input: OptionalPrompts = ()
    next: NodeName
    fallback: NodeName


class ScheduleSchema(_Node):
    type: Literal["schedule"]
    timezone: str = "America/Santiago"
    hours: Annotated[dict[str, Texts], AfterValidator(_some)]
    holidays: Any = None  # a file name or a list of dates; checked when compiling
    open: NodeName
    closed: NodeName
    holiday: NodeName | None = None


class CaseSchema(_Strict):
    equals: Text | None = None
    in_: Texts | None = Field(None, alias="in")
    prefix: Texts | None = None
    regex: str | None = None
    next: NodeName


class BranchSchema(_Node):
    type: Literal["branch"]
    on: Annotated[str, AfterValidator(_not_empty)]
    cases: Annotated[list[CaseSchema], AfterValidator(_some)]
    default: NodeName


class SetSchema(_Node):
    type: Literal["set"]
    variables: Annotated[dict[str, Template], AfterValidator(_some)]
    next: NodeName


class QueueSchema(_Node):
    type: Literal["queue"]
    queue: Text | None = None
    skills: Texts | None = None
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    attach: Any = None  # a list of variable names or a mapping name -> template; checked when compiling
    personal: list[Variable] = []  # attached fields to mask in events besides those filled from collected data
    prompt: OptionalPrompts = ()
    fallback: NodeName | None = None


class TransferSchema(_Node):
    type: Literal["transfer"]
    to: Text
    prompt: OptionalPrompts = ()


class MessageSchema(_Node):
    type: Literal["message"]
    prompt: Prompts


class QuestionSchema(_Strict):
    name: Variable
    prompt: Prompts


class SurveySchema(_Node):
    type: Literal["survey"]
    prompt: OptionalPrompts = ()
    questions: Annotated[list[QuestionSchema], AfterValidator(_some)]
    timeout: Seconds = 5.0
    retries: Retries = 1
    invalid: OptionalPrompts = ()
    no_input: OptionalPrompts = ()
    next: NodeName


class GotoSchema(_Node):
    type: Literal["goto"]
    flow: FlowName
    node: NodeName | None = None


class HangupSchema(_Node):
    type: Literal["hangup"]


NODE_SCHEMAS: dict[str, type[_Node]] = {
    "play": PlaySchema,
    "menu": MenuSchema,
    "collect": CollectSchema,
    "schedule": ScheduleSchema,
    "branch": BranchSchema,
    "set": SetSchema,
    "queue": QueueSchema,
    "transfer": TransferSchema,
    "message": MessageSchema,
    "survey": SurveySchema,
    "goto": GotoSchema,
    "hangup": HangupSchema,
}
NODE_TYPES = tuple(sorted(NODE_SCHEMAS))


class FlowSchema(_Strict):
    """The top level of a flow file; ``nodes`` are validated one by one afterwards."""

    name: FlowName | None = None
    description: str | None = None
    language: Language = "es"
    fallback_language: Language = "en"
    numbers: list[Number] = Field(default_factory=list)
    entry: NodeName
    after_call: NodeName | None = None
    nodes: Annotated[dict[str, Any], AfterValidator(_some)]
