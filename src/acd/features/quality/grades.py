"""Grades of calls against quality forms: append-only, one SQLite file of their own.

A submitted grade cannot change (SQLite triggers refuse UPDATE and DELETE, as for the
console's audit log): a QA analyst who got it wrong submits a *correction*, a new grade
naming the one it replaces and why, so the bonus figure can always be traced back to who
graded what, when, with which version of which form (its SHA-256 is kept).

Which grades count (:meth:`GradeStore.current`): per call and grader, the latest grade
(corrections replace); for a call graded by several graders (calibration), the month's
figures take the most recent of them.  The month's quality compliance is the mean score
of the calls made in that month that have a counting grade; the contract's bonus needs it
to reach the month's target (75 % in contract month 1, then 80, 85, 90, 95 % from month 5).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Iterator, Mapping

from acd.features.quality.forms import Form
from acd.private_files import prepare_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    call_ts REAL NOT NULL,
    agent TEXT,
    queue TEXT,
    form_id TEXT NOT NULL,
    form_version INTEGER NOT NULL,
    form_sha256 TEXT NOT NULL,
    grader TEXT NOT NULL,
    graded_at REAL NOT NULL,
    answers TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    score TEXT NOT NULL,
    critical_failed INTEGER NOT NULL,
    corrects INTEGER REFERENCES grades (id),
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS grades_call ON grades (call_id);
CREATE INDEX IF NOT EXISTS grades_call_ts ON grades (call_ts);
CREATE TRIGGER IF NOT EXISTS grades_no_update BEFORE UPDATE ON grades
BEGIN SELECT RAISE(ABORT, 'grades are immutable: submit a correction'); END;
CREATE TRIGGER IF NOT EXISTS grades_no_delete BEFORE DELETE ON grades
BEGIN SELECT RAISE(ABORT, 'grades are immutable: submit a correction'); END;
"""

#: the contract's quality bonus targets by contract month (month 5 on: the last one)
BONUS_TARGETS: tuple[Decimal, ...] = (Decimal(75), Decimal(80), Decimal(85), Decimal(90), Decimal(95))


def bonus_target(contract_month: int | None, targets: tuple[Decimal, ...] = BONUS_TARGETS) -> Decimal:
    """The target for a contract month (1-based); without a contract start, the steady-state one."""
    if contract_month is None or contract_month > len(targets):
        return targets[-1]
    return targets[max(contract_month, 1) - 1]


class GradeError(ValueError):
    """A grade that cannot be stored (bad answers, unknown correction); the message says why."""


@dataclass(frozen=True)
class Grade:
    id: int
    call_id: str
    call_ts: float
    agent: str | None
    queue: str | None
    form_id: str
    form_version: int
    form_sha256: str
    grader: str
    graded_at: float
    answers: dict[str, str]
    comment: str
    score: Decimal
    critical_failed: bool
    corrects: int | None
    reason: str


_COLUMNS = "id, call_id, call_ts, agent, queue, form_id, form_version, form_sha256, grader, graded_at, answers, comment, score, critical_failed, corrects, reason"


def _grade(row: tuple) -> Grade:  # type: ignore[type-arg]
    return Grade(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], json.loads(row[10]),
                 row[11], Decimal(row[12]), bool(row[13]), row[14], row[15])


@dataclass(frozen=True)
class AgentScore:
    agent: str
    calls: int
    average: Decimal
    critical_failed: int


@dataclass(frozen=True)
class MonthQuality:
    calls: int
    average: Decimal | None  # None: nothing graded
    target: Decimal
    met: bool
    agents: list[AgentScore]
    teams: list[AgentScore] = field(default_factory=list)  # ``agent`` is the team's name; from the routing file's ``team:``


class GradeStore:
    """The grades file (owner-only); created on first use unless ``create`` is false."""

    def __init__(self, path: Path, *, private: bool = True, create: bool = True) -> None:
        self.path = Path(path)
        if create:
            prepare_database(self.path, private=private)
            with closing(sqlite3.connect(self.path, timeout=5.0, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        elif not self.path.exists():
            raise GradeError(f"no grades yet ({self.path} does not exist)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5.0, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def submit(
        self, form: Form, *, call_id: str, call_ts: float, agent: str | None, queue: str | None, grader: str,
        answers: dict[str, str], comment: str = "", corrects: int | None = None, reason: str = "", now: float | None = None,
    ) -> Grade:
        """Store a new grade (immutable from here on); a correction names the grade it replaces and why."""
        problems = form.check_answers(answers)
        if problems:
            raise GradeError("; ".join(problems))
        score, failed = form.score(answers)
        with self._connect() as db:
            if corrects is not None:
                row = db.execute("SELECT call_id FROM grades WHERE id = ?", (corrects,)).fetchone()
                if row is None or row[0] != call_id:
                    raise GradeError(f"grade #{corrects} is not a grade of call {call_id}")
                if not reason.strip():
                    raise GradeError("a correction needs a reason")
            cursor = db.execute(
                f"INSERT INTO grades ({_COLUMNS.partition(', ')[2]}) VALUES ({', '.join('?' * 15)})",
                (call_id, call_ts, agent, queue, form.id, form.version, form.digest, grader, time.time() if now is None else now,
                 json.dumps(answers, sort_keys=True), comment[:2000], str(score), int(failed), corrects, reason[:500]),
            )
            grade_id = cursor.lastrowid
            row = db.execute(f"SELECT {_COLUMNS} FROM grades WHERE id = ?", (grade_id,)).fetchone()
        return _grade(row)

    def of_call(self, call_id: str) -> list[Grade]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM grades WHERE call_id = ? ORDER BY id", (call_id,)).fetchall()
        return [_grade(r) for r in rows]

    def between(self, start: float, end: float) -> list[Grade]:
        """Every grade of calls made in ``[start, end)``, oldest first."""
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM grades WHERE call_ts >= ? AND call_ts < ? ORDER BY id", (start, end)).fetchall()
        return [_grade(r) for r in rows]


def current(grades: list[Grade]) -> dict[str, Grade]:
    """Per call, the grade that counts: corrections replace what they correct; then the most recent."""
    replaced = {g.corrects for g in grades if g.corrects is not None}
    counting: dict[str, Grade] = {}
    for grade in grades:  # oldest first: a later grade wins
        if grade.id not in replaced:
            counting[grade.call_id] = grade
    return counting


def per_grader(grades: list[Grade]) -> dict[str, dict[str, Grade]]:
    """Calibration: call -> grader -> that grader's standing grade (their corrections applied)."""
    replaced = {g.corrects for g in grades if g.corrects is not None}
    table: dict[str, dict[str, Grade]] = defaultdict(dict)
    for grade in grades:
        if grade.id not in replaced:
            table[grade.call_id][grade.grader] = grade
    return dict(table)


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def month_quality(grades: list[Grade], target: Decimal, team_of: Mapping[str, str] | None = None) -> MonthQuality:
    """The month's compliance (mean counting score) against ``target``, and the same per agent
    and per team (each team's mean over its agents' graded calls, not a mean of means)."""
    counting = list(current(grades).values())

    def scores(key: Callable[[Grade], str | None]) -> list[AgentScore]:
        groups: dict[str, list[Grade]] = defaultdict(list)
        for grade in counting:
            name = key(grade)
            if name is not None:
                groups[name].append(grade)
        return [
            AgentScore(name, len(items), _mean([g.score for g in items]), sum(1 for g in items if g.critical_failed))
            for name, items in sorted(groups.items())
        ]

    agents = scores(lambda grade: grade.agent or "?")
    teams = scores(lambda grade: team_of.get(grade.agent or "")) if team_of else []
    average = _mean([g.score for g in counting]) if counting else None
    return MonthQuality(len(counting), average, target, average is not None and average >= target, agents, teams)
