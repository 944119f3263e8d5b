"""One owner per ``ACD_*`` channel variable (``acd.channel_variables``).

Two writers of one variable means the later one silently wins: the IVR runner used to
blank the ``ACD_QUEUE`` the dispatcher had resolved for a skills-only ``queue`` node, and
the caller was parked in no queue.  The static check keeps a second writer from coming back;
the behavioural one runs the real runner and dispatcher (the lab test does it with Asterisk).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from acd.channel_variables import GLOBAL_FAMILIES, NOT_ENGINE_SET, OWNERS
from acd.ivr.testing import ScriptedChannel
from tests.api.helpers import assemble, make_settings

SRC = Path(__file__).resolve().parents[1] / "src"
DIALPLAN = Path(__file__).resolve().parents[1] / "dialplans" / "acd.conf"

SKILLS_ONLY_FLOW = """
name: habilidades
numbers: ["310"]
entry: cola
nodes:
  cola: {type: queue, skills: [proveedores], fallback: fin}
  fin: {type: hangup}
"""


#: Modules that play Asterisk's part (they answer GET VARIABLE with a channel's values):
#: their ``ACD_*`` dict keys are what a channel holds, not writes.
PLAYS_ASTERISK = {"acd/bench/soak.py"}


def _acd_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ACD_"):
        return node.value
    return None


def _writes(tree: ast.AST) -> set[str]:
    """ACD_* names written: ``set_variable("ACD_X", ...)``, ``{"ACD_X": ...}``, ``d["ACD_X"] = ...``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "set_variable" and node.args:
            names.add(_acd_name(node.args[0]) or "")
        elif isinstance(node, ast.Dict):
            names.update(_acd_name(key) or "" for key in node.keys)
        elif isinstance(node, ast.Assign):
            names.update(_acd_name(t.slice) or "" for t in node.targets if isinstance(t, ast.Subscript))
    return names - {""}


def _dialplan_reads() -> set[str]:
    return set(re.findall(r"\$\{(ACD_[A-Z_]+)\}", DIALPLAN.read_text()))


def test_each_channel_variable_is_written_by_its_owner_only() -> None:
    """Dict keys also name environment variables (``ACD_AMI_SECRET``): only channel variables count.

    ``ACD_SKILLS`` (which the runner once wrote and nothing read) must stay unwritten."""
    channel_variables = _dialplan_reads() | set(OWNERS) | {"ACD_SKILLS"}
    writers: dict[str, set[str]] = {}
    for path in sorted((SRC / "acd").rglob("*.py")):
        if path.stem == "channel_variables" or path.relative_to(SRC).as_posix() in PLAYS_ASTERISK:
            continue
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        for name in _writes(ast.parse(path.read_text(), str(path))) & channel_variables:
            writers.setdefault(name, set()).add(module)
    assert writers == {name: {owner} for name, owner in OWNERS.items()}


def test_every_variable_the_dialplan_reads_has_an_owner() -> None:
    assert _dialplan_reads() - set(OWNERS) - set(NOT_ENGINE_SET) == set()


def test_each_family_of_globals_is_named_by_its_owner_only_and_read_by_the_dialplan() -> None:
    """``ACD_AGENT_ENDPOINT_<agent id>``: built from a prefix, so the check above cannot see it."""
    families = set(re.findall(r"\$\{(ACD_[A-Z_]+_)\$\{", DIALPLAN.read_text()))
    assert families == set(GLOBAL_FAMILIES)
    for prefix, owner in GLOBAL_FAMILIES.items():
        naming = set()
        for path in sorted((SRC / "acd").rglob("*.py")):
            if path.stem == "channel_variables":
                continue
            tree = ast.parse(path.read_text(), str(path))
            if any(isinstance(node, ast.Constant) and node.value == prefix for node in ast.walk(tree)):
                naming.add(".".join(path.relative_to(SRC).with_suffix("").parts))
        assert naming == {owner}


async def test_skills_only_queue_node_leaves_the_resolved_queue_on_the_channel(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    (settings.ivr.flows_dir / "habilidades.yaml").write_text(SKILLS_ONLY_FLOW)
    app, _, _ = assemble(settings)
    channel = ScriptedChannel(dialed="310", call_id="c-skills")
    result = await app.runner.run(app.flows.snapshot().for_number("310"), channel)
    assert (result.action, result.skills) == ("queue", ("proveedores",))
    assert channel.variables["ACD_QUEUE"] == "proveedores"  # what acd-hold puts in AcdParked
    assert channel.variables["ACD_ACTION"] == "queue" and channel.variables["ACD_CALL_ID"] == "c-skills"
