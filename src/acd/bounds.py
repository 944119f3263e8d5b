"""Finite, bounded numbers wherever a person types one: files, requests, command lines.

A bare ``float`` takes ``inf`` and ``nan`` (``gt=0`` even lets ``inf`` through): an
infinite timeout silently switches its guard off, ``nan`` compares false with everything
so no check ever trips, and an absurd value (``--calls 1e12``, a 1e15-byte header limit)
is a loop that never ends or a guard that never fires.  Every number read at an edge goes
through these types or :func:`parse_number`, so the refusal reads the same everywhere.
"""

from __future__ import annotations

import argparse
import math
from typing import Annotated, Callable

from pydantic import Field

HOUR = 3600.0
DAY = 24 * HOUR

#: A duration in a configuration file: finite, 0 .. one day.
Seconds = Annotated[float, Field(ge=0, le=DAY, allow_inf_nan=False)]
#: Same, but more than zero (a period, a time-out).
PositiveSeconds = Annotated[float, Field(gt=0, le=DAY, allow_inf_nan=False)]


def parse_number(text: str, *, low: float, high: float, low_open: bool = False, integer: bool = False) -> float:
    """``text`` as a finite number in ``[low, high]`` (``(low, high]`` when ``low_open``).

    Raises ``ValueError`` whose message reads after the option's name:
    ``--aht must be a number > 0 and <= 86400, not 'nan'``, ``--hours 'x' is not a number``.
    """
    kind = "a whole number" if integer else "a number"
    try:
        value = float(int(text)) if integer else float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not {kind}") from None
    if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        raise ValueError(f"must be {kind} {'>' if low_open else '>='} {_plain(low)} and <= {_plain(high)}, not {text!r}")
    return value


def _plain(number: float) -> str:
    """1e8 as 100000000, 0.1 as 0.1: a bound is read by people, not parsed."""
    return str(int(number)) if number == int(number) else f"{number:g}"


def number_arg(low: float, high: float, *, low_open: bool = False, integer: bool = False) -> Callable[[str], float]:
    """An argparse ``type=``: a bad value is argparse's one-line usage error, exit code 2."""

    def convert(text: str) -> float:
        try:
            value = parse_number(text, low=low, high=high, low_open=low_open, integer=integer)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return int(value) if integer else value

    convert.__name__ = "integer" if integer else "number"
    return convert
