"""What a file watcher polls between full reads: each file's identity and times, not its bytes.

Why: the engine checks its flows folder every 0.5 s and its routing file every 2 s.
Reading and hashing every file at each check kept an idle engine at 0.3–0.6 % of a core
(issue 20 asks for ≤ 0.5 %); one ``stat`` per file costs microseconds and no thread.

A save always moves ``st_ctime_ns`` (the kernel sets it on every write, rename and
``chmod``, and no program can set it back, unlike the modification time), and a save by
rename (what most editors do) also gives a new ``st_ino``.  The one change a signature
can miss is a second write of the same size within one tick of the file system's clock,
so a watcher still reads everything every ``FULL_CHECK_EVERY_S`` (:class:`ChangeGate`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

#: a full read at least this often, whatever the signatures say
FULL_CHECK_EVERY_S = 10.0

FileSignature = tuple[str, int, int, int, int] | tuple[str]
Signature = tuple[FileSignature, ...]


def disk_signature(paths: Iterable[Path]) -> Signature:
    """``(path, inode, size, mtime_ns, ctime_ns)`` of each file; ``(path,)`` for one that cannot be read."""
    signature: list[FileSignature] = []
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            signature.append((str(path),))
            continue
        signature.append((str(path), status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns))
    return tuple(signature)


class ChangeGate:
    """Says when a poll must read the files: their signature moved, or a full read is due."""

    def __init__(self, full_every_s: float = FULL_CHECK_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every_s = full_every_s
        self._clock = clock
        self._last: Signature | None = None
        self._read_at = float("-inf")

    def due(self, signature: Signature) -> bool:
        """True when the caller should read now (the signature is then taken as seen)."""
        now = self._clock()
        if signature == self._last and now - self._read_at < self.full_every_s:
            return False
        self._last = signature
        self._read_at = now
        return True


__all__ = ["ChangeGate", "FULL_CHECK_EVERY_S", "Signature", "disk_signature"]
