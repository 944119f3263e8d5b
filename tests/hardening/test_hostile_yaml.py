"""Hostile YAML through every real loader: refused in bounded CPU and memory, one clear line.

Flows (``acd ivr validate``), their holiday calendars, settings (``acd run``), routing
(``acd simulate``) and the SLA contract (``acd sla``) all read YAML through
``acd.yamlpos``; each case runs the real command in its own measured process.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from acd.yamlpos import load_yaml_text
from tests.hardening.hostile import EXPECTED, hostile_yaml, run_acd, run_python

FLOW_WITH_CALENDAR = """\
entry: horario
nodes:
  horario:
    type: schedule
    hours: {mon-fri: 09:00-18:00}
    holidays: HOLIDAYS
    open: fin
    closed: fin
    holiday: fin
  fin: {type: hangup}
"""

ROUTING = """\
skills: [general]
queues: [{name: general, skills: [general]}]
agents: [{id: ana, name: Ana, endpoint: PJSIP/ana, skills: {general: 5}}]
"""


def _flow_file(tmp_path: Path, text: str) -> tuple[list[str], str, int]:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "hostile.yaml").write_text(text)
    return ["ivr", "validate", "--no-sounds", "flows/hostile.yaml"], "flows/hostile.yaml", 1


def _calendar_file(tmp_path: Path, text: str) -> tuple[list[str], str, int]:
    (tmp_path / "flows" / "calendars").mkdir(parents=True)
    (tmp_path / "flows" / "calendars" / "hostile.yaml").write_text(text)
    (tmp_path / "flows" / "main.yaml").write_text(FLOW_WITH_CALENDAR.replace("HOLIDAYS", "calendars/hostile.yaml"))
    return ["ivr", "validate", "--no-sounds", "flows"], "flows/calendars/hostile.yaml", 1


def _settings_file(tmp_path: Path, text: str) -> tuple[list[str], str, int]:
    (tmp_path / "acd.yaml").write_text(text)
    return ["run", "--settings", "acd.yaml"], "acd.yaml", 2


def _routing_file(tmp_path: Path, text: str) -> tuple[list[str], str, int]:
    (tmp_path / "routing.yaml").write_text(text)
    return ["simulate", "--routing", "routing.yaml", "--hours", "1", "--calls-per-hour", "general=10", "--aht", "60"], "routing.yaml", 2


def _contract_file(tmp_path: Path, text: str) -> tuple[list[str], str, int]:
    (tmp_path / "contract.yaml").write_text(text)
    return ["sla", "--month", "2025-01", "--contract", "contract.yaml"], "contract.yaml", 2


LOADERS = {
    "flow": _flow_file,
    "holiday_calendar": _calendar_file,
    "settings": _settings_file,
    "routing": _routing_file,
    "sla_contract": _contract_file,
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("case", sorted(hostile_yaml()))
def test_every_loader_refuses_hostile_yaml_in_bounded_time_and_memory_with_a_positioned_line(
    tmp_path: Path, loader: str, case: str
) -> None:
    argv, file, code = LOADERS[loader](tmp_path, hostile_yaml()[case])
    run = run_acd(*argv, cwd=tmp_path)
    run.assert_clear_refusal(code, EXPECTED[case])
    assert re.search(rf"{re.escape(file)}:\d+:\d+: .*{re.escape(EXPECTED[case])}", run.out + run.err), run.out + run.err
    run.assert_bounded()


def test_deep_nesting_is_refused_at_the_level_where_it_goes_over_the_limit() -> None:
    text = "".join("  " * level + f"k{level}:\n" for level in range(100))
    doc, [problem] = load_yaml_text(text, "deep.yaml")
    assert doc is None
    assert (problem.line, problem.column) == (64, 127)  # the 65th level's value, as an editor counts
    assert problem.message == "nested too deeply (over 64 levels; limits.yaml_max_depth)"


def test_too_many_aliases_points_at_the_first_alias_over_the_limit() -> None:
    text = "base: &b 1\nuses: [" + ", ".join(["*b"] * 101) + "]\n"
    doc, [problem] = load_yaml_text(text, "aliases.yaml")
    assert doc is None
    assert (problem.line, problem.column) == (2, 8 + 4 * 100)
    assert problem.message == "too many aliases (over 100; limits.yaml_max_aliases)"


def test_an_alias_that_contains_itself_is_refused_not_a_recursion() -> None:
    doc, [problem] = load_yaml_text("a: &a [1, *a]\n", "loop.yaml")
    assert doc is None and "nested too deeply" in str(problem) and str(problem).startswith("loop.yaml:1:")


def test_oversized_file_names_its_size_and_the_setting_to_raise(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (12 * 1024 * 1024) + b"\n")
    from acd.yamlpos import load_yaml_file

    doc, [problem] = load_yaml_file(path)
    assert doc is None
    assert str(problem) == f"{path}:1:1: file is 12 MB, over the 1 MB limit (limits.yaml_max_bytes)"


def test_a_binary_tag_no_longer_sets_a_setting_silently(tmp_path: Path) -> None:
    from acd.settings import SettingsError, load_settings

    path = tmp_path / "acd.yaml"
    path.write_text("site: !!binary bGFi\n")  # base64 of "lab": PyYAML would hand pydantic bytes
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1:7: tag '!!binary' is not allowed: write plain values (text, numbers, true/false, lists, mappings)"
    ]


def test_plain_values_with_aliases_within_the_limits_still_load() -> None:
    text = "defaults: &d {wrap_up_s: 10, ring_timeout_s: 15}\nqueues:\n  - {name: a, <<: *d}\n  - {name: b, <<: *d}\n"
    doc, problems = load_yaml_text(text, "ok.yaml")
    assert problems == [] and doc is not None
    assert doc.data["queues"][1] == {"name": "b", "wrap_up_s": 10, "ring_timeout_s": 15}


def test_limits_come_from_the_settings_and_reach_the_routing_loader(tmp_path: Path) -> None:
    from acd.routing import load_routing_config
    from acd.settings import load_settings
    from acd.yamlpos import YamlLimits

    settings_path = tmp_path / "acd.yaml"
    settings_path.write_text("limits: {yaml_max_nodes: 1000}\n")
    limits = load_settings(settings_path, environ={}).limits.yaml()
    assert limits == YamlLimits(max_bytes=1024 * 1024, max_depth=64, max_aliases=100, max_nodes=1000)
    routing = tmp_path / "routing.yaml"
    agents = "".join(f"  - {{id: a{i}, name: A, endpoint: PJSIP/a{i}, skills: {{general: 5}}}}\n" for i in range(200))
    routing.write_text(ROUTING.split("agents:")[0] + "agents:\n" + agents)
    assert load_routing_config(routing)[0] is not None  # the defaults allow it
    config, [problem] = load_routing_config(routing, limits)
    assert config is None and problem.message == "too many values (over 1000; limits.yaml_max_nodes)"


@pytest.mark.parametrize("value", ["inf", "0", "1e15"])
def test_absurd_limits_in_the_settings_are_refused(tmp_path: Path, value: str) -> None:
    from acd.settings import SettingsError, load_settings

    path = tmp_path / "acd.yaml"
    path.write_text(f"limits:\n  yaml_max_bytes: {value}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    [problem] = caught.value.problems
    assert problem.line == 2 and "limits.yaml_max_bytes" in problem.message


HOT_RELOAD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from acd.ivr.registry import FlowRegistry
    sys.path.insert(0, {repo!r})
    from tests.hardening.hostile import ALIAS_BOMB

    GOOD = "name: saludo\\nnumbers: ['100']\\nentry: fin\\nnodes:\\n  fin: {{type: hangup}}\\n"

    async def main():
        folder = Path("flows")
        folder.mkdir()
        (folder / "saludo.yaml").write_text(GOOD)
        registry = FlowRegistry(folder)
        assert registry.load() == []
        before = registry.get("saludo").version
        watcher = asyncio.create_task(registry.watch(poll_interval=0.02))
        (folder / "saludo.yaml").write_text(GOOD + "bomb:\\n" + "".join("  " + line + "\\n" for line in ALIAS_BOMB.splitlines()))
        started = time.process_time()
        while not registry.last_problems:
            await asyncio.sleep(0.01)
        refused_in = time.process_time() - started
        watcher.cancel()
        print(json.dumps({{
            "problems": [str(p) for p in registry.last_problems],
            "serving": registry.get("saludo").version == before,
            "for_number": registry.for_number("100").version == before,
            "cpu_s": refused_in,
        }}))

    asyncio.run(main())
    """
)


def test_hot_reload_refuses_an_alias_bomb_fast_and_keeps_serving_the_previous_version(tmp_path: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    run = run_python(HOT_RELOAD.format(repo=repo), tmp_path)
    assert run.code == 0 and "Traceback" not in run.err, run.err[-2000:]
    result = json.loads(run.out)
    [problem] = result["problems"]
    assert re.fullmatch(r"flows/saludo\.yaml:\d+:\d+: too many values once aliases are expanded .*limits\.yaml_max_nodes\)", problem)
    assert result["serving"] and result["for_number"]
    assert result["cpu_s"] < 2.0
    run.assert_bounded()
    assert "IVR flow change rejected for flows/saludo.yaml; the previous version keeps serving" in run.err


@pytest.mark.parametrize(("text", "where"), [("a: 1\nb: x\udc80\n", (2, 5)), ("a: 😀 \x01\n", (1, 6)), ("ñandú: \x00\n", (1, 8))])
def test_characters_yaml_refuses_are_positioned_in_characters_not_bytes(text: str, where: tuple[int, int]) -> None:
    doc, [problem] = load_yaml_text(text, "odd.yaml")
    assert doc is None and (problem.line, problem.column) == where and "is not allowed in YAML" in problem.message


def test_an_alias_bomb_is_refused_at_the_entry_whose_expansion_goes_over_the_budget() -> None:
    from tests.hardening.hostile import ALIAS_BOMB

    doc, [problem] = load_yaml_text(ALIAS_BOMB, "bomb.yaml")
    assert doc is None
    # a0..a4 expand to about 75,000 values; a5, on line 6, would add about 600,000 more
    assert str(problem) == "bomb.yaml:6:5: too many values once aliases are expanded (over 100000; limits.yaml_max_nodes)"


def test_the_value_past_the_node_budget_is_named_where_the_composer_would_name_it() -> None:
    from acd.yamlpos import YamlLimits

    limits = YamlLimits(max_bytes=1_000_000, max_depth=64, max_aliases=100, max_nodes=1000)
    text = "a: 1\nb:\n" + "".join(f"  - {index}\n" for index in range(2000))
    _, problems = load_yaml_text(text, "big.yaml", limits)
    # mapping, a, 1, b, the list: 5 values; the 1001st value is list item 995, on line 3 + 995
    assert [str(problem) for problem in problems] == ["big.yaml:998:5: too many values (over 1000; limits.yaml_max_nodes)"]
    _, problems = load_yaml_text("a: 1\nb:\n" + "".join(f"  - {index}\n" for index in range(995)), "ok.yaml", limits)
    assert problems == []
