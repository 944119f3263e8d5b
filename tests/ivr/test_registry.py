"""Hot reload: good edits reach new calls, bad edits are rejected, live calls keep their version."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path

import pytest

from acd.ivr.registry import FlowRegistry
from acd.ivr.testing import ScriptedChannel

from .conftest import Harness, write

GREETING = """
name: saludo
numbers: ["100", "600..."]
entry: hola
nodes:
  hola: {{type: play, prompt: {prompt}, next: menu}}
  menu: {{type: menu, prompt: beep, keys: {{"1": fin}}, fallback: fin}}
  fin: {{type: hangup}}
"""


def greeting(prompt: str) -> str:
    return GREETING.format(prompt=prompt)


async def wait_for(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    """Poll until ``condition()`` holds; the bound only keeps a broken build from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_load_gives_flows_by_name_and_number(tmp_path: Path) -> None:
    write(tmp_path, "saludo.yaml", greeting("hello-world"))
    write(tmp_path, "exacto.yaml", "numbers: ['6001']\nentry: f\nnodes:\n  f: {type: hangup}\n")
    registry = FlowRegistry(tmp_path)
    assert registry.load() == []
    assert registry.names == ["exacto", "saludo"]
    assert registry.get("saludo").version == registry.for_number("100").version  # type: ignore[union-attr]
    assert registry.for_number("6001").name == "exacto"  # type: ignore[union-attr]  # exact beats prefix
    assert registry.for_number("6002").name == "saludo"  # type: ignore[union-attr]
    assert registry.for_number("7000") is None
    with pytest.raises(KeyError):
        registry.get("nada")


def test_version_is_a_short_hash_of_the_file_content(tmp_path: Path) -> None:
    path = write(tmp_path, "saludo.yaml", greeting("hello-world"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    first = registry.get("saludo").version
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    write(tmp_path, "saludo.yaml", greeting("hello-world"))  # same bytes: same version
    registry.reload(force=True)
    assert registry.get("saludo").version == first and len(first) == 12
    write(tmp_path, "saludo.yaml", greeting("beep"))
    registry.reload()
    assert registry.get("saludo").version != first


async def test_valid_edit_is_picked_up_by_the_watcher(tmp_path: Path) -> None:
    write(tmp_path, "saludo.yaml", greeting("hello-world"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    watcher = asyncio.create_task(registry.watch(poll_interval=0.02))
    try:
        write(tmp_path, "saludo.yaml", greeting("beep"))
        await wait_for(lambda: registry.get("saludo").nodes["hola"].prompts == ("beep",))  # type: ignore[union-attr]
        write(tmp_path, "nuevo.yaml", "numbers: ['200']\nentry: f\nnodes:\n  f: {type: hangup}\n")
        await wait_for(lambda: registry.for_number("200") is not None)
        (tmp_path / "nuevo.yaml").unlink()
        await wait_for(lambda: registry.for_number("200") is None)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_invalid_edit_is_rejected_logged_and_the_old_version_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "saludo.yaml", greeting("hello-world"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    before = registry.get("saludo")
    write(tmp_path, "saludo.yaml", greeting("hello-world").replace("fallback: fin", "fallback: fni"))
    with caplog.at_level(logging.WARNING, logger="acd.ivr.registry"):
        problems = registry.reload()
    assert [str(p) for p in problems] == [f"{path}:6:64: nodes.menu.fallback: no node named 'fni' in this flow (did you mean 'fin'?)"]
    assert f"{path}:6:64: nodes.menu.fallback: no node named 'fni' in this flow (did you mean 'fin'?)" in caplog.messages
    assert registry.get("saludo") is before
    assert registry.for_number("100") is before


def test_bad_edit_to_one_file_does_not_block_a_good_edit_to_another(tmp_path: Path) -> None:
    a = write(tmp_path, "saludo.yaml", greeting("hello-world"))
    b = write(tmp_path, "otro.yaml", "numbers: ['300']\nentry: f\nnodes:\n  f: {type: message, prompt: beep}\n")
    registry = FlowRegistry(tmp_path)
    registry.load()
    a.write_text("entry: [\n", encoding="utf-8")
    b.write_text("numbers: ['300']\nentry: f\nnodes:\n  f: {type: message, prompt: vm-goodbye}\n", encoding="utf-8")
    problems = registry.reload()
    assert [p.file for p in problems] == [str(a)]
    assert registry.get("otro").nodes["f"].prompts == ("vm-goodbye",)  # type: ignore[union-attr]
    assert registry.get("saludo").nodes["hola"].prompts == ("hello-world",)  # type: ignore[union-attr]


def test_removing_a_flow_that_another_one_uses_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "entry: ir\nnodes:\n  ir: {type: goto, flow: b}\n")
    b = write(tmp_path, "b.yaml", "entry: f\nnodes:\n  f: {type: hangup}\n")
    registry = FlowRegistry(tmp_path)
    assert registry.load() == []
    b.unlink()
    problems = registry.reload()
    assert [p.message for p in problems] == ["nodes.ir.flow: no flow named 'b' among the validated flows (known: a)"]
    assert registry.names == ["a", "b"]


def test_a_number_taken_by_two_flows_is_rejected_for_the_newcomer(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "numbers: ['100']\nentry: f\nnodes:\n  f: {type: hangup}\n")
    registry = FlowRegistry(tmp_path)
    registry.load()
    newcomer = write(tmp_path, "z.yaml", "numbers: ['100']\nentry: f\nnodes:\n  f: {type: hangup}\n")
    problems = registry.reload()
    assert [str(p) for p in problems] == [f"{newcomer}:1:11: numbers.0: '100' is already answered by flow 'a' (a.yaml)"]
    assert registry.names == ["a"]


def test_holiday_file_edit_makes_a_new_version(tmp_path: Path) -> None:
    write(tmp_path, "cal/feriados.yaml", "- 2025-09-18\n")
    write(
        tmp_path,
        "h.yaml",
        """
        entry: h
        nodes:
          h: {type: schedule, hours: {mon-fri: 09:00-18:00}, holidays: cal/feriados.yaml, open: f, closed: f}
          f: {type: hangup}
        """,
    )
    registry = FlowRegistry(tmp_path)
    registry.load()
    first = registry.get("h")
    write(tmp_path, "cal/feriados.yaml", "- 2025-09-18\n- 2025-09-19\n")
    registry.reload()
    assert registry.get("h").version != first.version
    assert len(registry.get("h").nodes["h"].schedule.holidays) == 2  # type: ignore[union-attr]


async def test_call_in_progress_keeps_the_version_it_started_with(tmp_path: Path, harness: Harness) -> None:
    write(tmp_path, "saludo.yaml", greeting("hello-world"))
    registry = FlowRegistry(tmp_path)
    registry.load()
    started = asyncio.Event()
    release = asyncio.Event()

    class Paused(ScriptedChannel):
        async def wait_for_digit(self, timeout_s: float) -> str | None:
            started.set()
            await release.wait()
            return "1"

    live = Paused(call_id="old", clock=harness.clock)
    call = asyncio.create_task(harness.runner.run(registry.for_number("100"), live))  # type: ignore[arg-type]
    await started.wait()
    write(tmp_path, "saludo.yaml", greeting("beep"))
    assert registry.reload() == []
    new_call = ScriptedChannel(["1"], call_id="new", clock=harness.clock)
    await harness.runner.run(registry.for_number("100"), new_call)  # type: ignore[arg-type]
    release.set()
    old = await call
    assert (old.action, old.last_node) == ("hangup", "fin")
    assert live.played == ["hello-world", "beep"] and new_call.played == ["beep", "beep"]
    assert old.flow_version != registry.get("saludo").version
    versions = {call_id: {e.data["flow_version"] for e in harness.events if e.call_id == call_id} for call_id in ("old", "new")}
    assert versions == {"old": {old.flow_version}, "new": {registry.get("saludo").version}}
