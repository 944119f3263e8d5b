"""Recorded AMI streams: raw bytes from Asterisk, plus when each event arrived.

A recording ``NAME`` is three files in one folder:

* ``NAME.ami`` — the bytes Asterisk sent on a manager connection after login, exactly
  as received (``Key: value`` lines, each event ending with an empty line); a stream
  larger than :data:`MAX_PLAIN_BYTES` is kept gzip-compressed as ``NAME.ami.gz``
  (Asterisk's text compresses about tenfold), so a few hundred real calls fit in the
  repository;
* ``NAME.json`` — metadata: how it was made, the number of events, and each event's
  arrival time in seconds after the first (``offsets``), so a replay can give the
  router the recorded timeline even when it sends the bytes much faster;
* ``NAME.routing.yaml`` — the routing configuration the engine ran while recording, so
  a replay's router knows the same queues and agents.

For a replay longer than the recording, :func:`looped_events` repeats it with every
Asterisk unique id renamed (same ``seconds.sequence`` shape, sequence numbers moved past
the recording's) and every time shifted by the recording's length, so each pass offers
new, distinct calls on a continuing timeline.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

EOM = b"\r\n\r\n"
MAX_PLAIN_BYTES = 5_000_000
#: Headers whose value is a point in time (UNIX seconds) that moves with each loop.
TIME_HEADERS = (b"WaitOrigin",)
_UNIQUEID = re.compile(rb"^(\d+)\.(\d+)$")
_HEADER = re.compile(rb"^([^:\r\n]+): ?(.*)$")


class RecordingError(ValueError):
    """A recording that cannot be used (missing file, no events, mismatched metadata)."""


@dataclass(frozen=True)
class Recording:
    """One recorded stream: events as raw blocks (without the blank line) and their times."""

    name: str
    events: tuple[bytes, ...]
    offsets: tuple[float, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    routing_path: Path | None = None

    @property
    def duration_s(self) -> float:
        return self.offsets[-1] if self.offsets else 0.0

    @property
    def started_at(self) -> float:
        """UNIX time of the first event (the recording's own clock)."""
        return float(self.meta.get("started_at", 0.0))


def split_events(raw: bytes) -> tuple[list[bytes], bytes]:
    """Complete message blocks in ``raw`` (without their blank line) and the unfinished rest."""
    parts = raw.split(EOM)
    rest = parts.pop()
    return [part for part in parts if part.strip()], rest


def event_name(block: bytes) -> str:
    for line in block.split(b"\r\n"):
        if line[:6].lower() == b"event:":
            return line[6:].strip().decode("utf-8", "replace")
    return ""


def headers_of(block: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for line in block.split(b"\r\n"):
        match = _HEADER.match(line)
        if match:
            pairs.append((match.group(1), match.group(2)))
    return pairs


def base_path(path: str | Path) -> Path:
    """``NAME`` from ``NAME``, ``NAME.ami``, ``NAME.ami.gz`` or ``NAME.json``."""
    base = Path(path)
    if base.suffix == ".gz":
        base = base.with_suffix("")
    if base.suffix in (".ami", ".json"):
        base = base.with_suffix("")
    return base


def write_recording(folder: Path, name: str, raw: bytes, offsets: list[float], meta: dict[str, Any], routing_text: str | None) -> Path:
    """Write ``NAME.ami`` (or ``NAME.ami.gz``), ``NAME.json`` and, if given, ``NAME.routing.yaml``."""
    events, rest = split_events(raw)
    if rest.strip():
        raw = raw[: len(raw) - len(rest)]  # an event cut off when recording stopped is not kept
    if len(events) != len(offsets):
        raise RecordingError(f"{len(events)} events but {len(offsets)} arrival times")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (folder / f"{name}.ami", folder / f"{name}.ami.gz"):
        stale.unlink(missing_ok=True)
    if len(raw) > MAX_PLAIN_BYTES:
        path = folder / f"{name}.ami.gz"
        path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    else:
        path = folder / f"{name}.ami"
        path.write_bytes(raw)
    info = dict(meta, events=len(events), bytes=len(raw), file=path.name, offsets=[round(o, 6) for o in offsets])
    if routing_text is not None:
        (folder / f"{name}.routing.yaml").write_text(routing_text)
        info["routing"] = f"{name}.routing.yaml"
    (folder / f"{name}.json").write_text(json.dumps(info, indent=1) + "\n")
    return path


def read_recording(path: str | Path) -> Recording:
    """Read a recording; ``path`` may be ``NAME`` or any of its files."""
    base = base_path(path)
    plain, packed, meta_path = base.with_suffix(".ami"), base.parent / f"{base.name}.ami.gz", base.with_suffix(".json")
    try:
        raw = plain.read_bytes() if plain.exists() or not packed.exists() else gzip.decompress(packed.read_bytes())
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as exc:
        raise RecordingError(f"{exc.filename}: no such file (a recording is NAME.ami or NAME.ami.gz with NAME.json beside it)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingError(f"{base}: cannot read the recording ({exc})") from None
    events, _ = split_events(raw)
    offsets = tuple(float(o) for o in meta.get("offsets", []))
    if not events:
        raise RecordingError(f"{base}: no AMI events in it")
    if len(offsets) != len(events):
        raise RecordingError(f"{meta_path}: {len(offsets)} arrival times for {len(events)} events")
    routing = meta.get("routing")
    return Recording(base.name, tuple(events), offsets, meta, (base.parent / routing) if routing else None)


def _unique_ids(events: tuple[bytes, ...]) -> dict[bytes, tuple[bytes, int]]:
    """Every value that names a channel (``Uniqueid``, ``Linkedid``, ``DestUniqueid``, ``CallId``...)."""
    found: dict[bytes, tuple[bytes, int]] = {}
    for block in events:
        for key, value in headers_of(block):
            lowered = key.lower()
            if lowered.endswith(b"uniqueid") or lowered.endswith(b"linkedid") or lowered == b"callid":
                match = _UNIQUEID.match(value)
                if match:
                    found[value] = (match.group(1), int(match.group(2)))
    return found


def looped_events(recording: Recording, loops: int) -> Iterator[tuple[bytes, float]]:
    """``(block, virtual time)`` for ``loops`` passes; ids renamed and times shifted per pass.

    A pass lasts the recording's duration plus one second, so the timeline never runs
    backwards at the seam and the last calls of a pass are over before the next begins.
    """
    ids = _unique_ids(recording.events)
    stride = 10 ** len(str(max((seq for _, seq in ids.values()), default=0) + 1))
    period = recording.duration_s + 1.0
    start = recording.started_at
    renamed = sorted(ids, key=len, reverse=True)
    for loop in range(loops):
        shift = loop * period
        mapping = {old: b"%s.%d" % (ids[old][0], ids[old][1] + loop * stride) for old in renamed}
        for block, offset in zip(recording.events, recording.offsets):
            yield (_rewrite(block, mapping, shift) if loop else block), start + offset + shift


def _rewrite(block: bytes, mapping: dict[bytes, bytes], shift: float) -> bytes:
    lines = block.split(b"\r\n")
    for index, line in enumerate(lines):
        key, sep, value = line.partition(b": ")
        if not sep:
            continue
        if value in mapping:
            lines[index] = key + sep + mapping[value]
        elif key in TIME_HEADERS and value:
            try:
                lines[index] = key + sep + b"%.3f" % (float(value) + shift)
            except ValueError:
                pass
        elif b"=" in value:  # VarSet-style "Value: NAME=uniqueid" and Variable lines
            name, eq, item = value.partition(b"=")
            if item in mapping:
                lines[index] = key + sep + name + eq + mapping[item]
    return b"\r\n".join(lines)
