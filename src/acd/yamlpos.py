"""YAML loading that remembers where every value came from.

Ops staff edit settings, IVR flows and routing configuration by hand; a mistake must be
reported as ``FILE:LINE:COL: message`` so an editor can jump to it.  PyYAML's plain loader
forgets positions, silently keeps the last of two duplicate keys and applies YAML 1.1
surprises (``18:00`` is the integer 1080, ``no`` is ``False``).  This loader composes the
node tree itself, records the position of every key and value by *path* (a tuple of keys
and list indices), reports duplicate keys, and resolves scalars with YAML 1.2 core rules.

Every file is read under ``YamlLimits`` (size, nesting depth, aliases, nodes built): one
saved file is also read by the running engine (hot reload), so a "billion laughs" alias
bomb or a 10 GB file must be refused in bounded time and memory, with a position, rather
than take the engine down.  Only plain data is accepted: an explicit tag such as
``!!python/object`` or ``!!binary`` is refused, so no value arrives as an unexpected type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on one YAML file; each refusal names the setting (``limits.yaml_max_*``) to raise.

    ``max_nodes`` counts values *as built*, an alias counting again each time it is used:
    that is what bounds the memory of nested aliases, which a file size cannot.
    """

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 100
    max_nodes: int = 100_000


DEFAULT_LIMITS = YamlLimits()

#: Tags a plain data file can carry; anything else (``!!python/object``, ``!!binary``, ``!custom``) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "value", "merge")
)


class _Refused(Exception):
    """Stops composing or building at once; carries where and which limit (or which tag)."""

    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _size_text(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _too_deep(limits: YamlLimits) -> str:
    return f"nested too deeply (over {limits.max_depth} levels; limits.yaml_max_depth)"


def _too_big(file: str, size: int, limits: YamlLimits) -> Problem:
    return Problem(file, 1, 1, f"file is {_size_text(size)}, over the {_size_text(limits.max_bytes)} limit (limits.yaml_max_bytes)")


def read_limited(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes, but never more than ``max_bytes + 1`` of them (enough to tell it is too big).

    Raises ``OSError`` like ``Path.read_bytes``.
    """
    with open(path, "rb") as handle:
        return handle.read(limits.max_bytes + 1)


def is_inside(folder: str | Path, file: str | Path) -> bool:
    """Whether ``file`` (symlinks resolved) lies in ``folder``: for files one YAML file names.

    Whoever may edit a flow (or a contract) must not make the engine read, and quote in
    its messages, any other file on the host: ``../../etc/passwd``, an absolute path or a
    symlink out of the folder are all refused by the caller.
    """
    try:
        return Path(file).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name
        return False


def _file_size(path: str | Path, fallback: int) -> int:
    try:
        return max(Path(path).stat().st_size, fallback)
    except OSError:
        return fallback


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, printable as ``FILE:LINE:COL: message``."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


try:  # libyaml scans and parses several times faster; the node tree is still composed below, bounded
    from yaml.cyaml import CParser as _EventSource

    _BYTE_OFFSETS = True  # libyaml reports a bad character's position in UTF-8 bytes
except ImportError:  # pragma: no cover - PyYAML built without libyaml

    class _EventSource(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)

    _BYTE_OFFSETS = False


class _Yaml12Loader(yaml.composer.Composer, _EventSource, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):  # type: ignore[misc]
    """A safe loader with YAML 1.2 core scalar resolution.

    No sexagesimals (``18:00`` is text), no ``yes``/``no``/``on``/``off`` booleans, no
    timestamps (``2025-09-18`` is text; the field that wants a date parses it and can say
    what is wrong), and integers keep their written text when that text is not the
    number's plain spelling (``0800``, ``+56``, ``007``): in a phone system those are
    numbers to dial, and a lost leading zero is a silent wrong number.
    """

    def __init__(self, stream: str, limits: YamlLimits) -> None:
        _EventSource.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.limits = limits
        self._depth = 0
        self._aliases = 0
        self._composed = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:  # type: ignore[override]
        """PyYAML's composer, bounded: it recurses once per level and shares aliased nodes,
        so depth, alias count and node count are checked here, where the position is known."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.limits.max_aliases:
                raise _Refused(event.start_mark, f"too many aliases (over {self.limits.max_aliases}; limits.yaml_max_aliases)")
        else:
            self._composed += 1
            if self._composed > self.limits.max_nodes:
                raise _Refused(event.start_mark, _too_many_values(self.limits))
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise _Refused(event.start_mark, _too_deep(self.limits))
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:  # type: ignore[override]
        text = str(self.construct_scalar(node))
        cleaned = text.replace("_", "")
        if cleaned.startswith(("0o", "0x")):
            return int(cleaned, 0)
        value = int(cleaned)
        return value if str(value) == cleaned else text


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _Yaml12Loader.construct_yaml_int)
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


@dataclass
class PositionedDocument:
    """Plain Python data plus the 1-based position of every value and mapping key."""

    file: str
    data: Any
    value_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Position of ``path``; falls back to the nearest ancestor that exists."""
        probe: PathKey = tuple(path)
        while True:
            table = self.key_positions if key else self.value_positions
            if probe in table:
                return table[probe]
            if not key and probe in self.key_positions:
                return self.key_positions[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def problem(self, path: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(self.file, line, column, message)


def _pos(mark: yaml.Mark | None) -> tuple[int, int]:
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str, loader: _Yaml12Loader, limits: YamlLimits) -> None:
        self.file = file
        self.loader = loader
        self.limits = limits
        self.built = 0
        self.doc = PositionedDocument(file=file, data=None)
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.built += 1
        if self.built > self.limits.max_nodes:
            # Point at the top-level entry being expanded: the node reached at this moment
            # is usually deep inside an anchor, far from the alias that multiplied it.
            line, col = self.doc.value_positions.get(path[:1], _pos(node.start_mark))
            message = f"too many values once aliases are expanded (over {self.limits.max_nodes}; limits.yaml_max_nodes)"
            raise _Refused(yaml.Mark(self.file, 0, line - 1, col - 1, None, None), message)
        if len(path) >= self.limits.max_depth:  # an alias can nest a deep part inside another
            raise _Refused(node.start_mark, _too_deep(self.limits))
        if node.tag not in _PLAIN_TAGS:  # hostile, not a slip: the whole file is refused, like an alias bomb
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Refused(node.start_mark, f"tag '{tag}' is not allowed: write plain values (text, numbers, true/false, lists, mappings)")
        self.doc.value_positions[path] = _pos(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                    line, col = _pos(key_node.start_mark)
                    self.problems.append(Problem(self.file, line, col, "a mapping key must be a plain value, not a list, a mapping or a tagged value"))
                    continue
                key = str(key_node.value)
                child = path + (key,)
                if key in result:
                    line, col = _pos(key_node.start_mark)
                    first_line, _ = self.doc.key_positions[child]
                    self.problems.append(
                        Problem(self.file, line, col, f"duplicate key '{key}' (first defined on line {first_line})")
                    )
                    continue
                self.doc.key_positions[child] = _pos(key_node.start_mark)
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            line, col = _pos(node.start_mark)
            self.problems.append(Problem(self.file, line, col, f"invalid value: {getattr(exc, 'problem', None) or exc}"))
            return None


def _control_character(character: int | str) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"control character U+{code:04X} is not allowed in YAML"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _reader_problem(text: str, file: str, exc: yaml.reader.ReaderError) -> Problem:
    index = exc.position
    if _BYTE_OFFSETS:
        index = len(text.encode("utf-8", "surrogatepass")[:index].decode("utf-8", "replace"))
    line, col = _line_column(text, index)
    return Problem(file, line, col, _control_character(exc.character))


def _line_column(text: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _too_many_values(limits: YamlLimits) -> str:
    return f"too many values (over {limits.max_nodes}; limits.yaml_max_nodes)"


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)


def _first_value_past_budget(text: str, limits: YamlLimits) -> yaml.Mark | None:
    """Where the value one past ``limits.max_nodes`` starts, or None when there are not that many.

    The composer checks the same budget, but only after resolving and building a node
    per value (several microseconds each), so a flat list of a hundred thousand numbers
    cost most of a second of CPU before its refusal.  libyaml counts a document's events
    in C first (``raw_parse``, a tenth of that for a whole megabyte); only a document that
    may be over the budget is walked again, as bare events, to find the position to name.
    Malformed YAML is left to the loader, which says what is wrong and where.
    """
    if not _BYTE_OFFSETS:  # pragma: no cover - PyYAML built without libyaml: the composer's check alone
        return None
    try:
        if _EventSource(text).raw_parse() <= limits.max_nodes:
            return None
    except yaml.YAMLError:
        return None
    parser = _EventSource(text)
    values = 0
    try:
        while (event := parser.get_event()) is not None and not isinstance(event, yaml.StreamEndEvent):
            if isinstance(event, _NODE_EVENTS):
                values += 1
                if values > limits.max_nodes:
                    return event.start_mark  # type: ignore[no-any-return]
    except yaml.YAMLError:
        return None
    finally:
        parser.dispose()
    return None


def load_yaml_text(text: str, file: str, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[PositionedDocument | None, list[Problem]]:
    """Parse ``text``; return the document (None when unparseable) and every problem found.

    Never raises for any input: control characters, malformed YAML, aliases that contain
    themselves, absurd nesting and anything over ``limits`` come back as positioned problems.
    """
    size = len(text) if len(text) > limits.max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        return None, [_too_big(file, size, limits)]
    surrogate = _SURROGATE.search(text)
    if surrogate:  # not text at all (libyaml could not even encode it); PyYAML called them special characters
        line, col = _line_column(text, surrogate.start())
        return None, [Problem(file, line, col, _control_character(surrogate.group()))]
    past_budget = _first_value_past_budget(text, limits)
    if past_budget is not None:
        line, col = _pos(past_budget)
        return None, [Problem(file, line, col, _too_many_values(limits))]
    try:
        loader = _Yaml12Loader(text, limits)
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(text, file, exc)]
    try:
        try:
            root = loader.get_single_node()
        except yaml.reader.ReaderError as exc:
            return None, [_reader_problem(text, file, exc)]
        except yaml.MarkedYAMLError as exc:
            line, col = _pos(exc.problem_mark or exc.context_mark)
            what = exc.problem or exc.context or "malformed YAML"
            if "maximum nesting depth" in what:  # libyaml's own guard, met while scanning ahead of ours
                return None, [Problem(file, line, col, _too_deep(limits))]
            return None, [Problem(file, line, col, f"malformed YAML: {what}")]
        except yaml.YAMLError as exc:
            return None, [Problem(file, 1, 1, f"malformed YAML: {exc}")]
        if root is None:
            return PositionedDocument(file=file, data=None), []
        builder = _Builder(file, loader, limits)
        builder.doc.data = builder.build(root, ())
        return builder.doc, builder.problems
    except _Refused as exc:
        line, col = _pos(exc.mark)
        return None, [Problem(file, line, col, exc.message)]
    except RecursionError:
        return None, [Problem(file, 1, 1, "malformed YAML: nested too deeply (or an alias that contains itself)")]
    finally:
        loader.dispose()


def load_yaml_bytes(
    content: bytes, file: str, limits: YamlLimits = DEFAULT_LIMITS, *, size: int | None = None
) -> tuple[PositionedDocument | None, list[Problem]]:
    """Decode UTF-8 (a BOM is fine) and parse; an undecodable byte is a positioned problem.

    ``size`` is the file's real size when ``content`` was cut short by ``read_limited``.
    """
    if len(content) > limits.max_bytes:
        return None, [_too_big(file, max(size or 0, len(content)), limits)]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        column = exc.start - (content.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Problem(file, line, column, "not UTF-8 text; save the file as UTF-8")]
    return load_yaml_text(text, file, limits)


def load_yaml_file(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[PositionedDocument | None, list[Problem]]:
    """Read and parse a YAML file; an unreadable file is a problem, not an exception."""
    name = str(path)
    try:
        content = read_limited(path, limits)
    except FileNotFoundError:
        return None, [Problem(name, 1, 1, "file not found")]
    except IsADirectoryError:
        return None, [Problem(name, 1, 1, "is a folder, not a file")]
    except OSError as exc:
        return None, [Problem(name, 1, 1, f"cannot read file: {exc.strerror}")]
    return load_yaml_bytes(content, name, limits, size=_file_size(path, len(content)))


def describe_found(value: Any) -> str:
    """Short human description of a found value, for 'found X, expected Y' messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {int: "an integer", float: "a number", str: "text"}.get(type(value), type(value).__name__)
    return f"{text} ({kind})"


def pydantic_problems(doc: PositionedDocument, error: Any, *, prefix: Sequence[str | int] = ()) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into positioned problems naming field, found and expected."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = tuple(prefix) + tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        field_name = ".".join(str(part) for part in loc) or "(top level)"
        kind = item["type"]
        if kind == "missing":
            problems.append(doc.problem(loc[:-1], f"{field_name}: required field is missing"))
            continue
        if kind == "extra_forbidden":
            problems.append(doc.problem(loc, f"{field_name}: unknown field", key=True))
            continue
        found = describe_found(item.get("input"))
        expected = item["msg"]
        for lead in ("Input should be ", "Value error, "):
            if expected.startswith(lead):
                expected = expected[len(lead):]
        problems.append(doc.problem(loc, f"{field_name}: found {found}, expected {expected}"))
    return problems


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(set(problems))
