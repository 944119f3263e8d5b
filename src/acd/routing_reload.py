"""Routing hot reload: a saved ``routing.yaml`` applies to the running engine.

Adding an agent or changing a skill must not need a restart: a restart drops decisions
in flight and the SLA counts it as an outage.  The file is watched (checked every
``routing.reload_interval_s``); ``SIGHUP``, ``acd routing reload`` and the control API's
``POST /routing/reload`` ask for a check at once.  A new version is checked with exactly
the checks ``acd routing validate`` applies; an invalid one is refused — logged with its
``FILE:LINE:COL`` problems and a ``routing.rejected`` event — and the previous routing
keeps serving.  A valid one is handed to ``apply`` (the application's: router, dispatcher,
live figures, waiting service, callback rules; see :mod:`acd.routing.reconfigure` for what
happens to calls and agents) and logged as a ``routing.reloaded`` event naming what
changed.

Failure rule: nothing here ever stops the engine; a file that cannot be read is treated
like an invalid one, and ``apply`` raising is logged with the routing left as it was
before the call (the router applies a file all at once or not at all).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from acd.base.disk_signature import ChangeGate, disk_signature
from acd.routing import RoutingConfig, load_routing_config
from acd.routing.reconfigure import routing_changes
from acd.yamlpos import DEFAULT_LIMITS, YamlLimits, read_limited

log = logging.getLogger("acd.routing.reload")

MAX_PROBLEMS_IN_EVENT = 20


@dataclass(frozen=True)
class ReloadResult:
    """What a check found: ``unchanged``, ``applied`` (with ``changes``) or ``rejected`` (with ``problems``)."""

    status: str
    version: str
    changes: dict[str, list[str]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def file_version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


class RoutingReloader:
    """Watches one routing file and applies each new valid version exactly once."""

    def __init__(
        self,
        path: Path,
        current: RoutingConfig,
        apply: Callable[[RoutingConfig], None],
        emit: Callable[..., None],
        limits: YamlLimits = DEFAULT_LIMITS,
    ) -> None:
        self.path = path
        self.limits = limits
        self.current = current
        self._apply = apply
        self._emit = emit
        self._seen = self._read_version()  # the version the engine started with

    def _read_version(self) -> str:
        """Checked every interval: never more than the YAML size limit is read."""
        try:
            return file_version(read_limited(self.path, self.limits))
        except OSError:
            return "unreadable"

    def check(self) -> ReloadResult:
        """Apply the file if it changed since the last check (valid or not, a version is judged once)."""
        version = self._read_version()
        if version == self._seen:
            return ReloadResult("unchanged", version)
        self._seen = version
        config, problems = load_routing_config(self.path, self.limits)
        if config is None or problems:
            lines = tuple(str(problem) for problem in problems) or (f"{self.path}: routing configuration could not be loaded",)
            for line in lines:
                log.error("routing reload refused, the previous routing keeps serving: %s", line)
            self._emit("routing.rejected", data={"file": str(self.path), "version": version, "problems": list(lines[:MAX_PROBLEMS_IN_EVENT])})
            return ReloadResult("rejected", version, problems=lines)
        changes = routing_changes(self.current, config)
        try:
            self._apply(config)
        except Exception:  # noqa: BLE001 - a surprise must not stop the engine
            log.exception("routing reload of %s failed; the previous routing keeps serving", self.path)
            return ReloadResult("rejected", version, problems=("internal error while applying; see the engine log",))
        self.current = config
        summary = ", ".join(f"{key} {', '.join(names)}" for key, names in changes.items() if names) or "no routing change"
        log.info("routing reloaded from %s (version %s): %s", self.path, version, summary)
        self._emit("routing.reloaded", data={"file": str(self.path), "version": version, "changes": changes})
        return ReloadResult("applied", version, changes=changes)

    async def watch(self, interval_s: float, gate: ChangeGate | None = None) -> None:
        """Check every ``interval_s`` until cancelled: a ``stat`` of the file, read only when
        that moved (:mod:`acd.base.disk_signature`) or every ``gate.full_every_s``."""
        gate = gate or ChangeGate()
        while True:
            await asyncio.sleep(interval_s)
            try:
                if gate.due(disk_signature([self.path])):
                    self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                log.exception("routing reload check failed; the previous routing keeps serving")
