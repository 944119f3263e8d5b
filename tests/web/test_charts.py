"""The server-made SVG charts: one bar and tooltip per slot with calls, escaped text, no inline style (CSP)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from acd.web.charts import Series, levels_chart

SVG = "{http://www.w3.org/2000/svg}"


def _chart(n: int, **extra) -> ET.Element:
    labels = [f"d{i}" for i in range(n)]
    bars = [float(i % 7) for i in range(n)]
    line = [None if i % 7 == 0 else 50.0 + i % 50 for i in range(n)]
    markup = levels_chart(Series(labels, bars, line, "Ofrecidas", "NS %", 75.0, "Meta", **extra))
    assert "style=" not in markup and "<script" not in markup
    return ET.fromstring(str(markup))


def test_a_bar_and_a_point_with_a_tooltip_for_every_slot_that_has_them() -> None:
    root = _chart(31, marked=["" if i != 3 else "#7" for i in range(31)])
    bars = root.findall(f"{SVG}rect[@class='bar']")
    assert len(bars) == sum(1 for i in range(31) if i % 7) + 1  # + the legend's swatch
    assert bars[0].find(f"{SVG}title").text == "d1: Ofrecidas 1"
    points = [p for p in root.findall(f"{SVG}circle[@class='point']") if p.find(f"{SVG}title") is not None]
    assert len(points) == sum(1 for i in range(31) if i % 7)
    assert [r.get("data-slot") for r in root.findall(f"{SVG}rect[@class='incident']")] == ["3"]
    assert len(root.findall(f"{SVG}polyline")) == 5  # the line breaks at each day without calls


def test_a_year_of_days_keeps_its_labels_readable() -> None:
    root = _chart(365)
    labels = root.findall(f"{SVG}text[@class='label']")
    assert 10 <= len(labels) <= 14
    widths = {float(r.get("width")) for r in root.findall(f"{SVG}rect[@class='bar']") if r.find(f"{SVG}title") is not None}
    assert all(w > 0 for w in widths)


def test_text_is_escaped() -> None:
    markup = str(levels_chart(Series(["<script>x</script>"], [3.0], [80.0], "a&b", "c", None)))
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "a&amp;b" in markup
    assert re.search(r'viewBox="0 0 960 280"', markup)
