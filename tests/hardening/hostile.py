"""Hostile inputs, and a way to run ``acd`` on them with the cost measured per process.

Each case runs in its own process so its CPU time and peak memory are its own
(``os.wait4`` gives the child's rusage).  CPU time, not wall time, is bounded: the
machine is shared, and a stall or an exponential expansion burns CPU either way.  The
child also runs under an address-space cap and a wall-clock watchdog, so a regression
fails the test instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ACD = str(Path(sys.executable).with_name("acd"))
CPU_BOUND_S = 2.0
MEMORY_BOUND_MB = 200.0
_ADDRESS_SPACE_CAP = 1024**3  # the child dies of MemoryError rather than swap the host
_WATCHDOG_S = 30.0

# --------------------------------------------------------------------------- the corpus

#: "Billion laughs": 9 levels of 9 aliases, 9**9 (387 million) strings once expanded.
ALIAS_BOMB = (
    "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n" for level in range(1, 10))
)
#: 100,000 levels of flow nesting in 200 KB.
DEEP_FLOW = "x: " + "[" * 100_000 + "]" * 100_000 + "\n"
#: 300 levels of block nesting (each mapping indented under the previous one).
DEEP_BLOCK = "".join("  " * level + f"k{level}:\n" for level in range(300)) + "  " * 300 + "end\n"
#: About 2 MB of plain keys: over the 1 MB default.
OVERSIZED = "".join(f"key{index}: {index}\n" for index in range(150_000))
#: 250,000 values in 500 KB: under the size limit, over the node budget.
MANY_VALUES = "x: [" + "0," * 250_000 + "0]\n"
#: Tags a plain data file must not carry; each would build something other than text or numbers.
TAGS = {
    "python_object": "site: !!python/object/apply:os.system [echo pwned]\n",
    "binary": "site: !!binary bGFi\n",
    "custom": "site: !vault secret\n",
}


def hostile_yaml() -> dict[str, str]:
    """Every structural attack, keyed by name (for ``pytest.mark.parametrize``)."""
    return {
        "alias_bomb": ALIAS_BOMB,
        "deep_flow": DEEP_FLOW,
        "deep_block": DEEP_BLOCK,
        "oversized": OVERSIZED,
        "many_values": MANY_VALUES,
        **{f"tag_{name}": text for name, text in TAGS.items()},
    }


#: What each attack must be refused with (a fragment of the one-line message).
EXPECTED = {
    "alias_bomb": "limits.yaml_max_nodes",
    "deep_flow": "nested too deeply",
    "deep_block": "nested too deeply",
    "oversized": "limits.yaml_max_bytes",
    "many_values": "limits.yaml_max_nodes",
    "tag_python_object": "tag '!!python/object/apply:os.system' is not allowed",
    "tag_binary": "tag '!!binary' is not allowed",
    "tag_custom": "tag '!vault' is not allowed",
}

# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    cpu_s: float
    peak_mb: float

    def assert_bounded(self) -> None:
        assert self.cpu_s < CPU_BOUND_S, f"took {self.cpu_s:.2f} s of CPU: {self.err[-300:]}"
        assert self.peak_mb < MEMORY_BOUND_MB, f"peaked at {self.peak_mb:.0f} MB: {self.err[-300:]}"

    def assert_clear_refusal(self, code: int, fragment: str) -> None:
        """Exit ``code``; no traceback; ``fragment`` on a line of its own making sense alone."""
        assert "Traceback" not in self.err + self.out, self.err[-2000:]
        assert self.code == code, (self.code, self.out[-500:], self.err[-500:])
        lines = [line for line in (self.out + self.err).splitlines() if fragment in line]
        assert lines, f"{fragment!r} not in: {self.out[-500:]} {self.err[-500:]}"
        assert all(len(line) < 300 for line in lines), lines


def _clean_environment() -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ACD_") or key.startswith("ACD_TEST_")}
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE_CAP, _ADDRESS_SPACE_CAP))


# The measured command runs as the grandchild of a small fresh interpreter: a process
# forked from this (large, long-lived) pytest process inherits its resident-set high-water
# mark, and Linux keeps it across exec, so ru_maxrss would report pytest's size, not the
# command's.  The launcher is small, so what its child inherits is negligible.
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(3, json.dumps([status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]).encode())
os._exit(0)
"""


def run_measured(argv: Sequence[str], cwd: Path, *, environ: dict[str, str] | None = None) -> Run:
    """Run ``argv``; return its exit code, output, CPU seconds and peak resident memory."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.set_inheritable(write_end, True)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _LAUNCHER, *argv], cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            env=environ if environ is not None else _clean_environment(), preexec_fn=lambda: (_limit_child(), os.dup2(write_end, 3)),
            start_new_session=True, close_fds=False,
        )
        os.close(write_end)
        watchdog = threading.Timer(_WATCHDOG_S, lambda: os.killpg(proc.pid, signal.SIGKILL))
        watchdog.start()
        try:
            proc.wait()
            with os.fdopen(read_end, "rb") as pipe:
                measured = pipe.read()
        finally:
            watchdog.cancel()
        status, cpu_s, maxrss_kb = json.loads(measured) if measured else (9, 0.0, 0)  # 9: killed by the watchdog
        out.seek(0)
        err.seek(0)
        return Run(
            code=os.waitstatus_to_exitcode(status),
            out=out.read().decode("utf-8", "replace"),
            err=err.read().decode("utf-8", "replace"),
            cpu_s=cpu_s,
            peak_mb=maxrss_kb / 1024,  # KB on Linux
        )


def run_acd(*args: str, cwd: Path, environ: dict[str, str] | None = None) -> Run:
    return run_measured([ACD, *args], cwd, environ=environ)


def run_python(code: str, cwd: Path) -> Run:
    """A few lines of Python in a fresh interpreter (a loader called directly, measured alone)."""
    return run_measured([sys.executable, "-c", code], cwd)
