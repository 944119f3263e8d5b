"""Plain-text tables for ``acd queues``, ``acd agents``, ``acd calls`` and ``acd top``.

Input is the API's JSON (plain dicts), so what a table shows is exactly what ``--json``
prints.  A queue below its service-level target is marked ``!`` in the first column
(readable without colour, in a log, by a screen reader); colour is only an extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

BOLD_RED = "\x1b[1;31m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"
RESET = "\x1b[0m"
UNDER_TARGET_MARK = "!"


def duration(seconds: float | None) -> str:
    """``0:41``, ``12:05``, ``1:02:03``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    total = int(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


@dataclass
class Row:
    cells: Sequence[str]
    style: str = ""  # an ANSI prefix for the whole row, used only when colour is on


def table(headers: Sequence[str], rows: Sequence[Row], *, right: Sequence[int] = (), color: bool = False, width: int | None = None) -> list[str]:
    """Aligned columns; ``right`` lists the columns aligned right (numbers); lines cut at ``width``."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row.cells):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(cells)]
        text = "  ".join(parts).rstrip()
        return text[:width] if width is not None else text

    lines = [line(headers)]
    if color:
        lines[0] = f"{BOLD}{lines[0]}{RESET}"
    for row in rows:
        text = line(row.cells)
        lines.append(f"{row.style}{text}{RESET}" if color and row.style else text)
    return lines


# ---------------------------------------------------------------------------- queues
QUEUE_HEADERS = ("", "QUEUE", "WAIT", "LONGEST", "IN", "AVAIL", "ONCALL", "PAUSE", "OFFER", "ANS", "ABAN", "SL 15m", "SL DAY", "TARGET", "AB 15m", "AB DAY", "ASA", "AHT")
SKILL_HEADERS = ("SKILL", "WAIT", "LONGEST", "IN", "AVAIL", "ONCALL", "PAUSE", "OFFER", "ANS", "SL 15m", "SL DAY", "ASA", "AHT")


def queue_rows(queues: Sequence[dict[str, Any]]) -> list[Row]:
    """Day counts, interval and day service level and abandonment, day ASA/AHT."""
    rows = []
    for q in queues:
        interval, day, agents = q["interval"], q["day"], q["agents"]
        rows.append(
            Row(
                (
                    UNDER_TARGET_MARK if q["under_target"] else "",
                    q["name"],
                    str(q["waiting"]),
                    duration(q["longest_wait_s"]) if q["waiting"] else "-",
                    str(agents["logged_in"]),
                    str(agents["available"]),
                    str(agents["on_call"]),
                    str(agents["paused"]),
                    str(day["offered"]),
                    str(day["answered"]),
                    str(day["abandoned"]),
                    percent(interval["service_level"]),
                    percent(day["service_level"]),
                    f"{q['target'] * 100:.0f}%/{q['threshold_s']:g}s",
                    percent(interval["abandon_rate"]),
                    percent(day["abandon_rate"]),
                    duration(day["asa_s"]),
                    duration(day["aht_s"]),
                ),
                BOLD_RED if q["under_target"] else "",
            )
        )
    return rows


def skill_rows(skills: Sequence[dict[str, Any]]) -> list[Row]:
    rows = []
    for s in skills:
        interval, day, agents = s["interval"], s["day"], s["agents"]
        rows.append(
            Row(
                (
                    s["name"],
                    str(s["waiting"]),
                    duration(s["longest_wait_s"]) if s["waiting"] else "-",
                    str(agents["logged_in"]),
                    str(agents["available"]),
                    str(agents["on_call"]),
                    str(agents["paused"]),
                    str(day["offered"]),
                    str(day["answered"]),
                    percent(interval["service_level"]),
                    percent(day["service_level"]),
                    duration(day["asa_s"]),
                    duration(day["aht_s"]),
                )
            )
        )
    return rows


def queues_text(stats: dict[str, Any], *, color: bool = False, width: int | None = None) -> list[str]:
    lines = table(QUEUE_HEADERS, queue_rows(stats["queues"]), right=range(2, 18), color=color, width=width)
    lines.append("")
    lines += table(SKILL_HEADERS, skill_rows(stats["skills"]), right=range(1, 13), color=color, width=width)
    return lines


def agent_summary(totals: dict[str, Any]) -> str:
    return (
        f"agents: {totals['logged_in']} logged in, {totals['available']} available, {totals['ringing']} ringing, "
        f"{totals['on_call']} on call, {totals['wrap_up']} wrap-up, {totals['paused']} paused, {totals['logged_out']} logged out"
    )


# ---------------------------------------------------------------------------- agents
AGENT_HEADERS = ("AGENT", "NAME", "STATE", "FOR", "REASON", "CALL", "TODAY", "SKILLS")
_STATE_LABEL = {"reserved": "ringing"}


def agent_rows(agents: Sequence[dict[str, Any]]) -> list[Row]:
    rows = []
    for a in agents:
        state = _STATE_LABEL.get(a["state"], a["state"])
        if a.get("pending"):
            state += f" (then {a['pending'].split(':', 1)[0]})"
        skills = " ".join(f"{name}:{level}" for name, level in sorted(a["skills"].items()))
        logged_out = a["state"] == "logged_out"
        rows.append(
            Row(
                (
                    a["id"],
                    a["name"],
                    state,
                    "-" if logged_out else duration(a["in_state_s"]),
                    a["reason"] or "-",
                    a["call_id"] or "-",
                    str(a["handled_today"]),
                    skills,
                ),
                DIM if logged_out else "",
            )
        )
    return rows


def agents_text(agents: Sequence[dict[str, Any]], *, color: bool = False, width: int | None = None) -> list[str]:
    return table(AGENT_HEADERS, agent_rows(agents), right=(3, 6), color=color, width=width)


# ---------------------------------------------------------------------------- calls
CALL_HEADERS = ("CALL", "QUEUE", "STATE", "POS", "WAIT", "PRIO", "AGENT", "TALK")


def calls_text(calls: Sequence[dict[str, Any]], *, color: bool = False, width: int | None = None) -> list[str]:
    rows = [
        Row(
            (
                c["id"],
                c["queue"],
                c["state"],
                str(c["position"]) if c["position"] is not None else "-",
                duration(c["waited_s"]),
                str(c["priority"]),
                c["agent_id"] or "-",
                duration(c["talk_s"]),
            )
        )
        for c in calls
    ]
    return table(CALL_HEADERS, rows, right=(3, 4, 5, 7), color=color, width=width)
