"""Fixtures for the metrics tests: a real mosquitto broker, a fresh database path."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from acd.lab.mosquitto import Mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A mosquitto on a free loopback port (temp config, anonymous, no persistence)."""
    with Mosquitto() as running:
        yield running


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "acd.sqlite"
