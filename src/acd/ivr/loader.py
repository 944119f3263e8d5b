"""Load one flow file: YAML → schema → runtime ``Flow``, collecting every problem.

Checks that involve only this file happen here (schema, node types, times, DTMF keys,
targets that name no node).  Checks that need the whole set of flows (``goto``, loops that
cross flows, reachability, dialed numbers, prompts) live in ``acd.ivr.checks``.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from acd.ivr import model as m
from acd.ivr.compile import CompileContext, compile_node, precheck_node, raw_targets
from acd.ivr.schema import NODE_SCHEMAS, NODE_TYPES, FlowSchema
from acd.yamlpos import DEFAULT_LIMITS, YamlLimits, load_yaml_bytes, read_limited
from acd.yamlpos import PositionedDocument, Problem, describe_found, pydantic_problems


@dataclass(frozen=True)
class LoadedFile:
    """The outcome of loading one file: a flow when it has no problem of its own."""

    path: Path
    flow: m.Flow | None
    declared_name: str | None  # known even when the file has problems, to avoid follow-on errors
    problems: tuple[Problem, ...]
    fingerprint: str
    dependencies: tuple[Path, ...]


def content_hash(content: bytes, dependencies: Iterable[tuple[Path, bytes]] = ()) -> str:
    """Short content hash of a flow file and the files it reads; the flow ``version``."""
    digest = hashlib.sha256(content)
    for path, data in dependencies:
        digest.update(b"\0" + path.name.encode("utf-8", "replace") + b"\0" + data)
    return digest.hexdigest()[:12]


def load_flow_file(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> LoadedFile:
    file = Path(path)
    try:
        content = read_limited(file, limits)
    except OSError as exc:
        reason = "file not found" if isinstance(exc, FileNotFoundError) else f"cannot read file: {exc.strerror}"
        return LoadedFile(file, None, None, (Problem(str(file), 1, 1, reason),), "", ())
    return load_flow_bytes(content, file, limits)


def load_flow_bytes(content: bytes, path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> LoadedFile:
    """Load a flow from bytes said to come from ``path`` (holiday files resolve next to it)."""
    file = Path(path)
    name = str(file)
    doc, problems = load_yaml_bytes(content, name, limits)
    ctx = CompileContext(doc or PositionedDocument(name, None), file.parent, limits)
    ctx.problems.extend(problems)
    flow: m.Flow | None = None
    declared: str | None = None
    if doc is not None:  # duplicate keys still leave a usable document: report its other problems too
        declared = _declared_name(doc.data, file)
        flow = _build(doc, file, ctx, declared)
        if problems:
            flow = None
    deps = [(dep.path, dep.content) for dep in ctx.dependencies]
    fingerprint = content_hash(content, deps)
    if flow is not None:
        flow = m.Flow(
            name=flow.name,
            version=fingerprint,
            path=file,
            language=flow.language,
            fallback_language=flow.fallback_language,
            entry=flow.entry,
            after_call=flow.after_call,
            numbers=flow.numbers,
            nodes=flow.nodes,
            description=flow.description,
            dependencies=tuple(dep.path for dep in ctx.dependencies),
            source=doc,
        )
    return LoadedFile(file, flow, declared, tuple(ctx.problems), fingerprint, tuple(dep.path for dep in ctx.dependencies))


def _declared_name(data: Any, file: Path) -> str:
    if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"]:
        return data["name"]
    return file.stem


def _build(doc: PositionedDocument, file: Path, ctx: CompileContext, name: str) -> m.Flow | None:
    data = doc.data
    if data is None:
        ctx.problems.append(doc.problem((), "empty file: a flow needs at least 'entry' and 'nodes'"))
        return None
    if not isinstance(data, dict):
        ctx.problems.append(doc.problem((), f"found {describe_found(data)}, expected a flow: a mapping with 'entry' and 'nodes'"))
        return None
    before = len(ctx.problems)
    header: FlowSchema | None = None
    try:
        header = FlowSchema.model_validate(data)
    except ValidationError as exc:
        ctx.problems.extend(schema_problems(doc, exc))
    nodes: dict[str, m.Node] = {}
    raw_nodes = data.get("nodes")
    if isinstance(raw_nodes, dict):
        for node_name, raw in raw_nodes.items():
            node = _load_node(doc, node_name, raw, ctx)
            if node is not None:
                nodes[node_name] = node
        _check_targets(doc, data, raw_nodes, ctx)
    if header is None or len(ctx.problems) != before:
        return None
    return m.Flow(
        name=header.name or name,
        version="",
        path=file,
        language=header.language,
        fallback_language=header.fallback_language,
        entry=header.entry,
        after_call=header.after_call,
        numbers=tuple(header.numbers),
        nodes=nodes,
        description=header.description,
    )


def _load_node(doc: PositionedDocument, name: str, raw: Any, ctx: CompileContext) -> m.Node | None:
    path = ("nodes", name)
    label = f"nodes.{name}"
    known = ", ".join(NODE_TYPES)
    if not isinstance(raw, dict):
        ctx.problems.append(doc.problem(path, f"{label}: found {describe_found(raw)}, expected a node: a mapping with a 'type'"))
        return None
    kind = raw.get("type")
    if kind is None:
        where = path + ("type",) if "type" in raw else path
        ctx.problems.append(doc.problem(where, f"{label}: every node needs a 'type'; known types: {known}", key="type" not in raw))
        return None
    if not isinstance(kind, str):
        message = f"{label}.type: found {describe_found(kind)}, expected a node type; known types: {known}"
        ctx.problems.append(doc.problem(path + ("type",), message))
        return None
    if kind not in NODE_SCHEMAS:
        hint = _did_you_mean(kind, NODE_TYPES)
        ctx.problems.append(doc.problem(path + ("type",), f"{label}.type: unknown node type '{kind}'{hint}; known types: {known}"))
        return None
    before = len(ctx.problems)
    found = precheck_node(kind, raw, name, ctx)
    try:
        schema = NODE_SCHEMAS[kind].model_validate(raw)
    except ValidationError as exc:
        ctx.problems.extend(schema_problems(doc, exc, prefix=path))
        return None
    node = compile_node(schema, name, ctx, found)
    return node if len(ctx.problems) == before else None


class _Errors:
    def __init__(self, errors: list[Any]) -> None:
        self._errors = errors

    def errors(self, include_url: bool = False) -> list[Any]:
        return self._errors


def schema_problems(doc: PositionedDocument, error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    """``pydantic_problems``, except that a missing field points at the name of its mapping.

    The mapping's own key (``hola:``) is where an editor should jump to add the field,
    rather than the mapping's first value.
    """
    errors = error.errors(include_url=False)
    problems = pydantic_problems(doc, _Errors([e for e in errors if e["type"] != "missing"]), prefix=prefix)
    for item in errors:
        if item["type"] != "missing":
            continue
        loc = tuple(prefix) + tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        parent = loc[:-1]
        label = ".".join(str(part) for part in loc)
        problems.append(doc.problem(parent, f"{label}: required field is missing", key=parent in doc.key_positions))
    return problems


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_targets(doc: PositionedDocument, data: dict[str, Any], raw_nodes: dict[str, Any], ctx: CompileContext) -> None:
    """Every reference must name a node of this flow; checked on the raw nodes, valid or not."""
    names = list(raw_nodes)

    def check(path: tuple[str | int, ...], target: Any) -> None:
        if isinstance(target, str) and target not in raw_nodes:
            label = ".".join(str(part) for part in path)
            ctx.problems.append(doc.problem(path, f"{label}: no node named '{target}' in this flow{_did_you_mean(target, names)}"))

    for field_name in ("entry", "after_call"):
        if field_name in data:
            check((field_name,), data[field_name])
    for node_name, raw in raw_nodes.items():
        if isinstance(raw, dict) and isinstance(raw.get("type"), str):
            for path, target in raw_targets(raw["type"], raw):
                check(("nodes", node_name) + path, target)
