"""Checks over a whole set of flows: what no single file can tell on its own.

``goto`` must name a flow of the set, a node must be reachable from an entry point (its
own flow's ``entry``/``after_call`` or a ``goto`` from anywhere), every loop must wait for
the caller somewhere, a dialed number belongs to one flow only, and prompts must exist in
the sounds folder when one is known.

Loop rule: only ``menu``, ``collect`` and ``survey`` wait for the caller.  A cycle made only
of other nodes is an error, even through an interruptible ``play``: a play node has a
single ``next``, so a key pressed during it cannot leave the cycle, and the caller would
hear the same prompts until the runaway guard hangs up.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

from acd.ivr import model as m
from acd.ivr.loader import LoadedFile
from acd.ivr.sounds import SoundLibrary
from acd.yamlpos import Problem

NodeId = tuple[str, str]  # (flow name, node name)


def check_flow_set(loaded: Sequence[LoadedFile], sounds: SoundLibrary | None = None) -> list[Problem]:
    """Problems of the set as a whole, each placed in the file that has to change."""
    flows = _unique_flows(loaded)
    problems = _duplicate_names(loaded)
    known = {item.declared_name for item in loaded if item.declared_name}
    problems += _numbers(flows.values())
    problems += _gotos(flows, known)
    problems += _unreachable(flows)
    problems += _input_less_loops(flows)
    if sounds is not None:
        problems += _prompts(flows.values(), sounds)
    return problems


def _unique_flows(loaded: Sequence[LoadedFile]) -> dict[str, m.Flow]:
    flows: dict[str, m.Flow] = {}
    for item in sorted(loaded, key=lambda item: str(item.path)):
        if item.flow is not None and item.flow.name not in flows:
            flows[item.flow.name] = item.flow
    return flows


def _duplicate_names(loaded: Sequence[LoadedFile]) -> list[Problem]:
    problems = []
    first: dict[str, LoadedFile] = {}
    for item in sorted(loaded, key=lambda item: str(item.path)):
        if not item.declared_name:
            continue
        if item.declared_name not in first:
            first[item.declared_name] = item
            continue
        if item.flow is not None:
            other = first[item.declared_name].path.name
            problems.append(item.flow.problem_at(("name",), f"name: flow name '{item.declared_name}' is already used by {other}"))
    return problems


def number_matches(pattern: str, dialed: str) -> bool:
    if pattern.endswith("..."):
        return dialed.startswith(pattern[:-3])
    return dialed == pattern


def _numbers(flows: Iterable[m.Flow]) -> list[Problem]:
    problems = []
    owner: dict[str, m.Flow] = {}
    for flow in flows:
        for index, number in enumerate(flow.numbers):
            if number in owner:
                other = owner[number]
                whom = "this flow already" if other is flow else f"flow '{other.name}' ({other.path.name})"
                problems.append(flow.problem_at(("numbers", index), f"numbers.{index}: '{number}' is already answered by {whom}"))
            else:
                owner[number] = flow
    return problems


def _gotos(flows: dict[str, m.Flow], known: set[str]) -> list[Problem]:
    problems = []
    for flow in flows.values():
        for node in flow.nodes.values():
            if not isinstance(node, m.GotoNode):
                continue
            base = ("nodes", node.name)
            if node.flow not in known:
                names = ", ".join(sorted(known)) or "none"
                problems.append(
                    flow.problem_at(
                        base + ("flow",),
                        f"nodes.{node.name}.flow: no flow named '{node.flow}' among the validated flows (known: {names})",
                    )
                )
                continue
            target = flows.get(node.flow)
            if target is not None and node.node is not None and node.node not in target.nodes:
                problems.append(
                    flow.problem_at(base + ("node",), f"nodes.{node.name}.node: flow '{node.flow}' has no node named '{node.node}'")
                )
    return problems


def _successors(flows: dict[str, m.Flow], flow: m.Flow, node: m.Node) -> list[NodeId]:
    if isinstance(node, m.GotoNode):
        target = flows.get(node.flow)
        if target is None:
            return []
        entry = node.node or target.entry
        return [(target.name, entry)] if entry in target.nodes else []
    return [(flow.name, ref.target) for ref in node.targets() if ref.target in flow.nodes]


def _unreachable(flows: dict[str, m.Flow]) -> list[Problem]:
    roots: dict[str, set[str]] = {
        name: {flow.entry} | ({flow.after_call} if flow.after_call else set()) for name, flow in flows.items()
    }
    for flow in flows.values():
        for node in flow.nodes.values():
            if isinstance(node, m.GotoNode) and node.node and node.flow in roots:
                roots[node.flow].add(node.node)
    problems = []
    for name, flow in flows.items():
        seen: set[str] = set()
        queue = deque(root for root in roots[name] if root in flow.nodes)
        while queue:
            current = queue.popleft()
            if current in seen:
                continue
            seen.add(current)
            queue.extend(ref.target for ref in flow.nodes[current].targets() if ref.target in flow.nodes)
        starts = f"entry '{flow.entry}'" + (f" or after_call '{flow.after_call}'" if flow.after_call else "")
        for node_name in flow.nodes:
            if node_name not in seen:
                problems.append(
                    flow.problem_at(
                        ("nodes", node_name),
                        f"nodes.{node_name}: never reached from {starts}; link it from another node or delete it",
                        key=True,
                    )
                )
    return problems


def _input_less_loops(flows: dict[str, m.Flow]) -> list[Problem]:
    """Cycles through nodes that never wait for the caller (strongly connected components)."""
    graph: dict[NodeId, list[NodeId]] = {}
    for flow in flows.values():
        for node in flow.nodes.values():
            if node.waits_for_input:
                continue
            graph[(flow.name, node.name)] = []
    for node_id in graph:
        flow = flows[node_id[0]]
        graph[node_id] = [succ for succ in _successors(flows, flow, flow.nodes[node_id[1]]) if succ in graph]
    problems = []
    for component in _strongly_connected(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        start = min(component, key=lambda node_id: (str(flows[node_id[0]].path), _line(flows[node_id[0]], node_id[1])))
        cycle = _cycle_through(start, graph, set(component))
        home = start[0]
        shown = " → ".join(node if flow == home else f"{flow}:{node}" for flow, node in cycle)
        flow = flows[home]
        problems.append(
            flow.problem_at(
                ("nodes", start[1]),
                f"nodes.{start[1]}: loop that never waits for the caller: {shown}; "
                "put a menu, collect or survey in the loop (an interruptible play does not count)",
                key=True,
            )
        )
    return problems


def _line(flow: m.Flow, node: str) -> tuple[int, int]:
    return flow.source.where(("nodes", node), key=True) if flow.source else (0, 0)


def _strongly_connected(graph: dict[NodeId, list[NodeId]]) -> list[list[NodeId]]:
    """Tarjan's algorithm, iterative so a huge generated flow cannot exhaust the stack."""
    index: dict[NodeId, int] = {}
    low: dict[NodeId, int] = {}
    stack: list[NodeId] = []
    on_stack: set[NodeId] = set()
    components: list[list[NodeId]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[NodeId, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph[node]
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_through(start: NodeId, graph: dict[NodeId, list[NodeId]], members: set[NodeId]) -> list[NodeId]:
    """Shortest path start → … → start inside one component."""
    previous: dict[NodeId, NodeId] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for succ in graph[current]:
            if succ not in members:
                continue
            if succ == start:
                path = [current]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if succ not in previous:
                previous[succ] = current
                queue.append(succ)
    return [start, start]


def _prompts(flows: Iterable[m.Flow], sounds: SoundLibrary) -> list[Problem]:
    problems = []
    for flow in flows:
        languages = (flow.language, flow.fallback_language)
        for node in flow.nodes.values():
            for ref in node.prompt_refs():
                if not sounds.exists(ref.prompt, languages):
                    path = ("nodes", node.name) + ref.path
                    label = ".".join(str(part) for part in path)
                    problems.append(
                        flow.problem_at(
                            path,
                            f"{label}: prompt '{ref.prompt}' not found in language '{flow.language}' "
                            f"or '{flow.fallback_language}' under {sounds.root}",
                        )
                    )
    return problems
