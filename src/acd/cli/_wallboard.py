"""``acd top``: a live wallboard in the terminal, with nothing but the standard library.

One frame = ``GET /api/stats`` + ``GET /api/agents`` drawn with ANSI escapes: the cursor
goes home and every line is rewritten in place (no full clear, so no flicker), in the
terminal's alternate screen so the shell's scrollback is left as it was.  Keys are read
in cbreak mode with ``select`` as the refresh timer: ``q`` quits at once, Ctrl-C too.

When the engine goes away the wallboard says so and keeps trying every refresh; a wrong
token is not going to fix itself, so that one ends the wallboard (exit 4).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import sys
import threading
import time
from datetime import datetime
from typing import Any, Iterator, Sequence, TextIO
from zoneinfo import ZoneInfo

from acd.cli._api_client import EXIT_OK, ApiClient, ApiProblem, AuthFailed
from acd.cli._tables import BOLD_RED, RESET, UNDER_TARGET_MARK, agent_summary, agents_text, queues_text

#: Arrow keys, function keys...: CSI/SS3 sequences, never commands.
_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)?")
LEGEND = f"{UNDER_TARGET_MARK} = service level below target (the current 15 minutes; the day's until one of their calls is decided)"


def _clock(ts: float, timezone: str) -> datetime:
    try:
        return datetime.fromtimestamp(ts, ZoneInfo(timezone))
    except Exception:  # an unknown zone name from an old engine: local time is still useful
        return datetime.fromtimestamp(ts)


def render_frame(
    stats: dict[str, Any] | None,
    agents: Sequence[dict[str, Any]],
    *,
    url: str,
    color: bool = False,
    width: int | None = None,
    height: int | None = None,
    error: str | None = None,
) -> list[str]:
    """The lines of one screen; pure, so tests can check it without a terminal."""
    if stats is None:
        now = datetime.now().strftime("%H:%M:%S")
        lines = [f"acd top  {now}  {url}", "", error or "engine not reachable", "retrying every refresh; q quits"]
        if color:
            lines[2] = f"{BOLD_RED}{lines[2]}{RESET}"
        return lines
    at = _clock(stats["at"], stats["timezone"])
    start = _clock(stats["interval_start"], stats["timezone"]).strftime("%H:%M")
    end = _clock(stats["interval_end"], stats["timezone"]).strftime("%H:%M")
    ami = "AMI up" if stats["ami_connected"] else "AMI DOWN"
    under = [q["name"] for q in stats["queues"] if q["under_target"]]
    header = f"acd top  site {stats['site']}  {at:%Y-%m-%d %H:%M:%S}  interval {start}-{end}  {ami}  q quits"
    lines = [header[:width] if width else header]
    if not stats["ami_connected"] and color:
        lines[0] = f"{BOLD_RED}{lines[0]}{RESET}"
    if under:
        alert = f"{UNDER_TARGET_MARK} under target: {', '.join(under)}"
        lines.append(f"{BOLD_RED}{alert}{RESET}" if color else alert)
    else:
        lines.append("")
    lines += queues_text(stats, color=color, width=width)
    lines += ["", agent_summary(stats["agents"])]
    logged_in = [a for a in agents if a["state"] != "logged_out"]
    if logged_in:
        lines += agents_text(logged_in, color=color, width=width)
    lines += ["", LEGEND]
    if height is not None and len(lines) > height:
        lines = lines[: height - 1] + [f"... {len(lines) - height + 1} more lines (enlarge the terminal)"]
    return lines


def fetch(client: ApiClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return client.get("/api/stats"), client.get("/api/agents")


def show_once(client: ApiClient, *, color: bool, out: TextIO) -> int:
    """One frame on stdout (no screen control); problems raise :class:`ApiProblem`."""
    stats, agents = fetch(client)
    out.write("\n".join(render_frame(stats, agents, url=client.url, color=color)) + "\n")
    return EXIT_OK


class Terminal:
    """Alternate screen, hidden cursor and cbreak input while the wallboard runs; restored on exit."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self.inp = inp
        self.out = out
        self._fd: int | None = None
        self._saved: Any = None

    @contextlib.contextmanager
    def session(self) -> Iterator["Terminal"]:
        screen = self.out.isatty()
        if screen:
            self.out.write("\x1b[?1049h\x1b[?25l")
            self.out.flush()
        handlers = _stop_on_hangup()
        try:
            self._enter_cbreak()
            yield self
        finally:
            self._leave_cbreak()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            if screen:
                self.out.write("\x1b[?25h\x1b[?1049l")
                self.out.flush()

    def _enter_cbreak(self) -> None:
        try:
            fd = self.inp.fileno()
        except (AttributeError, OSError, ValueError):
            return
        if not os.isatty(fd):
            return
        import termios
        import tty

        self._fd = fd
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)  # TCSANOW: a key typed before we started is kept, not flushed

    def _leave_cbreak(self) -> None:
        if self._fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._fd = None

    def draw(self, lines: Sequence[str]) -> None:
        if self.out.isatty():
            self.out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
        else:
            self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()

    def wait_keys(self, timeout_s: float) -> str:
        """Keys pressed within ``timeout_s`` (arrows and other escape sequences left out), or ""."""
        if self._fd is None:
            time.sleep(timeout_s)
            return ""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ""
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                return ""
            data = os.read(self._fd, 64)
            if not data:  # input closed: nothing more will come, keep refreshing
                time.sleep(max(0.0, deadline - time.monotonic()))
                return ""
            keys = _ESCAPES.sub("", data.decode("utf-8", "replace"))
            if keys:
                return keys


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_hangup() -> dict[int, Any]:
    """SIGTERM/SIGHUP end the wallboard like Ctrl-C, so the terminal is restored; returns the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}


def run_live(client: ApiClient, *, interval_s: float, color: bool, inp: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Refresh every ``interval_s`` until ``q`` or Ctrl-C (exit 0); a refused token ends it (exit 4)."""
    terminal = Terminal(inp, out)
    problem: ApiProblem | None = None
    try:
        with terminal.session():
            while True:
                size = shutil.get_terminal_size()
                try:
                    stats, agents = fetch(client)
                    lines = render_frame(stats, agents, url=client.url, color=color, width=size.columns, height=size.lines)
                except AuthFailed as exc:
                    problem = exc
                    break
                except ApiProblem as exc:
                    lines = render_frame(None, [], url=client.url, color=color, width=size.columns, error=str(exc))
                terminal.draw(lines)
                if "q" in terminal.wait_keys(interval_s).lower():
                    break
    except KeyboardInterrupt:
        pass
    if problem is not None:
        raise problem
    return EXIT_OK
