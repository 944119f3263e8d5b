"""Small pure helpers of the CLI: durations, percentages, the default API address."""

from __future__ import annotations

import pytest

from acd.cli._api_options import default_url
from acd.cli._tables import duration, percent


@pytest.mark.parametrize("seconds, text", [(None, "-"), (-3, "0:00"), (0.9, "0:00"), (61, "1:01"), (3599, "59:59"), (3723, "1:02:03")])
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("ratio, text", [(None, "-"), (0.0, "0.0%"), (0.756, "75.6%"), (1.0, "100.0%")])
def test_percent(ratio: float | None, text: str) -> None:
    assert percent(ratio) == text


@pytest.mark.parametrize(
    "host, url",
    [("127.0.0.1", "http://127.0.0.1:8573"), ("0.0.0.0", "http://127.0.0.1:8573"), ("::", "http://[::1]:8573"), ("::1", "http://[::1]:8573")],
)
def test_default_url_reaches_the_api_on_loopback(host: str, url: str) -> None:
    assert default_url(host, 8573) == url
