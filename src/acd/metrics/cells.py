"""Quarter-hour cells: the ledger's accumulators, kept per 15 minutes, for every report.

Every report is made of *cells*: the :class:`~acd.metrics.ledger.Ledger` replays the
events once with 15-minute buckets (aligned on UTC quarter hours, which are the local
quarter hours of every timezone whose offset is a whole number of quarter hours: all of
today's) and every breakdown a report can ask for: all calls, per queue, per skill and
per skill within a queue.  A row of a report (15 or 30 minutes, an hour, a day, a month)
is the exact merge (:meth:`Acc.absorb`) of its cells, so the figures of a day are the
same whether its cells were just computed or read back from the store
(``acd.metrics.aggregates``): there is one implementation of every figure, the ledger,
and a cache of its accumulators.

When a cell is **final** (may be stored for good): nothing logged later can change it.
A cell changes only through (a) an event logged with a time inside it, or (b) an episode
booked in it that is not settled yet (``Ledger.unsettled_accs``: still waiting, answered
but not completed, wrap-up open or still attributable; a callback or survey that follows
its call).  So a cell is final when no unsettled episode touches it and it ended more
than ``SETTLE_GUARD_S`` ago (events reach the log within a second or so of their time),
or in any case one day after it ended: a report never looks further than a day past its
range (``EventStore.report_events``), so neither does a stored cell.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from acd.base.events import Event
from acd.metrics.estimates import announcement_errors
from acd.metrics.ledger import Acc, ExactSum, Ledger, Rules
from acd.metrics.timeutil import Bucket, bucket_of, buckets

CELL_S = 900.0
DAY_S = 86400.0
SETTLE_GUARD_S = 300.0
UTC = ZoneInfo("UTC")
GROUPS = ("queue", "skill", "queue_skill")

GroupKey = tuple[str, ...]  # (): all calls; ("queue", q); ("skill", s); ("queue_skill", q, s)
_FIELDS = tuple(f.name for f in fields(Acc))


@dataclass(slots=True)
class Cell:
    """The accumulators of ``[start, end)`` by group, what is still pending, estimate errors."""

    start: float
    end: float
    accs: dict[GroupKey, Acc] = field(default_factory=dict)
    pending: dict[GroupKey, int] = field(default_factory=dict)  # waiting calls still within threshold
    errors: list[tuple[str | None, float]] = field(default_factory=list)  # (queue, |estimate error|)
    final: bool = False


class QuarterBuckets:
    """Quarter hours of ``[start, end)`` (the first and last clipped to it) as a ledger bucketing."""

    def __init__(self, start: float, end: float) -> None:
        self.buckets: list[Bucket] = buckets(start, end, "15", UTC)
        self.starts = [b.start for b in self.buckets]
        self.end = end

    def locate(self, ts: float) -> int | None:
        return bucket_of(self.starts, self.end, ts)

    def pieces(self, lo: float, hi: float) -> Iterator[tuple[int, float]]:
        if not self.buckets:
            return
        index = self.locate(max(lo, self.starts[0]))
        while index is not None and index < len(self.buckets) and self.buckets[index].start < hi:
            bucket = self.buckets[index]
            seconds = min(hi, bucket.end) - max(lo, bucket.start)
            if seconds > 0:
                yield index, seconds
            index += 1


def compute_cells(events: Sequence[Event], start: float, end: float, *, rules: Rules, now: float | None) -> list[Cell]:
    """Cells of ``[start, end)`` from ``events`` in time order (see ``EventStore.report_events``).

    ``now`` ends agent states still open (else they run to ``end``), tells which waiting
    calls are still within their threshold, and which cells are final (None: none is).
    """
    quarters = QuarterBuckets(start, end)
    until = end if now is None else min(end, now)
    ledger = Ledger([quarters], rules=rules, groups=GROUPS, until=until)
    ledger.feed_all(events)
    pending = ledger.pending_within(now)
    open_time = ledger.open_agent_time(until)
    unsettled = ledger.unsettled_accs()
    cells = [Cell(b.start, b.end) for b in quarters.buckets]
    busy: set[int] = set()
    for (_, key, group), acc in ledger.accs.items():
        if id(acc) in unsettled:
            busy.add(key)  # type: ignore[arg-type]
        if acc.is_empty():
            continue  # e.g. every call it had moved to another queue
        group_key: GroupKey = () if group is None else group
        cells[key].accs[group_key] = acc  # type: ignore[index]
        if pending.get(id(acc)):
            cells[key].pending[group_key] = pending[id(acc)]  # type: ignore[index]
    for (_, key), extra in open_time.items():
        cells[key].accs.setdefault((), Acc()).absorb(extra)  # type: ignore[index]
    for ts, queue, error in announcement_errors(events):
        index = quarters.locate(ts)
        if index is not None:
            cells[index].errors.append((queue, error))
    for index, cell in enumerate(cells):
        if now is None or cell.end - cell.start != CELL_S:
            continue  # a clipped quarter is never stored
        cell.final = cell.end + DAY_S <= now or (index not in busy and cell.end <= now - SETTLE_GUARD_S)
    return cells


def merge_cells(cells: Iterable[Cell], start: float, end: float) -> Cell:
    """One cell for ``[start, end)`` made of ``cells`` (final only if all of them are)."""
    merged = Cell(start, end, final=True)
    for cell in cells:
        for group, acc in cell.accs.items():
            merged.accs.setdefault(group, Acc()).absorb(acc)
        for group, count in cell.pending.items():
            merged.pending[group] = merged.pending.get(group, 0) + count
        merged.errors.extend(cell.errors)
        merged.final = merged.final and cell.final
    return merged


# --- storage -----------------------------------------------------------------------


def _sum_json(value: ExactSum) -> list[int]:
    return [value.n, value.shift]


def _sum_of(pair: list[int]) -> ExactSum:
    value = ExactSum()
    value.n, value.shift = pair
    return value


def encode_cell(cell: Cell) -> bytes:
    """A final cell as compressed JSON (exact: big integers and shortest-repr floats)."""
    accs = []
    for group, acc in cell.accs.items():
        values = [getattr(acc, name) for name in _FIELDS]
        accs.append([list(group), [_sum_json(v) if isinstance(v, ExactSum) else v for v in values]])
    text = json.dumps({"a": accs, "e": cell.errors}, separators=(",", ":"))
    return zlib.compress(text.encode(), 6)


def decode_cell(start: float, end: float, blob: bytes, wanted: Callable[[GroupKey], bool] | None = None) -> Cell:
    """A stored cell; ``wanted``: only the groups a report reads (such a cell is never stored again)."""
    data = json.loads(zlib.decompress(blob))
    cell = Cell(start, end, final=True)
    for group_list, values in data["a"]:
        group = tuple(group_list)
        if wanted is None or wanted(group):
            cell.accs[group] = Acc(*[_sum_of(v) if isinstance(v, list) else v for v in values])
    cell.errors = [(queue, error) for queue, error in data["e"]]
    return cell


def _code_version() -> str:
    """A digest of the code that computes cells: any change to it retires every stored cell."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("ledger.py", "cells.py", "estimates.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


_CODE_VERSION = _code_version()


def rules_key(rules: Rules) -> str:
    """What stored cells depend on besides the events: the rules and the code's version."""
    described = {
        "code": _CODE_VERSION,
        "default": [rules.default.threshold_s, rules.default.short_abandon_s],
        "queues": sorted([name, r.threshold_s, r.short_abandon_s] for name, r in rules.per_queue.items()),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]


__all__ = [
    "CELL_S",
    "Cell",
    "GROUPS",
    "GroupKey",
    "QuarterBuckets",
    "SETTLE_GUARD_S",
    "compute_cells",
    "decode_cell",
    "encode_cell",
    "merge_cells",
    "rules_key",
]
