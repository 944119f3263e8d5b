"""``${var}`` substitution: the only expression language flows have, on purpose.

Ops staff need to pass a collected RUT to the ACD or dial a number kept in a variable;
anything richer belongs in code.  An unknown variable becomes empty text, which is what a
dialplan does too; the validator checks the syntax so a typo like ``${rut`` is caught.
"""

from __future__ import annotations

import re
from typing import Mapping

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def template_problem(template: str) -> str | None:
    """Why ``template`` is malformed, or None when it is fine.

    Values reach Asterisk as AGI command arguments (a transfer target, attached data), one
    command per line: a line break or NUL in one would be refused when the call gets
    there, so it is refused here, when the flow is loaded."""
    if "\n" in template or "\r" in template or "\0" in template:
        return "contains a line break or NUL; a value must be one line (Asterisk reads one command per line)"
    for match in _REFERENCE.finditer(template):
        if not _VARIABLE.match(match.group(1)):
            return f"'${{{match.group(1)}}}' is not a variable reference; use ${{name}} with letters, digits and '_'"
    if "${" in _REFERENCE.sub("", template):
        return "'${' without a closing '}'; write ${name}"
    return None


def substitute(template: str, variables: Mapping[str, str]) -> str:
    return _REFERENCE.sub(lambda match: variables.get(match.group(1), ""), template)


def references(template: str) -> list[str]:
    return [match.group(1) for match in _REFERENCE.finditer(template)]
