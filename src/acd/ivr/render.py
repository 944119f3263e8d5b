"""Human views of a flow: an indented tree for the terminal and a Graphviz DOT graph.

Both start at ``entry`` (then ``after_call``) and show each node once; a node reached
again is shown as a reference, so loops print finitely.  Graph layout is left to Graphviz;
rendering SVG/PNG runs the ``dot`` program (``render_image``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from acd.ivr import model as m


def summary(node: m.Node) -> str:
    """One line saying what the node does."""
    if isinstance(node, m.PlayNode):
        return f"play {', '.join(node.prompts)}" + (" (interruptible)" if node.interruptible else "")
    if isinstance(node, m.MenuNode):
        return f"menu {', '.join(node.prompts)}; wait {node.timeout:g}s, {node.retries} retries"
    if isinstance(node, m.CollectNode):
        size = f"{node.min_digits}-{node.max_digits}" if node.min_digits != node.max_digits else str(node.min_digits)
        ends = f", ends with {node.terminator}" if node.terminator else ""
        return f"collect {size} digits ({node.validate}{ends}) into ${{{node.save_as}}}; prompt {', '.join(node.prompts)}"
    if isinstance(node, m.ScheduleNode):
        return f"schedule {node.schedule.describe()}"
    if isinstance(node, m.BranchNode):
        return f"branch on {node.on}"
    if isinstance(node, m.SetNode):
        return "set " + ", ".join(f"{name}={value}" for name, value in node.variables)
    if isinstance(node, m.QueueNode):
        parts = [f"queue {node.queue}" if node.queue else "queue by skills"]
        if node.skills:
            parts.append(f"skills {', '.join(node.skills)}")
        if node.priority:
            parts.append(f"priority {node.priority}")
        if node.attach:
            parts.append("attach " + ", ".join(name for name, _ in node.attach))
        return "; ".join(parts)
    if isinstance(node, m.TransferNode):
        return f"transfer to {node.to}"
    if isinstance(node, m.MessageNode):
        return f"message {', '.join(node.prompts)}, then hang up"
    if isinstance(node, m.SurveyNode):
        return f"survey {len(node.questions)} questions (1-5): {', '.join(q.name for q in node.questions)}"
    if isinstance(node, m.GotoNode):
        return f"goto flow {node.flow}" + (f", node {node.node}" if node.node else "")
    return "hang up"


def render_tree(flow: m.Flow) -> str:
    lines = [f"flow {flow.name}  version {flow.version}  ({flow.path})"]
    numbers = ", ".join(flow.numbers) or "none"
    lines.append(f"language {flow.language} (fallback {flow.fallback_language}); answers {numbers}")
    if flow.description:
        lines.append(flow.description.strip())
    shown: set[str] = set()
    roots = [("entry", flow.entry)] + ([("after_call", flow.after_call)] if flow.after_call else [])
    leftovers = [("not reached", name) for name in flow.nodes if name not in _reachable(flow, [r for _, r in roots])]
    for label, root in roots + leftovers:
        if root in shown:
            continue
        lines.append(f"{label}:")
        lines.extend(_subtree(flow, root, shown))
    return "\n".join(lines) + "\n"


def _reachable(flow: m.Flow, roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = [root for root in roots if root in flow.nodes]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(ref.target for ref in flow.nodes[name].targets() if ref.target in flow.nodes)
    return seen


def _subtree(flow: m.Flow, root: str, shown: set[str]) -> list[str]:
    lines: list[str] = []
    # (prefix for this line, prefix for children, edge label, node name)
    stack: list[tuple[str, str, str, str]] = [("└── ", "    ", "", root)]
    while stack:
        lead, child_lead, label, name = stack.pop()
        edge = f"{label} → " if label else ""
        node = flow.nodes.get(name)
        if node is None:
            lines.append(f"{lead}{edge}{name}  (missing)")
            continue
        if name in shown:
            lines.append(f"{lead}{edge}{name}  (see above)")
            continue
        shown.add(name)
        lines.append(f"{lead}{edge}{name}: {summary(node)}")
        refs = node.targets()
        if isinstance(node, m.BranchNode):
            refs = [m.TargetRef(f"if {ref.label}" if ref.label != "default" else "default", ref.target, ref.path) for ref in refs]
        children = []
        for index, ref in enumerate(refs):
            last = index == len(refs) - 1
            branch, below = ("└── ", "    ") if last else ("├── ", "│   ")
            children.append((child_lead + branch, child_lead + below, ref.label, ref.target))
        stack.extend(reversed(children))
    return lines


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_SHAPES = {"queue": "cds", "transfer": "cds", "goto": "folder"}
_ENDS = ("hangup", "message")


def render_dot(flow: m.Flow) -> str:
    title = _quote(f"{flow.name} ({flow.version})")
    lines = [f"digraph {_quote(flow.name)} {{", f'  graph [fontname="Helvetica", labelloc=t, label={title}];']
    lines.append('  node [fontname="Helvetica", shape=box, style=rounded];')
    lines.append('  edge [fontname="Helvetica", fontsize=10];')
    lines.append('  "__entry" [shape=point, label=""];')
    lines.append(f'  "__entry" -> {_quote(flow.entry)} [label="entry"];')
    if flow.after_call:
        lines.append('  "__after_call" [shape=point, label=""];')
        lines.append(f'  "__after_call" -> {_quote(flow.after_call)} [label="after call", style=dashed];')
    for name, node in flow.nodes.items():
        shape = _SHAPES.get(node.kind, "box")
        style = "rounded,bold" if node.waits_for_input else ("rounded" if shape == "box" else "solid")
        if node.kind in _ENDS:
            style = "rounded,filled"
        label = f"{name}\n[{node.kind}]\n{_wrap(summary(node))}"
        extra = ', fillcolor="#eeeeee"' if node.kind in _ENDS else ""
        lines.append(f"  {_quote(name)} [label={_quote(label)}, shape={shape}, style={_quote(style)}{extra}];")
        for ref in node.targets():
            lines.append(f"  {_quote(name)} -> {_quote(ref.target)} [label={_quote(ref.label)}];")
        if isinstance(node, m.GotoNode):
            other = f"flow {node.flow}" + (f":{node.node}" if node.node else "")
            lines.append(f"  {_quote('flow:' + other)} [label={_quote(other)}, shape=folder, style=dashed];")
            lines.append(f"  {_quote(name)} -> {_quote('flow:' + other)} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 40) -> str:
    words, lines, current = text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return "\n".join(lines)


class GraphvizMissing(Exception):
    """The ``dot`` program is not installed."""


def render_image(dot_source: str, output: Path, fmt: str, *, dot_program: str | None = None) -> None:
    """Write ``output`` as ``fmt`` (svg, png, pdf) with Graphviz; raises ``GraphvizMissing``/``RuntimeError``."""
    program = dot_program or shutil.which("dot")
    if program is None:
        raise GraphvizMissing("Graphviz 'dot' is not installed (apt-get install graphviz), or write a .dot file instead")
    try:
        completed = subprocess.run(
            [program, f"-T{fmt}", "-o", str(output)],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GraphvizMissing(f"Graphviz 'dot' not found at {program}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError("Graphviz 'dot' took more than 60 s") from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"Graphviz 'dot' failed: {message[-1] if message else completed.returncode}")
