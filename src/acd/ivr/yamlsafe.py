"""``acd.yamlpos`` hardened for hand-edited and hostile input, plus number spelling.

``load_yaml_text`` already reports malformed YAML and duplicate keys, but a few inputs
still raise from inside PyYAML (control characters, impossible dates such as
``2025-02-30``, very deep nesting or recursive aliases).  Validation must never show a
traceback, so those are turned into positioned problems here.

YAML reads ``0800`` and ``+56`` as the integers 800 and 56; for phone numbers and
extensions the written text is what matters, so integers whose spelling differs from
their value get their original text back (``restore_number_spelling``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml
from yaml.reader import ReaderError

from acd.yamlpos import PathKey, PositionedDocument, Problem, load_yaml_text

_TIMESTAMP = re.compile(r"^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+).*)?$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]*[89][0-9]*$")
_TOKEN = re.compile(r"[^\s,\]\}#]+")


def load_yaml_bytes(content: bytes, file: str) -> tuple[PositionedDocument | None, list[Problem]]:
    """Decode and parse; every failure is a problem, never an exception."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        column = exc.start - (content.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Problem(file, line, column, "not UTF-8 text; save the file as UTF-8")]
    return load_yaml_safely(text, file)


def load_yaml_safely(text: str, file: str) -> tuple[PositionedDocument | None, list[Problem]]:
    try:
        doc, problems = load_yaml_text(text, file)
    except ReaderError as exc:
        line, column = _line_column(text, exc.position)
        return None, [Problem(file, line, column, f"character {exc.character!r} is not allowed in YAML")]
    except RecursionError:
        return None, [Problem(file, 1, 1, "malformed YAML: nested too deeply (or an alias that contains itself)")]
    except (ValueError, OverflowError) as exc:
        line, column, message = _bad_scalar(text, exc)
        return None, [Problem(file, line, column, message)]
    except Exception as exc:  # noqa: BLE001 - a validator must survive any input
        return None, [Problem(file, 1, 1, f"malformed YAML: {exc}")]
    if doc is not None:
        restore_number_spelling(doc, text)
    return doc, problems


def _line_column(text: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _bad_scalar(text: str, exc: Exception) -> tuple[int, int, str]:
    """Where the plain scalar PyYAML could not construct sits, and why.

    Two known causes: an impossible date (``2025-02-30``) and a number with a leading
    zero and an 8 or 9 in it (``0800``), which PyYAML reads as a bad octal number.
    """
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if not isinstance(event, yaml.ScalarEvent) or event.style is not None:
                continue
            value = event.value
            mark = event.start_mark
            if _LEADING_ZERO.match(value):
                return mark.line + 1, mark.column + 1, f"'{value}': write numbers that start with 0 in quotes, e.g. \"{value}\""
            if _TIMESTAMP.match(value):
                try:
                    date.fromisoformat(value[:10])
                except ValueError as error:
                    return mark.line + 1, mark.column + 1, f"invalid date or time: {error}"
    except Exception:  # noqa: BLE001
        pass
    return 1, 1, f"invalid value: {exc}"


def restore_number_spelling(doc: PositionedDocument, text: str) -> None:
    """Give back the written text of integers like ``0800`` or ``+56`` (in place)."""
    lines = text.splitlines()

    def visit(value: Any, path: PathKey) -> Any:
        if isinstance(value, dict):
            for key in list(value):
                value[key] = visit(value[key], path + (key,))
            return value
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = visit(item, path + (index,))
            return value
        if isinstance(value, int) and not isinstance(value, bool) and path in doc.value_positions:
            line, column = doc.value_positions[path]
            if 0 < line <= len(lines):
                match = _TOKEN.match(lines[line - 1], column - 1)
                if match and match.group(0) != str(value) and re.fullmatch(r"[-+]?[0-9]+", match.group(0)):
                    return match.group(0)
        return value

    try:
        visit(doc.data, ())
    except RecursionError:
        pass
