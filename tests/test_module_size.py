"""No module grows past ~500 lines without saying, at its top, why it stays one module.

A long module is sometimes right (a specification read in one piece, one class that owns
a connection's life); what is never right is growing by accident.  The reason must be in
the module's docstring, on a paragraph starting ``Long on purpose:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "acd"
LIMIT = 500
MARK = "Long on purpose:"


def long_modules_without_reason(root: Path, limit: int = LIMIT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + 1
        if lines <= limit:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if MARK not in docstring:
            found.append(f"{path.relative_to(root.parent)}: {lines} lines, no '{MARK}' paragraph")
    return found


def test_every_module_over_the_limit_states_why_at_its_top() -> None:
    missing = long_modules_without_reason(ROOT)
    assert not missing, "\n".join(missing)


def test_the_check_finds_a_long_module_without_a_reason(tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text('"""Short."""\n', encoding="utf-8")
    (tmp_path / "long.py").write_text('"""Long."""\n' + "x = 1\n" * 600, encoding="utf-8")
    (tmp_path / "said.py").write_text(f'"""Long.\n\n{MARK} a reason."""\n' + "x = 1\n" * 600, encoding="utf-8")
    assert [line.split(":")[0] for line in long_modules_without_reason(tmp_path)] == [f"{tmp_path.name}/long.py"]
