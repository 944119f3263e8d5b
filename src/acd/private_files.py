"""Files that hold personal data are owner-only: files 0600, folders 0700.

The event log, the callbacks database (customers' numbers), the privacy key and
recordings must not be readable by every account on the machine, whatever the umask of
the shell that started ``acd``.  Belt and braces:

* ``acd run`` sets the process umask to 077 (:func:`private_umask`), so anything the
  engine or a library creates is owner-only;
* the database files are created 0600 *before* SQLite opens them
  (:func:`create_private_file`): SQLite gives its ``-wal`` and ``-shm`` files the
  database file's mode, and an existing file left 0644 by an older ``acd`` is tightened;
* folders the engine creates are made 0700 (:func:`private_dir`).  A folder that already
  exists is left as the operator made it (a recordings folder shared with Asterisk's
  account may need to stay group-readable).

``files.private: false`` in the settings turns all of it off (the umask decides).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def private_umask(private: bool) -> None:
    """Make everything this process creates from now on owner-only."""
    if private:
        os.umask(PRIVATE_UMASK)


def private_dir(path: Path, *, private: bool) -> None:
    """``mkdir -p path``; every folder created here is 0700 when ``private``."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, left as it is
        if private:
            folder.chmod(DIR_MODE)


def create_private_file(path: Path, *, private: bool) -> None:
    """Create ``path`` empty and 0600 if missing; tighten it to 0600 if we own it and it is not."""
    if not private:
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        os.chmod(path, FILE_MODE)  # exactly 0600 whatever the umask
    except FileExistsError:
        tighten(path)


def tighten(path: Path) -> None:
    """An existing file of ours readable by others (left by an older ``acd``) becomes 0600."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
        path.chmod(FILE_MODE)


def prepare_database(path: Path, *, private: bool) -> None:
    """Before SQLite opens ``path``: its folder, the file itself and any ``-wal``/``-shm`` owner-only."""
    private_dir(path.parent, private=private)
    create_private_file(path, private=private)
    if private:
        for suffix in ("-wal", "-shm", "-journal"):
            tighten(path.with_name(path.name + suffix))


__all__ = ["DIR_MODE", "FILE_MODE", "create_private_file", "prepare_database", "private_dir", "private_umask", "tighten"]
