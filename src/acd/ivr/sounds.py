"""Which prompts exist in an Asterisk sounds folder, per language.

Asterisk looks for ``<sounds>/<language>/<prompt>.<format>``.  A copied Debian tree may
only hold the voice folders (``es_MX_f_Allison``) because ``es``/``en`` are symlinks made
by the packaging (or by ``deploy/asterisk/lab.sh``); when ``<language>`` is missing, the
folders named ``<language>_*`` are used instead so validation works on such a copy too.
Files directly under ``<sounds>`` (no language folder) count for every language, as they
do for Asterisk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

DEFAULT_SOUNDS_DIR = Path("~/.cache/acd/asterisk-root/usr/share/asterisk/sounds")


def default_sounds_dir() -> Path | None:
    """``$ACD_SOUNDS_DIR``, else the lab's sounds folder when it exists, else None."""
    configured = os.environ.get("ACD_SOUNDS_DIR")
    if configured:
        return Path(configured).expanduser()
    candidate = DEFAULT_SOUNDS_DIR.expanduser()
    return candidate if candidate.is_dir() else None


class SoundsDirError(ValueError):
    """The configured sounds folder is not a folder (one line naming the setting)."""


def checked_sounds_dir(configured: Path | None) -> Path | None:
    """The folder prompts are checked against, by ``acd ivr validate`` and the engine alike.

    ``configured`` is ``ivr.sounds_dir`` (already resolved against the settings file); when
    unset, :func:`default_sounds_dir`.  One rule for both, so a flow the validator rejects
    for a missing prompt is never served to callers as silence.
    """
    if configured is not None:
        if not configured.is_dir():
            raise SoundsDirError(f"ivr.sounds_dir {configured}: not a folder")
        return configured
    path = default_sounds_dir()
    if path is not None and not path.is_dir():
        raise SoundsDirError(f"ACD_SOUNDS_DIR={os.environ.get('ACD_SOUNDS_DIR')}: not a folder")
    return path


class SoundLibrary:
    """Prompt names found under a sounds folder, indexed lazily per language."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._by_language: dict[str, frozenset[str]] = {}
        self._neutral: frozenset[str] | None = None

    def language_dirs(self, language: str) -> list[Path]:
        exact = self.root / language
        if exact.is_dir():
            return [exact]
        try:
            return sorted(p for p in self.root.glob(f"{language}_*") if p.is_dir())
        except OSError:
            return []

    def prompts(self, language: str) -> frozenset[str]:
        if language not in self._by_language:
            names: set[str] = set()
            for folder in self.language_dirs(language):
                names |= _index(folder, recursive=True)
            self._by_language[language] = frozenset(names)
        return self._by_language[language]

    def exists(self, prompt: str, languages: Iterable[str]) -> bool:
        if prompt.startswith("/"):
            folder, stem = os.path.split(prompt)
            return stem in _index(Path(folder), recursive=False)
        if self._neutral is None:
            self._neutral = _index(self.root, recursive=False)
        return prompt in self._neutral or any(prompt in self.prompts(language) for language in languages)


def _index(folder: Path, *, recursive: bool) -> frozenset[str]:
    """Prompt names (relative path without extension) of the files under ``folder``.

    Symlinked folders are followed (Debian links voices around) but each real folder is
    read once, so a symlink loop cannot hang validation.
    """
    names: set[str] = set()
    seen: set[str] = set()
    pending: list[tuple[str, str]] = [(str(folder), "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            real = os.path.realpath(directory)
            if real in seen:
                continue
            seen.add(real)
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir():
                    if recursive:
                        pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    stem = entry.name.rsplit(".", 1)[0] if "." in entry.name else entry.name
                    names.add(prefix + stem)
            except OSError:
                continue
    return frozenset(names)
