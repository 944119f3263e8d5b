"""Chilean RUT (Rol Único Tributario) checking, as typed on a phone keypad.

A RUT is a body of digits plus a check digit computed with módulo 11; the check digit
can be ``K``, which a keypad cannot type, so callers press ``*`` for it.  The IVR keeps
the normalised form ``12345678-K`` because that is how agents and back offices read it.
"""

from __future__ import annotations

import re

_KEYPAD_RUT = re.compile(r"^([0-9]{1,9})([0-9kK*])$")


def check_digit(body: str) -> str:
    """Módulo-11 check digit of a RUT body ('0'-'9' or 'K')."""
    total = 0
    factor = 2
    for char in reversed(body):
        total += int(char) * factor
        factor = 2 if factor == 7 else factor + 1
    remainder = 11 - total % 11
    if remainder == 11:
        return "0"
    if remainder == 10:
        return "K"
    return str(remainder)


def normalize_rut(typed: str) -> str | None:
    """``'12345678*'`` or ``'123456785'`` → ``'12345678-5'``-style RUT, or None when invalid.

    Dots and a dash are tolerated so the same function serves typed and written RUTs.
    """
    cleaned = typed.replace(".", "").replace("-", "").strip()
    match = _KEYPAD_RUT.match(cleaned)
    if match is None:
        return None
    body, given = match.groups()
    body = body.lstrip("0") or "0"
    given = "K" if given in "kK*" else given
    if body == "0" or check_digit(body) != given:
        return None
    return f"{body}-{given}"


def is_valid_rut(typed: str) -> bool:
    return normalize_rut(typed) is not None
