"""The machine a benchmark ran on: one definition shared by every ``acd bench`` command."""

from __future__ import annotations

from acd.routing.benchmark import machine_info

__all__ = ["machine_info"]
