"""End of contract: hand every recording over in a verifiable archive, then erase them with evidence.

The contract keeps recordings until it ends, then asks for the backups to be handed over
and the data deleted irrecoverably, with evidence of the deletion.  So:

* :func:`export` writes one ``.tar`` (the audio is compressed already) holding every file
  of the recordings folder (leftovers of an interrupted compression too) and ``manifest.json``: per file the call, its time, agent,
  queue, length, size and SHA-256.  Files the event log does not know are exported too
  (marked ``"call": null``): the hand-over is of everything, not of what the log
  remembers.  A ``.sha256`` file beside the archive covers the archive itself.
* :func:`verify` re-reads an archive: every manifest entry present with its checksum, no
  file that the manifest does not list.
* :func:`erase` deletes from the folder only files that a *verified* archive holds with
  the same checksum (a file changed since the export is kept and reported), each one
  overwritten with random bytes, flushed to disk, then unlinked; and writes an evidence
  report (JSON) of what was erased, when, by whom, how, and what could not be.
"""

from __future__ import annotations

import getpass
import hashlib
import io
import json
import os
import socket
import tarfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from acd.features.recordings.catalog import RecordingRow
from acd.features.recordings.storage import sha256_of
from acd.private_files import create_private_file

MANIFEST = "manifest.json"
FORMAT = "acd-recordings-export/1"
METHOD = "each file overwritten once with random bytes over its whole length, fsync, unlinked; folder fsynced"
LIMITS = (
    "Overwriting in place destroys the data on disks that write in place (HDD, most virtual disks without "
    "snapshots). On SSDs (wear levelling), copy-on-write file systems (btrfs, ZFS) and storage with snapshots or "
    "backups, old blocks may survive: there, erase those snapshots/backups too, or destroy the volume's encryption key."
)


class ArchiveError(Exception):
    """An archive that cannot be written, read or trusted; the message says which file and why."""


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def manifest_entries(folder: Path, rows: Iterable[RecordingRow]) -> list[dict[str, object]]:
    """One entry per file in ``folder`` (the catalog's call facts when the log knows the call)."""
    by_call = {row.call_id: row for row in rows}
    entries = []
    # every file, not only *.opus/*.wav: a WAV whose compression was cut short leaves X.opus.part, audio too
    for path in sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []:
        row = by_call.get(path.stem)
        digest = sha256_of(path)
        entry: dict[str, object] = {
            "file": path.name, "bytes": path.stat().st_size, "sha256": digest, "call": None,
        }
        if row is not None:
            entry.update({
                "call": row.call_id, "time": _iso(row.started), "agent": row.agent, "queue": row.queue,
                "caller": row.caller, "duration_s": row.duration_s, "flags": row.flags,
                "checksum_at_call_end": row.sha256, "changed_since_call": row.sha256 is not None and row.sha256 != digest,
            })
        entries.append(entry)
    return entries


def export(folder: Path, target: Path, rows: Iterable[RecordingRow], *, site: str, now: float | None = None) -> dict[str, object]:
    """Write ``target`` (a .tar) with every recording and the manifest; returns the manifest."""
    now = time.time() if now is None else now
    if target.exists():
        raise ArchiveError(f"{target} exists already: an export never overwrites one")
    if not target.parent.is_dir():
        raise ArchiveError(f"{target.parent} is not a folder")
    entries = manifest_entries(folder, rows)
    manifest: dict[str, object] = {
        "format": FORMAT, "site": site, "created": _iso(now), "source": str(folder), "files": len(entries),
        "bytes": sum(int(e["bytes"]) for e in entries), "entries": entries,  # type: ignore[call-overload]
    }
    partial = target.with_name(target.name + ".part")
    try:
        create_private_file(partial, private=True)  # the recordings themselves: owner-only whatever the umask
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(now), 0o600
            tar.addfile(info, io.BytesIO(body))
            for entry in entries:
                tar.add(folder / str(entry["file"]), arcname=f"recordings/{entry['file']}", recursive=False)
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write {target}: {exc.strerror or exc}") from None
    Path(str(target) + ".sha256").write_text(f"{sha256_of(target)}  {target.name}\n")
    return manifest


@dataclass
class Verified:
    archive: Path
    sha256: str
    manifest: dict[str, object]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def entries(self) -> list[dict[str, object]]:
        return list(self.manifest.get("entries", []))  # type: ignore[call-overload]


def verify(archive: Path) -> Verified:
    """Every manifest entry in ``archive`` with its checksum, nothing extra, the archive's own checksum."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    digest = sha256_of(archive)
    problems: list[str] = []
    side = Path(str(archive) + ".sha256")
    if side.is_file():
        recorded = side.read_text().split()[:1]
        if recorded != [digest]:
            problems.append(f"{archive.name}: SHA-256 {digest} differs from {side.name}")
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise ArchiveError(f"{archive}: no {MANIFEST}")
            manifest = json.loads(member.read())
            if manifest.get("format") != FORMAT:
                raise ArchiveError(f"{archive}: not an acd recordings export (format {manifest.get('format')!r})")
            listed = {f"recordings/{e['file']}": e for e in manifest["entries"]}
            seen = set()
            for info in tar.getmembers():
                if info.name == MANIFEST:
                    continue
                entry = listed.get(info.name)
                if entry is None:
                    problems.append(f"{info.name}: in the archive but not in the manifest")
                    continue
                seen.add(info.name)
                handle = tar.extractfile(info)
                actual = hashlib.sha256(handle.read() if handle else b"").hexdigest()
                if actual != entry["sha256"]:
                    problems.append(f"{info.name}: SHA-256 {actual} but the manifest says {entry['sha256']}")
            for name in sorted(set(listed) - seen):
                problems.append(f"{name}: in the manifest but missing from the archive")
    except (tarfile.TarError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"{archive}: unreadable: {exc}") from None
    return Verified(archive, digest, manifest, problems)


def _overwrite_and_unlink(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b", buffering=0) as handle:
        left = size
        while left > 0:
            chunk = os.urandom(min(left, 1 << 20))
            handle.write(chunk)
            left -= len(chunk)
        os.fsync(handle.fileno())
    path.unlink()


def erase(folder: Path, verified: Verified, report_dir: Path, *, now: float | None = None) -> tuple[Path, dict[str, object]]:
    """Erase what ``verified`` holds from ``folder``; the evidence report's path and content."""
    if not verified.ok:
        raise ArchiveError(f"{verified.archive} does not verify; nothing erased:\n  " + "\n  ".join(verified.problems))
    started = time.time() if now is None else now
    results = []
    for entry in verified.entries:
        name = str(entry["file"])
        path = folder / name
        item: dict[str, object] = {"file": name, "call": entry.get("call"), "bytes": entry["bytes"], "sha256": entry["sha256"]}
        if not path.is_file():
            item["result"] = "not present (already gone)"
        elif sha256_of(path) != entry["sha256"]:
            item["result"] = "kept: changed since the export (export again)"
        else:
            try:
                _overwrite_and_unlink(path)
                item["result"] = "erased"
                item["at"] = _iso(time.time())
            except OSError as exc:
                item["result"] = f"failed: {exc.strerror or exc}"
        results.append(item)
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    left = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    report: dict[str, object] = {
        "what": "erasure of call recordings at the end of the contract",
        "started": _iso(started), "finished": _iso(time.time()), "operator": getpass.getuser(), "host": socket.gethostname(),
        "folder": str(folder), "archive": str(verified.archive), "archive_sha256": verified.sha256,
        "method": METHOD, "limits": LIMITS,
        "erased": sum(1 for r in results if r["result"] == "erased"),
        "not_erased": [r for r in results if r["result"] != "erased"],
        "recordings_left_in_folder": left,
        "files": results,
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromtimestamp(started, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = report_dir / f"erase-report-{stamp}.json"
    body = json.dumps(report, indent=2, ensure_ascii=False)
    path.write_text(body + "\n")
    Path(str(path) + ".sha256").write_text(f"{hashlib.sha256((body + chr(10)).encode()).hexdigest()}  {path.name}\n")
    return path, report
