"""Which package of ``acd`` may import which: the layering, checked on the source.

The rule, for the core packages (bottom to top; a package imports only itself, the
foundation modules and the tiers *below* its own, never a sibling in the same tier)::

    tier 2   asterisk   metrics      wire formats (FastAGI, AMI) | the record: store, ledger, reports, SLA
    tier 1   ivr        routing      the flow language and runner | the pure ACD core
    tier 0   base                    the event model and the business calendar

    foundation: bounds, yamlpos, privacy, private_files — importable from everywhere,
    they import only each other.

Everything else (``app``, ``engine``, ``dispatch``, ``api``, ``cli``, ``lab``, ``bench``,
``sim``, ``callbacks``, ``waiting``, ``settings``…) is an edge: it may import the core
freely, and the core may never import it.  No package, core or edge, lies on an import
cycle: the edges stack too (``cli`` over ``bench`` over ``lab`` over ``app`` over ``api``,
which reads the engine only through :class:`acd.api.port.ServedEngine`).

``planning`` (Erlang, forecasts, the simulator) sits on the core and is used only by the
command line and the benchmarks (``PLANNING_USERS``): the engine never imports it, and it
imports only the core, the foundation and itself (the simulator's events come from
``acd.routing.outcome_events``, as the dispatcher's do).

Every ``import`` counts, at module level or late inside a function, and so do imports
under ``if TYPE_CHECKING:``: a late or type-only import hides a dependency, it does not
remove it.  The check parses the source (``ast``), so it needs no import side effects and
runs in well under a second.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path


SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "acd"

#: Core tiers, bottom first.
CORE_TIERS: list[set[str]] = [
    {"base"},
    {"ivr", "routing"},
    {"asterisk", "metrics"},
]
FOUNDATION = {"bounds", "yamlpos", "privacy", "private_files"}

#: The only packages that may import ``planning``.
PLANNING_USERS = {"cli", "bench"}

#: Core imports that break the rule today, each with why and how it goes away.
KNOWN_CORE_EXCEPTIONS: dict[tuple[str, str], str] = {
}

#: Planning imports outside the core, each with why and how it goes away (none today).
KNOWN_PLANNING_EXCEPTIONS: dict[tuple[str, str], str] = {}

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str:
    """``acd.metrics.store`` -> ``metrics``; ``acd.app`` -> ``app``; ``acd`` -> ``acd``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path, module: str) -> set[str]:
    """Every ``acd`` module named by an import anywhere in the file (late imports included)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from acd.metrics import render`` imports the module acd.metrics.render
            found.update(f"{target}.{alias.name}" for alias in node.names if _is_module(f"{target}.{alias.name}"))
    return {name for name in found if name == "acd" or name.startswith("acd.")}


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``acd`` modules it imports."""
    return {_module_name(path): _imports(path, _module_name(path)) for path in sorted(ROOT.rglob("*.py"))}


def _tier(package: str) -> int | None:
    return next((index for index, tier in enumerate(CORE_TIERS) if package in tier), None)


def core_violations(graph: dict[str, set[str]]) -> list[str]:
    problems: list[str] = []
    for module, targets in sorted(graph.items()):
        source = _package(module)
        own = _tier(source)
        for target in sorted(targets):
            dest = _package(target)
            if dest == source or target == "acd":  # ``from acd import __version__``
                continue
            if source in FOUNDATION:
                if dest not in FOUNDATION:
                    problems.append(f"{module} imports {target}: a foundation module imports only foundation modules")
                continue
            if own is None or dest in FOUNDATION:
                continue
            if (module, target) in KNOWN_CORE_EXCEPTIONS:
                continue
            theirs = _tier(dest)
            if theirs is None:
                problems.append(f"{module} imports {target}: core package '{source}' imports edge '{dest}'")
            elif theirs >= own:
                where = "the same tier" if theirs == own else "a higher tier"
                problems.append(f"{module} imports {target}: '{source}' (tier {own}) imports '{dest}' ({where}, {theirs})")
    return problems


def package_graph(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(package, package) -> the module imports behind that edge."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, targets in graph.items():
        for target in targets:
            pair = (_package(module), _package(target))
            if pair[0] != pair[1] and target != "acd":
                edges[pair].append(f"{module} -> {target}")
    return edges


def cycle_edges(edges: dict[tuple[str, str], list[str]]) -> set[tuple[str, str]]:
    """The package edges that lie on a cycle: both ends in one strongly connected component."""
    successors: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        successors[a].add(b)

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in successors[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {node: reachable(node) for node in list(successors)}
    return {(a, b) for a, b in edges if a in reach.get(b, set())}


GRAPH = import_graph()
EDGES = package_graph(GRAPH)


def test_the_graph_sees_the_packages() -> None:
    """A parser that found nothing would pass every rule below."""
    assert {"acd.base.events", "acd.routing.router", "acd.metrics.ledger"} <= set(GRAPH)
    assert "acd.base.events" in GRAPH["acd.metrics.ledger"]
    assert ("metrics", "base") in EDGES


def test_every_core_tier_package_exists() -> None:
    for tier in CORE_TIERS:
        for package in tier:
            assert (ROOT / package / "__init__.py").exists(), package
    for module in FOUNDATION:
        assert (ROOT / f"{module}.py").exists(), module


def test_core_packages_import_only_themselves_and_lower_tiers() -> None:
    problems = core_violations(GRAPH)
    assert not problems, "layering broken (see tests/test_layering.py's docstring):\n  " + "\n  ".join(problems)


def test_known_core_exceptions_still_exist() -> None:
    """An exception that was fixed must leave the list, so the list only shrinks."""
    gone = [f"{a} -> {b}" for a, b in KNOWN_CORE_EXCEPTIONS if b not in GRAPH.get(a, set())]
    assert not gone, "fixed, remove from KNOWN_CORE_EXCEPTIONS: " + ", ".join(gone)


def test_the_rule_catches_an_upward_and_a_sideways_import() -> None:
    graph = {
        "acd.base.events": {"acd.metrics.store"},  # upward
        "acd.routing.config": {"acd.ivr.model"},  # sideways, same tier
        "acd.ivr.runner": {"acd.base.events", "acd.privacy"},  # allowed
        "acd.metrics.live": {"acd.dispatch"},  # core -> edge
    }
    problems = core_violations(graph)
    assert len(problems) == 3, problems
    assert any("acd.base.events imports acd.metrics.store" in p for p in problems)
    assert any("same tier" in p for p in problems)
    assert any("imports edge 'dispatch'" in p for p in problems)


def test_cycle_detection_finds_a_cycle_and_only_it() -> None:
    edges = {("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}
    assert cycle_edges(edges) == {("a", "b"), ("b", "c"), ("c", "a")}


def test_no_core_package_is_on_an_import_cycle() -> None:
    core = set().union(*CORE_TIERS) | FOUNDATION
    on_cycle = sorted(edge for edge in cycle_edges(EDGES) if edge[0] in core or edge[1] in core)
    assert not on_cycle, "\n".join(f"{a} -> {b}: {EDGES[(a, b)]}" for a, b in on_cycle)


def test_no_package_is_on_an_import_cycle() -> None:
    """Edges too: a cycle between edge packages means neither can be understood (or moved) alone."""
    found = sorted(cycle_edges(EDGES))
    assert not found, "import cycle between packages:\n  " + "\n  ".join(f"{a} -> {b}: {sorted(EDGES[(a, b)])[:3]}" for a, b in found)


def planning_violations(graph: dict[str, set[str]]) -> list[str]:
    allowed = set().union(*CORE_TIERS) | FOUNDATION | {"planning"}
    problems: list[str] = []
    for module, targets in sorted(graph.items()):
        source = _package(module)
        for target in sorted(targets):
            dest = _package(target)
            if dest == "planning" and source not in PLANNING_USERS | {"planning"}:
                problems.append(f"{module} imports {target}: only {sorted(PLANNING_USERS)} may use planning, never the engine")
            elif source == "planning" and dest not in allowed and target != "acd" and (module, target) not in KNOWN_PLANNING_EXCEPTIONS:
                problems.append(f"{module} imports {target}: planning imports only the core and the foundation")
    return problems


def test_the_engine_never_imports_planning() -> None:
    problems = planning_violations(GRAPH)
    assert not problems, "\n  ".join(["planning layering broken:"] + problems)
    assert ("cli", "planning") in EDGES  # the rule looked at real edges


def test_the_planning_rule_catches_the_engine_importing_it() -> None:
    graph = {"acd.engine": {"acd.planning.erlang"}, "acd.planning.sim.engine": {"acd.app", "acd.routing"}}
    assert len(planning_violations(graph)) == 2


def test_known_planning_exceptions_still_exist() -> None:
    gone = [f"{a} -> {b}" for a, b in KNOWN_PLANNING_EXCEPTIONS if b not in GRAPH.get(a, set())]
    assert not gone, "fixed, remove from KNOWN_PLANNING_EXCEPTIONS: " + ", ".join(gone)
