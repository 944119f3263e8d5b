"""Shared test plumbing: when a test fails, say where its logs are kept."""

from __future__ import annotations

from typing import Iterator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        places = []
        for name in ("lab", "sipp"):
            fixture = getattr(item, "funcargs", {}).get(name)
            where = getattr(fixture, "log_locations", None)
            if where:
                places.extend(where())
        if places:
            report.sections.append(("logs kept", "\n".join(places)))
