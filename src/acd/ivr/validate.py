"""Validate flow files: the entry points behind ``acd ivr validate`` and the registry.

A folder means the flow files directly inside it (``*.yaml``/``*.yml``; holiday calendars
live in a subfolder such as ``calendars/`` so they are not taken for flows).  All files
are loaded, then checked as one set, and every problem is returned sorted by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable, Sequence

from acd.base.holiday_calendar import coming_years, stale_calendar_warning
from acd.ivr.checks import check_flow_set
from acd.ivr.loader import LoadedFile, load_flow_bytes, load_flow_file
from acd.ivr.model import Flow
from acd.ivr.sounds import SoundLibrary
from acd.yamlpos import DEFAULT_LIMITS, Problem, YamlLimits, sorted_problems

FLOW_SUFFIXES = (".yaml", ".yml")


class FlowPathError(Exception):
    """A path given on the command line that is neither a flow file nor a folder."""


@dataclass(frozen=True)
class ValidationReport:
    files: tuple[LoadedFile, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def flows(self) -> dict[str, Flow]:
        """Flows without any problem, by name."""
        bad = {problem.file for problem in self.problems}
        return {item.flow.name: item.flow for item in self.files if item.flow is not None and str(item.path) not in bad}


def is_flow_file(path: Path) -> bool:
    return path.suffix.lower() in FLOW_SUFFIXES and not path.name.startswith(".")


def flow_files_in(folder: Path) -> list[Path]:
    try:
        return sorted(path for path in folder.iterdir() if is_flow_file(path) and path.is_file())
    except OSError:
        return []


def collect_flow_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders; raise ``FlowPathError`` for a path that does not exist."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(flow_files_in(path))
        elif path.is_file():
            files.append(path)
        else:
            raise FlowPathError(f"{raw}: no such file or folder")
    unique: dict[Path, None] = {}
    for file in files:
        unique.setdefault(file, None)
    return list(unique)


def validate_loaded(loaded: Sequence[LoadedFile], sounds: SoundLibrary | None = None) -> ValidationReport:
    problems = [problem for item in loaded for problem in item.problems]
    problems += check_flow_set(loaded, sounds)
    return ValidationReport(tuple(loaded), tuple(sorted_problems(problems)))


def validate_files(files: Sequence[str | Path], sounds: SoundLibrary | None = None, limits: YamlLimits = DEFAULT_LIMITS) -> ValidationReport:
    return validate_loaded([load_flow_file(file, limits) for file in files], sounds)


def validate_paths(
    paths: Iterable[str | Path], sounds_dir: str | Path | None = None, limits: YamlLimits = DEFAULT_LIMITS
) -> ValidationReport:
    """Validate files and folders; ``sounds_dir`` enables the prompt check."""
    sounds = SoundLibrary(sounds_dir) if sounds_dir is not None else None
    return validate_files(collect_flow_files(paths), sounds, limits)


def validate_text(text: str | bytes, file: str = "flow.yaml", sounds: SoundLibrary | None = None) -> list[Problem]:
    """Problems of one flow given as text (as a set of its own); never raises on any input."""
    content = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return list(validate_loaded([load_flow_bytes(content, file)], sounds).problems)


def stale_calendar_warnings(report: ValidationReport, today: date) -> list[str]:
    """A warning per schedule node whose holiday list stops before the coming twelve months end."""
    warnings = []
    for item in report.files:
        flow = item.flow
        if flow is None:
            continue
        for node in flow.nodes.values():
            schedule = getattr(node, "schedule", None)
            if schedule is None:
                continue
            warning = stale_calendar_warning(f"{item.path}: node '{node.name}'", schedule.holidays, coming_years(today))
            if warning:
                warnings.append(warning)
    return warnings
