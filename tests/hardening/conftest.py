"""Hostile-input tests reuse the control API's in-process fixtures."""

from tests.api.conftest import api, inproc  # noqa: F401  (pytest fixtures)
