"""``acd top`` in live mode, its input on a pseudo-terminal: q quits, a lost engine is shown, the tty is restored."""

from __future__ import annotations

import io
import os
import signal
import termios
from typing import Any, Iterator

import pytest

from acd.cli._api_client import ApiClient, AuthFailed, Unreachable
from acd.cli._wallboard import render_frame, run_live
from tests.api.helpers import TOKEN, EngineThread, free_port, park


@pytest.fixture
def keyboard() -> Iterator[tuple[int, io.TextIOWrapper]]:
    """A pseudo-terminal: write keys to the master fd, the wallboard reads the slave."""
    master, slave = os.openpty()
    tty_in = os.fdopen(slave, "r")
    yield master, tty_in
    tty_in.close()
    os.close(master)


def test_q_quits_after_drawing_the_queues(engine: EngineThread, keyboard: tuple[int, io.TextIOWrapper]) -> None:
    master, tty_in = keyboard
    engine.call(lambda: park(engine.app, "c1", "general", waited_s=60))
    before = termios.tcgetattr(tty_in.fileno())
    os.write(master, b"q")
    out = io.StringIO()
    with ApiClient(engine.url, TOKEN) as client:
        assert run_live(client, interval_s=30, color=False, inp=tty_in, out=out) == 0
    frame = out.getvalue()
    assert "! under target: general" in frame and "compradores" in frame
    assert termios.tcgetattr(tty_in.fileno()) == before  # cbreak undone


class TypesQAtFrame(io.StringIO):
    """Screen output that presses q once the wallboard has drawn ``frame`` frames."""

    def __init__(self, master: int, frame: int) -> None:
        super().__init__()
        self.master, self.frame, self.frames = master, frame, 0

    def write(self, text: str) -> int:
        self.frames += text.count("acd top  site")
        if self.frames == self.frame:
            os.write(self.master, b"q")
        return super().write(text)


def test_other_keys_only_redraw(engine: EngineThread, keyboard: tuple[int, io.TextIOWrapper]) -> None:
    master, tty_in = keyboard
    os.write(master, b"x\x1b[A ")  # a letter, an arrow key, a space
    out = TypesQAtFrame(master, frame=2)
    with ApiClient(engine.url, TOKEN) as client:
        assert run_live(client, interval_s=30, color=False, inp=tty_in, out=out) == 0
    assert out.frames == 2  # the keys brought the second frame at once; q then ended it


def test_a_lost_engine_is_shown_and_the_wallboard_keeps_going(keyboard: tuple[int, io.TextIOWrapper]) -> None:
    master, tty_in = keyboard
    os.write(master, b"q")
    out = io.StringIO()
    with ApiClient(f"http://127.0.0.1:{free_port()}", TOKEN) as client:
        assert run_live(client, interval_s=30, color=False, inp=tty_in, out=out) == 0
    assert "engine not reachable at http://127.0.0.1:" in out.getvalue()


def test_a_refused_token_ends_the_wallboard(engine: EngineThread, keyboard: tuple[int, io.TextIOWrapper]) -> None:
    _master, tty_in = keyboard
    with ApiClient(engine.url, "wrong") as client, pytest.raises(AuthFailed):
        run_live(client, interval_s=30, color=False, inp=tty_in, out=io.StringIO())


class Interrupted:
    url = "http://127.0.0.1:1"

    def get(self, path: str) -> Any:
        raise KeyboardInterrupt


def test_ctrl_c_exits_cleanly_and_restores_the_terminal(keyboard: tuple[int, io.TextIOWrapper]) -> None:
    _master, tty_in = keyboard
    before = termios.tcgetattr(tty_in.fileno())
    assert run_live(Interrupted(), interval_s=1, color=False, inp=tty_in, out=io.StringIO()) == 0  # type: ignore[arg-type]
    assert termios.tcgetattr(tty_in.fileno()) == before


def test_frames_fit_the_terminal() -> None:
    problem = Unreachable("engine not reachable at http://127.0.0.1:1 (connection refused)")
    lines = render_frame(None, [], url="http://127.0.0.1:1", error=str(problem))
    assert lines[2] == str(problem)


class TerminatedAtFirstFrame(io.StringIO):
    def write(self, text: str) -> int:
        if "acd top" in text:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().write(text)


def test_sigterm_ends_the_wallboard_cleanly_and_handlers_are_restored(engine: EngineThread, keyboard: tuple[int, io.TextIOWrapper]) -> None:
    _master, tty_in = keyboard
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP), termios.tcgetattr(tty_in.fileno()))
    with ApiClient(engine.url, TOKEN) as client:
        assert run_live(client, interval_s=30, color=False, inp=tty_in, out=TerminatedAtFirstFrame()) == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP), termios.tcgetattr(tty_in.fileno())) == before
