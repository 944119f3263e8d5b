"""The reports page's detail rows, built in Python for speed, are the markup the Jinja loop wrote."""

from __future__ import annotations

import re

from jinja2 import Environment

from acd.web.pages.reports import COLUMNS, detail_rows

JINJA_LOOP = """
    {% for row in rows %}
      <tr class="row{% if row.incidents %} has-incident{% endif %}" data-row="{{ loop.index0 }}" data-label="{{ row.label }}" data-group="">
        <td><a href="/reports/calls?{{ row.drill }}" class="drill">{{ row.label }}</a>{% for i in row.incidents %} <span class="incident-mark" title="#{{ i }}">#{{ i }}</span>{% endfor %}</td><td></td>
        {% for key in columns %}<td data-field="{{ key }}">{{ row[key] if row[key] is not none else "-" }}</td>{% endfor %}
      </tr>
      {% for name, g in (row.groups or {}).items() %}
      <tr class="group" data-row="{{ loop.index0 }}" data-label="{{ row.label }}" data-group="{{ name }}">
        <td></td><td>{{ name }}</td>
        {% for key in columns %}<td data-field="{{ key }}">{{ g[key] if g[key] is not none else "-" }}</td>{% endfor %}
      </tr>
      {% endfor %}
    {% endfor %}
"""


def _figures(seed: int) -> dict[str, object]:
    return {key: (None if (seed + i) % 5 == 0 else (seed * 7 + i) / 4 if i % 2 else seed + i) for i, key in enumerate(COLUMNS)}


def _squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


def test_detail_rows_equal_the_template_loop() -> None:
    rows = [
        {"label": "2026-03-02 08:00", "drill": "start=1&end=2&back=from%3D2026", "incidents": [], **_figures(1)},
        {"label": "2026-03-02 08:15", "drill": "start=2&end=3", "incidents": [4, 7], **_figures(2),
         "groups": {"q<1>": _figures(3), "ventas & co": _figures(4)}},
        {"label": "2026-04-05 23:00 (-03)", "drill": "a=\"b\"", "incidents": [], **_figures(5), "groups": {}},
    ]
    expected = Environment(autoescape=True).from_string(JINJA_LOOP).render(rows=rows, columns=COLUMNS)
    assert _squeeze(str(detail_rows(rows, COLUMNS))) == _squeeze(expected)
    assert "q&lt;1&gt;" in detail_rows(rows, COLUMNS)
