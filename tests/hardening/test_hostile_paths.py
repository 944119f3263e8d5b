"""A file named inside a flow must be inside the flows folder; outside ones are never read or quoted."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from acd.ivr.registry import FlowRegistry
from acd.ivr.validate import validate_paths
from tests.hardening.hostile import run_acd
from tests.hardening.test_hostile_yaml import FLOW_WITH_CALENDAR

#: What the outside file holds: would show up in a "bad date" message if it were read.
OUTSIDE_CONTENT = "CONTENT-FROM-OUTSIDE: root:x:0:0\n"


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    flows = tmp_path / "site" / "flows"
    (flows / "calendars").mkdir(parents=True)
    (flows / "calendars" / "feriados.yaml").write_text("- 2025-09-18\n")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.yaml").write_text(OUTSIDE_CONTENT)
    return flows, outside


def _escape(kind: str, flows: Path, outside: Path) -> str:
    if kind == "dot_dot":
        return "../../secret/passwd.yaml"
    if kind == "dot_dot_through_a_subfolder":
        return "calendars/../../../secret/passwd.yaml"
    if kind == "absolute":
        return str(outside / "passwd.yaml")
    if kind == "symlinked_file":
        os.symlink(outside / "passwd.yaml", flows / "calendars" / "linked.yaml")
        return "calendars/linked.yaml"
    assert kind == "symlinked_folder"
    os.symlink(outside, flows / "shared")
    return "shared/passwd.yaml"


ESCAPES = ["dot_dot", "dot_dot_through_a_subfolder", "absolute", "symlinked_file", "symlinked_folder"]


@pytest.mark.parametrize("kind", ESCAPES)
def test_acd_ivr_validate_refuses_a_holiday_file_outside_the_flows_folder_without_quoting_it(tmp_path: Path, kind: str) -> None:
    flows, outside = _layout(tmp_path)
    name = _escape(kind, flows, outside)
    (flows / "main.yaml").write_text(FLOW_WITH_CALENDAR.replace("HOLIDAYS", f"'{name}'"))
    run = run_acd("ivr", "validate", "--no-sounds", "site/flows", cwd=tmp_path)
    run.assert_clear_refusal(1, "is outside the flows folder")
    assert re.search(r"site/flows/main\.yaml:6:15: nodes\.horario\.holidays: holiday file '.*' is outside the flows folder", run.out), run.out
    assert "CONTENT-FROM-OUTSIDE" not in run.out + run.err and "root:x" not in run.out + run.err
    run.assert_bounded()


def test_the_engine_never_reads_a_holiday_file_outside_its_flows_folder(tmp_path: Path) -> None:
    flows, outside = _layout(tmp_path)
    (flows / "main.yaml").write_text(FLOW_WITH_CALENDAR.replace("HOLIDAYS", "../../secret/passwd.yaml"))
    registry = FlowRegistry(flows)
    [problem] = registry.load()
    assert "outside the flows folder" in problem.message and registry.names == []
    assert registry._deps[flows / "main.yaml"] == ()  # not even watched for changes


@pytest.mark.parametrize("name", ["calendars/feriados.yaml", "calendars/../calendars/feriados.yaml", "ABSOLUTE"])
def test_holiday_files_inside_the_flows_folder_are_still_read(tmp_path: Path, name: str) -> None:
    flows, _ = _layout(tmp_path)
    if name == "ABSOLUTE":
        name = str(flows / "calendars" / "feriados.yaml")
    (flows / "main.yaml").write_text(FLOW_WITH_CALENDAR.replace("HOLIDAYS", f"'{name}'"))
    report = validate_paths([flows])
    assert report.ok, [str(p) for p in report.problems]
    [flow] = report.flows.values()
    assert [str(day) for day in flow.nodes["horario"].schedule.holidays] == ["2025-09-18"]  # type: ignore[attr-defined]
