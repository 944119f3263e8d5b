"""Dispositions report: how many calls each code got, by queue, agent, skill or interval, from the event log.

The ``call.disposition`` events (``acd.routing.decisions.CallDispositioned``) are the only
source, read for ``[start, end)``, so ``acd report --dispositions`` and the console's
dispositions page give the same counts.  A call coded twice (an agent correcting
themselves is refused by the router, but a restored log might hold both) counts once, by
its last code, so the shares of a group add up to its coded calls.

By skill, a call counts under each skill of its last ``call.queued`` (as the figures
count a call with two skills in both rows), so the events must include those; by
interval, a call counts in the report interval (``acd.metrics.timeutil.buckets``, local
time) in which it was coded.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from zoneinfo import ZoneInfo

from acd.base.events import Event

from acd.metrics.timeutil import bucket_of, buckets

GROUPINGS = ("queue", "agent", "skill", "interval")


@dataclass
class DispositionGroup:
    """One queue's or agent's codes: code -> calls, and each code's outcome group."""

    name: str
    codes: Counter[str] = field(default_factory=Counter)
    results: dict[str, str | None] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.codes.values())

    def rows(self) -> list[tuple[str, str | None, int, float]]:
        """(code, outcome, calls, share of the group's coded calls), most used first."""
        total = self.total or 1
        return [(code, self.results.get(code), count, count / total) for code, count in sorted(self.codes.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass
class DispositionReport:
    start: float
    end: float
    by: str
    groups: dict[str, DispositionGroup]

    @property
    def total(self) -> int:
        return sum(group.total for group in self.groups.values())


def disposition_report(
    events: Iterable[Event], start: float, end: float, by: str = "queue", queue: str | None = None,
    *, interval: str = "60", timezone: str = "UTC",
) -> DispositionReport:
    """Counts of ``call.disposition`` events in ``[start, end)`` by ``queue``, ``agent``, ``skill`` or ``interval``."""
    if by not in GROUPINGS:
        raise ValueError(f"dispositions are grouped by {', '.join(GROUPINGS)}, not {by!r}")
    last: dict[str, Event] = {}
    skills: dict[str, list[str]] = {}
    for event in events:
        if event.type == "call.queued" and event.call_id:
            skills[event.call_id] = [str(skill) for skill in event.data.get("skills") or []]
            continue
        if event.type != "call.disposition" or not start <= event.ts < end or (queue is not None and event.queue != queue):
            continue
        last[event.call_id or event.id] = event
    intervals = buckets(start, end, interval, ZoneInfo(timezone)) if by == "interval" else []
    starts = [bucket.start for bucket in intervals]
    groups: dict[str, DispositionGroup] = {}
    for call_id, event in last.items():
        if by == "queue":
            names = [event.queue or "-"]
        elif by == "agent":
            names = [event.agent_id or "-"]
        elif by == "skill":
            names = skills.get(call_id) or ["-"]
        else:
            index = bucket_of(starts, end, event.ts)
            names = [intervals[index].label.strftime("%Y-%m-%d %H:%M") if index is not None else "-"]
        code = str(event.data.get("code") or "-")
        for name in names:
            group = groups.setdefault(name, DispositionGroup(name))
            group.codes[code] += 1
            group.results[code] = event.data.get("result")
    return DispositionReport(start, end, by, dict(sorted(groups.items())))


def as_dict(report: DispositionReport) -> dict[str, object]:
    return {
        "start": report.start, "end": report.end, "by": report.by, "coded_calls": report.total,
        "groups": [
            {report.by: group.name, "coded_calls": group.total,
             "codes": [{"code": code, "outcome": result, "calls": count, "share": round(share, 4)} for code, result, count, share in group.rows()]}
            for group in report.groups.values()
        ],
    }


def as_json(report: DispositionReport) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False)


def as_csv(report: DispositionReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, "code", "outcome", "calls", "share"])
    for group in report.groups.values():
        for code, result, count, share in group.rows():
            writer.writerow([group.name, code, result or "", count, f"{share:.4f}"])
    return out.getvalue()


def as_table(report: DispositionReport) -> str:
    if not report.groups:
        return "no dispositions in this range"
    header = (report.by.capitalize(), "Code", "Outcome", "Calls", "Share")
    lines = [header]
    for group in report.groups.values():
        for code, result, count, share in group.rows():
            lines.append((group.name, code, result or "", str(count), f"{share * 100:.1f}%"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append(f"{report.total} coded calls")
    return "\n".join(text)
