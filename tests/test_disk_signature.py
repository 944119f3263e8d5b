"""File watchers read files only when a ``stat`` says they moved (or a full read is due)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

import acd.ivr.registry as registry_module
from acd.base.disk_signature import ChangeGate, disk_signature
from acd.ivr.registry import FlowRegistry

FLOW = "name: f\nnumbers: ['{number}']\nentry: f\nnodes:\n  f: {{type: hangup}}\n"


def count_reads(module: object, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file ``module`` reads through ``read_limited`` from now on."""
    reads: list[Path] = []
    real = module.read_limited  # type: ignore[attr-defined]

    def counting(path, limits):  # noqa: ANN001, ANN202
        reads.append(Path(path))
        return real(path, limits)

    monkeypatch.setattr(module, "read_limited", counting)
    return reads


async def eventually(condition, polls: int = 500) -> None:  # noqa: ANN001
    """Poll every 10 ms until ``condition()`` holds; the bound only keeps a broken build from hanging."""
    for _ in range(polls):
        if condition():
            return
        await asyncio.sleep(0.01)
    assert condition()


def test_a_save_moves_the_signature_even_with_the_same_size_and_modification_time(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("one")
    before = disk_signature([path])
    status = path.stat()
    path.write_text("two")  # same size
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))  # the modification time put back
    assert disk_signature([path]) != before  # ctime cannot be put back
    assert disk_signature([path]) == disk_signature([path])


def test_a_missing_file_has_a_signature_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "gone.yaml"
    assert disk_signature([path]) == ((str(path),),)
    path.write_text("x")
    assert disk_signature([path]) != ((str(path),),)


def test_the_gate_asks_for_a_read_on_change_and_when_the_full_read_is_due() -> None:
    now = [0.0]
    gate = ChangeGate(full_every_s=10, clock=lambda: now[0])
    first = (("a", 1, 2, 3, 4),)
    assert gate.due(first)  # never read yet
    now[0] = 1
    assert not gate.due(first)
    assert gate.due((("a", 1, 2, 3, 5),))  # moved
    now[0] = 9
    assert not gate.due((("a", 1, 2, 3, 5),))
    now[0] = 11.5
    assert gate.due((("a", 1, 2, 3, 5),))  # 10 s since the last read


async def test_an_idle_flows_folder_is_listed_but_not_read_and_an_edit_still_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f.yaml").write_text(FLOW.format(number="100"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    reads = count_reads(registry_module, monkeypatch)
    watcher = asyncio.create_task(registry.watch(poll_interval=0.01, gate=ChangeGate(full_every_s=3600)))
    try:
        await asyncio.sleep(0.3)  # ~30 polls
        assert len(reads) <= 1  # the first poll reads; the idle ones only stat
        (tmp_path / "f.yaml").write_text(FLOW.format(number="200"))
        await eventually(lambda: registry.for_number("200") is not None)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_a_change_the_signature_cannot_see_is_read_at_the_next_full_check(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FLOW.format(number="100"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    registry.disk_signature = lambda: ()  # type: ignore[method-assign]  # as if nothing ever moved
    now = [0.0]
    gate = ChangeGate(full_every_s=10, clock=lambda: now[0])
    watcher = asyncio.create_task(registry.watch(poll_interval=0.01, gate=gate))
    try:
        await asyncio.sleep(0.05)
        (tmp_path / "f.yaml").write_text(FLOW.format(number="300"))
        await asyncio.sleep(0.1)
        assert registry.for_number("300") is None  # unseen: the signature did not move
        now[0] = 10.0
        await eventually(lambda: registry.for_number("300") is not None)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_an_unchanged_routing_file_is_not_read_and_a_saved_one_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import acd.routing_reload as reload_module
    from acd.routing import load_routing_config
    from acd.routing_reload import RoutingReloader
    from tests.api.helpers import ROUTING

    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    config, problems = load_routing_config(path)
    assert config is not None and not problems
    applied: list[object] = []
    reloader = RoutingReloader(path, config, applied.append, lambda *a, **k: None)
    reads = count_reads(reload_module, monkeypatch)
    watcher = asyncio.create_task(reloader.watch(0.01, gate=ChangeGate(full_every_s=3600)))
    try:
        await asyncio.sleep(0.3)
        assert len(reads) <= 1 and applied == []
        path.write_text(ROUTING + "\n# saved again, with a comment\n")
        await eventually(lambda: bool(applied))
        assert len(applied) == 1
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
