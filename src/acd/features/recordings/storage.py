"""Stored recordings: which file holds a call, compression after the call, checksums, disk use.

Asterisk writes ``<call id>.wav`` (16-bit PCM, about 16 kB a second).  Once the call has
ended the engine compresses it to Ogg Opus with ``opusenc`` (Debian's ``opus-tools``;
about 2 kB a second for speech, played by every current browser), keeps the SHA-256 of
the stored file with the call (``recording.finished``), and removes the WAV only after
the compressed file is complete, so a failed encoder leaves the WAV, never nothing.

A recording that is only a WAV header (no audio: the bridge never carried media, or
MixMonitor could not write) is *empty*: it is flagged at the end of the call and in every
listing, because a contract that asks for recordings counts it as missing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("acd.recordings")

#: extensions a recording may have, preferred first (the compressed file wins over a leftover WAV)
EXTENSIONS = (".opus", ".wav")
MEDIA_TYPES = {".opus": "audio/ogg", ".wav": "audio/wav"}
#: a WAV this small holds no audio worth the name (44-byte header, under 0.1 s at 8 kHz)
EMPTY_WAV_BYTES = 44 + 1600
#: shorter than this (seconds) a recording is flagged as empty
EMPTY_S = 0.1
CALL_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


def valid_call_id(call_id: str) -> bool:
    """Call ids name files: only those that cannot leave the folder (no '/', no '..')."""
    return bool(CALL_ID.match(call_id)) and ".." not in call_id


def locate(folder: Path, call_id: str) -> Path | None:
    """The stored file of a call (compressed first), or None; None too for an id that is not a file name."""
    if not valid_call_id(call_id):
        return None
    for ext in EXTENSIONS:
        path = folder / f"{call_id}{ext}"
        if path.is_file():
            return path
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_empty(duration_s: float | None, size: int | None) -> bool:
    """No audio: a header-only WAV, or a length under :data:`EMPTY_S`."""
    if duration_s is not None:
        return duration_s < EMPTY_S
    return size is not None and size <= 44


def is_truncated(duration_s: float | None, talk_s: float | None) -> bool:
    """Much shorter than the conversation it records (MixMonitor stopped early, the disk filled up).

    A recording starts when the bridge does, a little after the answer, and a short call's
    figures are noisy: only a shortfall of more than 3 s and a quarter of the talk counts.
    """
    if duration_s is None or talk_s is None or talk_s < 5 or duration_s < EMPTY_S:
        return False
    return duration_s < talk_s - max(3.0, 0.25 * talk_s)


def opus_available() -> bool:
    return shutil.which("opusenc") is not None


def compress(wav: Path, *, bitrate_kbps: int = 16, timeout_s: float = 120.0) -> Path:
    """``X.wav`` -> ``X.opus`` (the WAV removed once the Opus file is whole); raises OSError on failure."""
    target = wav.with_suffix(".opus")
    partial = wav.with_suffix(".opus.part")
    command = ["opusenc", "--quiet", "--bitrate", str(bitrate_kbps), "--comp", "10", str(wav), str(partial)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        raise OSError(f"opusenc failed on {wav.name}: {exc}") from None
    if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise OSError(f"opusenc failed on {wav.name}: {reason[0]}")
    partial.chmod(wav.stat().st_mode & 0o777)  # as private as the recording it replaces, whatever the umask
    partial.replace(target)
    wav.unlink()
    return target


def store_finished(wav: Path, duration_s: float | None, codec: str) -> dict[str, object]:
    """After the call: compress (when asked and possible), checksum; what ``recording.finished`` carries."""
    size = wav.stat().st_size
    empty = is_empty(duration_s, size)
    stored = wav
    if codec == "opus" and not empty:
        try:
            stored = compress(wav)
        except OSError as exc:
            log.warning("recording %s kept as WAV: %s", wav.name, exc)
    data: dict[str, object] = {
        "path": str(stored), "bytes": stored.stat().st_size, "wav_bytes": size,
        "codec": stored.suffix.lstrip("."), "sha256": sha256_of(stored), "empty": empty,
    }
    if empty:
        log.warning("recording %s is empty (%d bytes, no audio)", wav.name, size)
    return data


@dataclass(frozen=True)
class Usage:
    """Disk use of the recordings folder and how long the free space lasts at the recent rate."""

    files: int
    bytes: int
    free_bytes: int
    daily_bytes: float  # average over the last ``days`` days
    days: int

    @property
    def days_left(self) -> float | None:
        return self.free_bytes / self.daily_bytes if self.daily_bytes > 0 else None

    def as_dict(self) -> dict[str, object]:
        left = self.days_left
        return {
            "files": self.files, "bytes": self.bytes, "free_bytes": self.free_bytes,
            "daily_bytes": round(self.daily_bytes), "days_left": None if left is None else round(left, 1), "window_days": self.days,
        }


def usage(folder: Path, *, now: float | None = None, days: int = 7) -> Usage:
    """Files and bytes stored, free space, and the growth of the last ``days`` days (file times)."""
    now = time.time() if now is None else now
    files = total = recent = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix not in EXTENSIONS or not path.is_file():
                continue
            stat = path.stat()
            files += 1
            total += stat.st_size
            if stat.st_mtime >= now - days * 86400:
                recent += stat.st_size
    probe = folder if folder.exists() else folder.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    return Usage(files, total, free, recent / days, days)


def human_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
