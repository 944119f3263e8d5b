"""Tree and DOT views: each node once, loops printed finitely, DOT text escaped."""

from __future__ import annotations

from pathlib import Path

from acd.ivr.render import render_dot, render_tree

from .conftest import flow_from

LOOP = """
entry: menu
nodes:
  menu:
    type: menu
    prompt: beep
    keys: {"1": eco, "2": fin}
    fallback: fin
  eco: {type: play, prompt: beep, next: menu}
  fin: {type: hangup}
"""


def test_tree_shows_each_node_once_and_references_loops(tmp_path: Path) -> None:
    flow = flow_from(tmp_path, LOOP)
    tree = render_tree(flow)
    assert tree.splitlines()[3:] == [
        "└── menu: menu beep; wait 5s, 2 retries",
        "    ├── 1 → eco: play beep",
        "    │   └── next → menu  (see above)",
        "    ├── 2 → fin: hang up",
        "    └── fallback → fin  (see above)",
    ]


def test_dot_escapes_quotes_and_draws_every_edge(tmp_path: Path) -> None:
    dot = render_dot(flow_from(tmp_path, LOOP))
    assert dot.startswith('digraph "flow" {')
    for edge in ['"menu" -> "eco" [label="1"];', '"eco" -> "menu" [label="next"];', '"menu" -> "fin" [label="fallback"];']:
        assert edge in dot
    branch = flow_from(
        tmp_path,
        """
        entry: b
        nodes:
          b: {type: branch, on: caller, cases: [{equals: 'say "hi"\\', next: f}], default: f}
          f: {type: hangup}
        """,
        "b.yaml",
    )
    assert '"b" -> "f" [label="= say \\"hi\\"\\\\"];' in render_dot(branch)
