"""The flows in service, reloaded when their files change, without touching live calls.

Ops staff save a file; within a poll interval the registry notices (content hash of the
flow and of the holiday files it reads), validates the whole candidate set, and swaps in
a new immutable ``FlowSet`` for *new* calls.  Calls in progress keep the ``Flow`` (and the
snapshot) they started with.  An edit with any problem is rejected: each problem is
logged as ``FILE:LINE:COL: message`` at WARNING and the previous version keeps serving.

Changes are judged file by file: a bad edit to one flow does not block a good edit to
another saved at the same time.  A change that breaks a flow nobody edited (removing a
flow another one ``goto``s, taking a dialed number already in use) is rejected as a whole.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping

from acd.base.disk_signature import ChangeGate, Signature, disk_signature
from acd.ivr.checks import check_flow_set, number_matches
from acd.ivr.compile import MISSING
from acd.ivr.loader import LoadedFile, content_hash, load_flow_file
from acd.ivr.model import Flow
from acd.ivr.sounds import SoundLibrary
from acd.ivr.validate import flow_files_in
from acd.yamlpos import DEFAULT_LIMITS, Problem, YamlLimits, read_limited, sorted_problems

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class FlowSet(Mapping[str, Flow]):
    """An immutable snapshot of the flows in service: by name and by dialed number."""

    by_name: Mapping[str, Flow] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, name: str) -> Flow:
        return self.by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def for_number(self, dialed: str) -> Flow | None:
        """The flow answering ``dialed``: an exact number first, else the longest ``prefix...``."""
        best: tuple[int, Flow] | None = None
        for flow in self.by_name.values():
            for pattern in flow.numbers:
                if pattern == dialed:
                    return flow
                if pattern.endswith("...") and number_matches(pattern, dialed):
                    length = len(pattern) - 3
                    if best is None or length > best[0]:
                        best = (length, flow)
        return best[1] if best else None


class FlowRegistry:
    """Flows of one folder.  ``get``/``for_number``/``snapshot`` are cheap and never block."""

    def __init__(self, directory: str | Path, *, sounds_dir: str | Path | None = None, limits: YamlLimits = DEFAULT_LIMITS) -> None:
        self.directory = Path(directory)
        self.limits = limits  # a saved file is read inside the engine: bounded, or it could take it down
        self.sounds_dir = Path(sounds_dir) if sounds_dir is not None else None
        self._serving: dict[Path, LoadedFile] = {}
        self._seen: dict[Path, str] = {}  # fingerprints judged at the last scan
        self._deps: dict[Path, tuple[Path, ...]] = {}  # holiday files each flow file read last time
        self._snapshot = FlowSet()
        self._lock = threading.Lock()
        self.last_problems: tuple[Problem, ...] = ()

    # -- reading ------------------------------------------------------------------------

    def snapshot(self) -> FlowSet:
        return self._snapshot

    def get(self, name: str) -> Flow:
        """The current version of flow ``name``; ``KeyError`` when there is none."""
        return self._snapshot[name]

    def for_number(self, dialed: str) -> Flow | None:
        return self._snapshot.for_number(dialed)

    @property
    def names(self) -> list[str]:
        return sorted(self._snapshot)

    # -- loading ------------------------------------------------------------------------

    def load(self) -> list[Problem]:
        """Scan the folder now; returns the problems of rejected files (also logged)."""
        if not self.directory.is_dir():
            log.warning("IVR flows folder %s does not exist; no flow is served until it does", self.directory)
        return self.reload(force=True)

    def reload(self, *, force: bool = False) -> list[Problem]:
        with self._lock:
            fingerprints = self._scan()
            if not force and fingerprints == self._seen:
                return []
            self._seen = fingerprints
            problems = self._apply(fingerprints)
            self.last_problems = tuple(problems)
            return problems

    async def watch(self, poll_interval: float = 0.5, gate: ChangeGate | None = None) -> None:
        """Poll the folder until cancelled; saved changes reach new calls within one interval.

        Each poll only lists the folder and ``stat``s the files (:mod:`acd.base.disk_signature`);
        the files are read (in a worker thread) when that signature moves, and in any case
        every ``gate.full_every_s``."""
        gate = gate or ChangeGate()
        while True:
            try:
                if gate.due(self.disk_signature()):
                    await asyncio.to_thread(self.reload)
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                log.exception("IVR flow reload failed; the previous flows keep serving")
            await asyncio.sleep(poll_interval)

    def disk_signature(self) -> Signature:
        """The flow files and the holiday files they read, as ``stat`` sees them (no bytes read)."""
        files = flow_files_in(self.directory)
        deps = sorted({dep for path in files for dep in self._deps.get(path, ())})
        return disk_signature([*files, *deps])

    def _scan(self) -> dict[Path, str]:
        """Fingerprint of every flow file: its bytes plus the holiday files it read last time."""
        fingerprints = {}
        for path in flow_files_in(self.directory):
            try:
                content = read_limited(path, self.limits)
            except OSError:
                continue
            deps = []
            for dep in self._deps.get(path, ()):
                try:
                    deps.append((dep, read_limited(dep, self.limits)))
                except OSError:
                    deps.append((dep, MISSING))
            fingerprints[path] = content_hash(content, deps)
        return fingerprints

    def _apply(self, fingerprints: dict[Path, str]) -> list[Problem]:
        changed = {
            path for path, fingerprint in fingerprints.items()
            if path not in self._serving or self._serving[path].fingerprint != fingerprint
        }  # fmt: skip
        removed = {path for path in self._serving if path not in fingerprints}
        if not changed and not removed:
            return []
        fresh = {path: load_flow_file(path, self.limits) for path in sorted(changed)}
        for path, item in fresh.items():
            self._deps[path] = item.dependencies
        problems: list[Problem] = [problem for item in fresh.values() for problem in item.problems]
        accepted = {path: item for path, item in fresh.items() if item.flow is not None}
        sounds = SoundLibrary(self.sounds_dir) if self.sounds_dir is not None else None
        while True:
            candidate = {path: item for path, item in self._serving.items() if path not in removed}
            candidate.update(accepted)
            set_problems = check_flow_set(list(candidate.values()), sounds)
            if not set_problems:
                break
            blamed = {Path(problem.file) for problem in set_problems}
            culprits = blamed & set(accepted)
            if culprits:
                problems += [problem for problem in set_problems if Path(problem.file) in culprits]
                for path in culprits:
                    del accepted[path]
                continue
            # The problem sits in a file nobody changed: some change broke it.  Keep everything as it was.
            problems += set_problems
            accepted.clear()
            removed = set()
            candidate = dict(self._serving)
            break
        for path, item in accepted.items():
            previous = self._serving.get(path)
            log.info(
                "IVR flow %s %s from %s (version %s)",
                item.flow.name if item.flow else "?",
                "updated" if previous else "loaded",
                path,
                item.fingerprint,
            )
        for path in removed:
            log.info("IVR flow file %s removed", path)
        self._serving = candidate
        self._snapshot = FlowSet(MappingProxyType({item.flow.name: item.flow for item in candidate.values() if item.flow}))
        problems = sorted_problems(problems)
        for problem in problems:
            log.warning("%s", problem)
        rejected = sorted({problem.file for problem in problems})
        if rejected:
            log.warning("IVR flow change rejected for %s; the previous version keeps serving", ", ".join(rejected))
        return problems
