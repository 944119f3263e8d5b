"""No input makes the validator or the runner raise."""

from __future__ import annotations

import asyncio

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.ivr.registry import FlowRegistry
from acd.ivr.runner import FlowRunner
from acd.ivr.testing import FakeClock, HangUp, Press, ScriptedChannel, Silence
from acd.ivr.validate import validate_text
from acd.yamlpos import Problem

from .conftest import SAMPLES

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAMLISH = st.text(alphabet=st.sampled_from(list("abc:-[]{}#*&!|>'\"\n  0123456789.,%@`\t\\?") + ["\x00", "é", "\ufeff"]), max_size=200)

FIELDS = [
    "type", "prompt", "next", "keys", "timeout", "retries", "fallback", "hours", "open", "closed", "holiday",
    "holidays", "save_as", "validate", "regex", "min_digits", "max_digits", "terminator", "cases", "on", "default",
    "variables", "queue", "skills", "attach", "to", "questions", "flow", "node", "interruptible", "timezone",
]  # fmt: skip
TYPES = ["play", "menu", "collect", "schedule", "branch", "set", "queue", "transfer", "message", "survey", "goto", "hangup", "x"]
NAMES = st.sampled_from(["a", "b", "c", "fin", "1", "*"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 50), st.floats(allow_nan=True), NAMES, st.sampled_from(TYPES),
    st.sampled_from(["09:00-18:00", "25:00-26:00", "mon-fri", "rut", "regex", "([", "${x", "America/Santiago", "2025-02-30"]),
)  # fmt: skip
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS) | NAMES, inner, max_size=4), max_leaves=12)
NODES = st.dictionaries(NAMES, st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6).map(lambda d: {"type": "play", **d} if "type" not in d else d), max_size=5)
FLOWS = st.fixed_dictionaries(
    {"entry": NAMES, "nodes": NODES},
    optional={"name": NAMES, "after_call": NAMES, "numbers": VALUES, "language": VALUES, "surprise": VALUES},
)


def assert_problems(result: object) -> None:
    assert isinstance(result, list) and all(isinstance(p, Problem) for p in result)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert_problems(validate_text(data))


@FAST
@given(YAMLISH)
def test_random_yamlish_text_never_raises(text: str) -> None:
    assert_problems(validate_text(text))


@FAST
@given(FLOWS)
def test_random_flow_shaped_documents_never_raise(document: dict) -> None:
    assert_problems(validate_text(yaml.safe_dump(document, allow_unicode=True)))


def test_pathological_yaml_is_a_problem_not_a_crash() -> None:
    for text in ["[" * 3000, "a: &x [*x]", "a: \x07", "a: 2025-13-45", "a: 0800", "? [a]\n: 1", "a: !!python/object x"]:
        problems = validate_text(text)
        assert problems and all(isinstance(p, Problem) for p in problems), text


ACTIONS = st.lists(
    st.one_of(
        st.builds(Press, st.sampled_from(list("0123456789*#")), st.sampled_from([0.0, 0.5, 2.0, 7.0])),
        st.just(Silence()),
        st.just(HangUp()),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ACTIONS, st.integers(0, 7 * 24), st.sampled_from(["100", "199"]), st.booleans())
def test_sample_flows_survive_any_caller(script: list, hour: int, dialed: str, survey: bool) -> None:
    registry = FlowRegistry(SAMPLES)
    registry.load()
    clock = FakeClock(1_740_000_000 + hour * 3600)
    flow = registry.for_number(dialed)
    assert flow is not None
    runner = FlowRunner(clock=clock, flows=registry.snapshot())
    channel = ScriptedChannel(script, clock=clock, dialed=dialed, prompt_seconds=1.0)
    entry = flow.after_call if survey else None
    result = asyncio.run(runner.run(flow, channel, entry))
    assert result.action in {"queue", "transfer", "hangup", "caller-hangup"}
