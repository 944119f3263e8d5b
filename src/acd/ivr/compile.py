"""Turn validated node schemas into runtime nodes, checking what pydantic cannot.

These checks need the position of a mapping *key* (a DTMF key, a weekday name), another
file (the holiday calendar, resolved relative to the flow file) or several fields at once
(``min_digits`` against ``max_digits``).  Every problem is collected; compiling never stops
at the first one, and a node with any problem compiles to None.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from acd.ivr import model as m
from acd.ivr import schema as s
from acd.base.holiday_calendar import holidays_from_document
from acd.base.schedule import Holidays, Schedule, TimeRange, parse_holiday, parse_ranges, parse_weekdays
from acd.ivr.templates import template_problem
from acd.yamlpos import DEFAULT_LIMITS, YamlLimits, is_inside, load_yaml_bytes, read_limited
from acd.yamlpos import PositionedDocument, Problem, describe_found

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


MISSING = b"\0missing"


@dataclass
class Dependency:
    """A file a flow reads besides itself (a holiday calendar); part of the flow version."""

    path: Path
    content: bytes


@dataclass
class CompileContext:
    doc: PositionedDocument
    flow_dir: Path
    limits: YamlLimits = DEFAULT_LIMITS
    problems: list[Problem] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)

    def error(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> None:
        label = ".".join(str(part) for part in path)
        self.problems.append(self.doc.problem(path, f"{label}: {message}", key=key))


def precheck_node(kind: str, raw: dict[str, Any], name: str, ctx: CompileContext) -> dict[str, Any]:
    """Checks made on the raw mapping, so they run even when pydantic rejects another field.

    Returns values computed on the way (the parsed schedule) for ``compile_node``.
    """
    base = ("nodes", name)
    found: dict[str, Any] = {}
    if kind == "menu" and isinstance(raw.get("keys"), dict):
        for key in raw["keys"]:
            if len(key) != 1 or key not in m.DTMF_KEYS:
                ctx.error(base + ("keys", key), f"'{key}' is not a phone key; use one of 0-9, * or # (one key each)", key=True)
    if kind == "schedule":
        found["schedule"] = _schedule_of(raw, base, ctx)
    return found


def compile_node(schema: s._Node, name: str, ctx: CompileContext, found: dict[str, Any]) -> m.Node | None:
    before = len(ctx.problems)
    compiler: Callable[[Any, str, tuple[str, ...], CompileContext, dict[str, Any]], m.Node | None] = _COMPILERS[type(schema)]
    node = compiler(schema, name, ("nodes", name), ctx, found)
    return node if len(ctx.problems) == before else None


def raw_targets(kind: str, raw: dict[str, Any]) -> list[tuple[tuple[str | int, ...], Any]]:
    """(path, target) for every same-flow reference in a raw node, valid or not."""
    refs: list[tuple[tuple[str | int, ...], Any]] = [
        ((field_name,), raw[field_name])
        for field_name in ("next", "fallback", "open", "closed", "holiday", "default")
        if field_name in raw
    ]
    if kind == "menu" and isinstance(raw.get("keys"), dict):
        refs += [(("keys", key), target) for key, target in raw["keys"].items()]
    if kind == "branch" and isinstance(raw.get("cases"), list):
        refs += [
            (("cases", index, "next"), case["next"])
            for index, case in enumerate(raw["cases"])
            if isinstance(case, dict) and "next" in case
        ]
    return refs


def _play(sc: s.PlaySchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.PlayNode(name, sc.prompt, sc.interruptible, sc.next)


def _menu(sc: s.MenuSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.MenuNode(
        name, sc.prompt, tuple(sc.keys.items()), sc.timeout, sc.retries, sc.invalid, sc.no_input, sc.fallback
    )


def _collect(sc: s.CollectSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    if sc.min_digits > sc.max_digits:
        ctx.error(base + ("min_digits",), f"min_digits ({sc.min_digits}) is larger than max_digits ({sc.max_digits})")
    pattern = None
    if sc.validate_ == "regex":
        if sc.regex is None:
            ctx.error(base, "validate: regex needs a 'regex' field with the pattern the digits must match")
        else:
            pattern = _compile_regex(sc.regex, base + ("regex",), ctx)
    elif sc.regex is not None:
        ctx.error(base + ("regex",), "a regex is only used with 'validate: regex'", key=True)
    if sc.validate_ == "rut" and sc.terminator == "*":
        ctx.error(base + ("terminator",), "callers type the K of a RUT with '*'; use '#' as terminator")
    terminator = None if sc.terminator == "none" else sc.terminator
    return m.CollectNode(
        name=name,
        prompts=sc.prompt,
        save_as=sc.save_as,
        min_digits=sc.min_digits,
        max_digits=sc.max_digits,
        terminator=terminator,
        timeout=sc.timeout,
        inter_digit_timeout=sc.inter_digit_timeout,
        total_timeout=sc.total_timeout,
        validate=sc.validate_,
        pattern=pattern,
        retries=sc.retries,
        invalid=sc.invalid,
        no_input=sc.no_input,
        next=sc.next,
        fallback=sc.fallback,
    )


def _compile_regex(text: str, path: tuple[str | int, ...], ctx: CompileContext) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error as exc:
        ctx.error(path, f"bad regular expression: {exc}")
    except (RecursionError, OverflowError, ValueError) as exc:
        ctx.error(path, f"bad regular expression: {exc}")
    return None


def _schedule(sc: s.ScheduleSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.ScheduleNode(name, found["schedule"], sc.open, sc.closed, sc.holiday or sc.closed, sc.holiday is not None)


def _schedule_of(raw: dict[str, Any], base: tuple[str, ...], ctx: CompileContext) -> Schedule:
    """Hours, timezone and holidays; wrong types are left to pydantic, wrong values reported here."""
    timezone = raw.get("timezone", "America/Santiago")
    if isinstance(timezone, str) and not _timezone_exists(timezone):
        ctx.error(base + ("timezone",), f"unknown timezone '{timezone}'; use a name like America/Santiago")
    week: list[list[TimeRange]] = [[] for _ in range(7)]
    given_by: dict[int, str] = {}
    hours = raw.get("hours")
    for day_spec, texts in (hours.items() if isinstance(hours, dict) else ()):
        days = parse_weekdays(day_spec)
        if isinstance(days, str):
            ctx.error(base + ("hours", day_spec), days, key=True)
            continue
        spans: list[TimeRange] = []
        items = list(enumerate(texts)) if isinstance(texts, list) else [(None, texts)]
        for index, text in items:
            if not isinstance(text, str):
                continue
            parsed = parse_ranges(text)
            if isinstance(parsed, str):
                ctx.error(base + ("hours", day_spec) + (() if index is None else (index,)), parsed)
            else:
                spans.extend(parsed)
        for day in days:
            if day in given_by:
                ctx.error(base + ("hours", day_spec), f"'{day_spec}' repeats a day already given by '{given_by[day]}'", key=True)
                break
            given_by[day] = day_spec
            week[day].extend(spans)
    holidays = _holidays(raw.get("holidays"), base + ("holidays",), ctx)
    zone = timezone if isinstance(timezone, str) else "UTC"
    return Schedule(zone, tuple(tuple(sorted(day, key=lambda r: r.start)) for day in week), holidays)


def _timezone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for odd paths, OSError...
        return False
    return True


def _holidays(value: Any, path: tuple[str | int, ...], ctx: CompileContext) -> Holidays:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return _holiday_file(value, path, ctx)
    if isinstance(value, list):
        days = set()
        for index, item in enumerate(value):
            parsed = parse_holiday(item)
            if isinstance(parsed, str):
                ctx.error(path + (index,), parsed)
            else:
                days.add(parsed)
        return frozenset(days)
    ctx.error(path, f"found {describe_found(value)}, expected a holiday file name or a list of dates")
    return frozenset()


def _holiday_file(name: str, path: tuple[str | int, ...], ctx: CompileContext) -> Holidays:
    """Holiday calendar: a country's public holidays with local changes (``country:``), or dates.

    Only a file inside the flows folder (symlinks resolved): whoever may edit a flow must
    not be able to make the engine, or ``acd ivr validate``, read and quote any other file.
    """
    file = ctx.flow_dir / name
    if not is_inside(ctx.flow_dir, file):
        ctx.error(path, f"holiday file '{name}' is outside the flows folder; name a file inside it, e.g. calendars/feriados.yaml")
        return frozenset()
    try:
        content = read_limited(file, ctx.limits)
    except OSError as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else (exc.strerror or "unreadable")
        ctx.error(path, f"holiday file '{name}' {reason} (looked for {file})")
        ctx.dependencies.append(Dependency(file, MISSING))  # so creating it later is noticed
        return frozenset()
    ctx.dependencies.append(Dependency(file, content))
    doc, problems = load_yaml_bytes(content, str(file), ctx.limits)
    ctx.problems.extend(problems)
    if doc is None or problems:
        return frozenset()
    holidays, problems = holidays_from_document(doc)
    ctx.problems.extend(problems)
    return holidays if holidays is not None else frozenset()


def _branch(sc: s.BranchSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    on = sc.on
    if on.startswith("channel:"):
        if not on[len("channel:"):].strip():
            ctx.error(base + ("on",), "name the Asterisk channel variable after 'channel:', e.g. channel:CALLERID(name)")
    elif not _VARIABLE.match(on):
        ctx.error(base + ("on",), f"'{on}' is not a variable name; use caller, dialed, a variable you set, or channel:NAME")
    cases = []
    for index, case in enumerate(sc.cases):
        path = base + ("cases", index)
        given = [
            kind
            for kind, value in (("equals", case.equals), ("in", case.in_), ("prefix", case.prefix), ("regex", case.regex))
            if value is not None
        ]
        if len(given) != 1:
            found = "none" if not given else " and ".join(given)
            ctx.error(path, f"give exactly one of equals, in, prefix or regex (found {found})")
            continue
        kind = given[0]
        if kind == "regex":
            assert case.regex is not None
            pattern = _compile_regex(case.regex, path + ("regex",), ctx)
            cases.append(m.Condition("regex", (), pattern, case.next))
        elif kind == "equals":
            assert case.equals is not None
            cases.append(m.Condition("equals", (case.equals,), None, case.next))
        else:
            values = case.in_ if kind == "in" else case.prefix
            assert values is not None
            cases.append(m.Condition(kind, tuple(values), None, case.next))  # type: ignore[arg-type]
    return m.BranchNode(name, on, tuple(cases), sc.default)


def _set(sc: s.SetSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    for variable, template in sc.variables.items():
        if not _VARIABLE.match(variable):
            ctx.error(base + ("variables", variable), f"'{variable}' is not a variable name (letters, digits and '_')", key=True)
        _check_template(template, base + ("variables", variable), ctx)
    return m.SetNode(name, tuple(sc.variables.items()), sc.next)


def _check_template(template: str, path: tuple[str | int, ...], ctx: CompileContext) -> None:
    problem = template_problem(template)
    if problem is not None:
        ctx.error(path, problem)


def _queue(sc: s.QueueSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    if sc.queue is None and sc.skills is None:
        ctx.error(base, "give the ACD a 'queue' name or the 'skills' the call needs")
    attach: list[tuple[str, str]] = []
    if isinstance(sc.attach, list):
        for index, variable in enumerate(sc.attach):
            if not isinstance(variable, str) or not _VARIABLE.match(variable):
                ctx.error(base + ("attach", index), f"found {describe_found(variable)}, expected a variable name")
            else:
                attach.append((variable, "${" + variable + "}"))
    elif isinstance(sc.attach, dict):
        for key, value in sc.attach.items():
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                ctx.error(base + ("attach", key), f"found {describe_found(value)}, expected text such as \"${{rut}}\"")
                continue
            if not _VARIABLE.match(key):
                ctx.error(base + ("attach", key), f"'{key}' is not a field name (letters, digits and '_')", key=True)
            _check_template(value, base + ("attach", key), ctx)
            attach.append((key, value))
    elif sc.attach is not None:
        expected = 'a list of variable names or a mapping name: "${variable}"'
        ctx.error(base + ("attach",), f"found {describe_found(sc.attach)}, expected {expected}")
    fields = {key for key, _ in attach}
    for index, personal in enumerate(sc.personal):
        if personal not in fields:
            ctx.error(base + ("personal", index), f"'{personal}' is not an attached field (attach: {', '.join(sorted(fields)) or 'none'})")
    return m.QueueNode(name, sc.queue, tuple(sc.skills or ()), sc.priority, tuple(attach), sc.prompt, sc.fallback, frozenset(sc.personal))


def _transfer(sc: s.TransferSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    _check_template(sc.to, base + ("to",), ctx)
    return m.TransferNode(name, sc.to, sc.prompt)


def _message(sc: s.MessageSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.MessageNode(name, sc.prompt)


def _survey(sc: s.SurveySchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    seen: set[str] = set()
    for index, question in enumerate(sc.questions):
        if question.name in seen:
            ctx.error(base + ("questions", index, "name"), f"question '{question.name}' is asked twice")
        seen.add(question.name)
    questions = tuple(m.SurveyQuestion(q.name, q.prompt) for q in sc.questions)
    return m.SurveyNode(name, sc.prompt, questions, sc.timeout, sc.retries, sc.invalid, sc.no_input, sc.next)


def _goto(sc: s.GotoSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.GotoNode(name, sc.flow, sc.node)


def _hangup(sc: s.HangupSchema, name: str, base: tuple[str, ...], ctx: CompileContext, found: dict[str, Any]) -> m.Node:
    return m.HangupNode(name)


_COMPILERS: dict[type, Callable[..., m.Node | None]] = {
    s.PlaySchema: _play,
    s.MenuSchema: _menu,
    s.CollectSchema: _collect,
    s.ScheduleSchema: _schedule,
    s.BranchSchema: _branch,
    s.SetSchema: _set,
    s.QueueSchema: _queue,
    s.TransferSchema: _transfer,
    s.MessageSchema: _message,
    s.SurveySchema: _survey,
    s.GotoSchema: _goto,
    s.HangupSchema: _hangup,
}
