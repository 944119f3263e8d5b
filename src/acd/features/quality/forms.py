"""Quality evaluation forms: sections of yes/no items with weights, some critical, in YAML.

The contract pays a monthly bonus when agents meet a quality checklist, so calls are
graded against a form the QA team writes and changes.  A form is a YAML file in
``quality.forms_dir``, validated like flows and routing files: every mistake reported
as ``FILE:LINE:COL: message``::

    id: atencion-telefonica
    title: Atención telefónica
    version: 1
    sections:
      - name: Saludo
        weight: 20                 # the section's share of the score (normalised)
        items:
          - {id: saludo, text: "Saluda con el guion", weight: 1}
          - {id: nombre, text: "Dice su nombre"}          # weight 1
      - name: Protección de datos
        weight: 30
        items:
          - {id: datos, text: "No pide la clave", critical: true}

How a grade is scored (:meth:`Form.score`): each item is answered ``yes``, ``no`` or
``na`` (not applicable).  A section scores the weight of its ``yes`` items over the
weight of its applicable items; the form scores the weighted mean of its sections that
have an applicable item, as a percentage.  A critical item answered ``no`` makes the
whole grade 0, whatever the rest (a call that leaks personal data is not a good call).
A critical item cannot be ``na``.
"""

from __future__ import annotations

import hashlib
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acd.yamlpos import DEFAULT_LIMITS, Problem, YamlLimits, load_yaml_file, pydantic_problems, sorted_problems

Answer = Literal["yes", "no", "na"]
ANSWERS: tuple[str, ...] = ("yes", "no", "na")
ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Item(_Strict):
    id: str = Field(pattern=ID)
    text: str = Field(min_length=1, max_length=500)
    weight: Decimal = Field(Decimal(1), gt=0, le=1000)
    critical: bool = False
    help: str = Field("", max_length=2000)


class Section(_Strict):
    name: str = Field(min_length=1, max_length=200)
    weight: Decimal = Field(Decimal(1), gt=0, le=1000)
    items: list[Item] = Field(min_length=1, max_length=200)


class Form(_Strict):
    id: str = Field(pattern=ID)
    title: str = Field(min_length=1, max_length=200)
    version: int = Field(1, ge=1, le=1_000_000)
    sections: list[Section] = Field(min_length=1, max_length=50)
    #: SHA-256 of the file as loaded: a grade names the exact form it was made with
    digest: str = Field("", exclude=True)

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def check_answers(self, answers: dict[str, str]) -> list[str]:
        """What is wrong with a set of answers (empty: usable)."""
        problems = []
        known = {item.id: item for item in self.items}
        for item_id, answer in answers.items():
            if item_id not in known:
                problems.append(f"{item_id}: not an item of form {self.id}")
            elif answer not in ANSWERS:
                problems.append(f"{item_id}: answer {answer!r}, expected yes, no or na")
        for item in self.items:
            if item.id not in answers:
                problems.append(f"{item.id}: not answered")
            elif item.critical and answers[item.id] == "na":
                problems.append(f"{item.id}: a critical item must be answered yes or no")
        return problems

    def score(self, answers: dict[str, str]) -> tuple[Decimal, bool]:
        """(score 0-100 with one decimal, whether a critical item failed); answers must be checked."""
        if any(item.critical and answers.get(item.id) == "no" for item in self.items):
            return Decimal("0.0"), True
        total = Decimal(0)
        weights = Decimal(0)
        for section in self.sections:
            applicable = [item for item in section.items if answers.get(item.id) in ("yes", "no")]
            possible = sum((item.weight for item in applicable), Decimal(0))
            if not possible:
                continue
            got = sum((item.weight for item in applicable if answers[item.id] == "yes"), Decimal(0))
            total += section.weight * got / possible
            weights += section.weight
        value = Decimal(100) * total / weights if weights else Decimal(0)
        return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), False


class FormError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_form(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> Form:
    """One form file, or :class:`FormError` with every problem positioned."""
    doc, problems = load_yaml_file(path, limits)
    if problems or doc is None:
        raise FormError(problems or [Problem(str(path), 1, 1, "cannot read the form")])
    data = doc.data
    if not isinstance(data, dict):
        raise FormError([doc.problem((), "a form must be a mapping (id:, title:, sections:)")])
    try:
        form = Form.model_validate(data)
    except ValidationError as exc:
        raise FormError(sorted_problems(pydantic_problems(doc, exc))) from None
    seen: dict[str, tuple[int, int]] = {}
    for s, section in enumerate(form.sections):
        for i, item in enumerate(section.items):
            path_key = ("sections", s, "items", i, "id")
            if item.id in seen:
                line, column = seen[item.id]
                problems.append(doc.problem(path_key, f"item id {item.id!r} used twice (first at line {line}, column {column})"))
            else:
                seen[item.id] = doc.where(path_key)
    stem = Path(path).stem
    if form.id != stem:
        problems.append(doc.problem(("id",), f"id {form.id!r} must be the file's name ({stem!r}): grades name the form by it"))
    if problems:
        raise FormError(sorted_problems(problems))
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return form.model_copy(update={"digest": digest})


def load_forms(folder: Path, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[dict[str, Form], list[Problem]]:
    """Every ``*.yaml`` form in ``folder``: the good ones, and the problems of the others."""
    forms: dict[str, Form] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return forms, problems
    for path in sorted(folder.glob("*.yaml")):
        if not re.match(ID, path.stem):
            problems.append(Problem(str(path), 1, 1, "a form file's name must be its id (a-z, 0-9, _ and -)"))
            continue
        try:
            forms[path.stem] = load_form(path, limits)
        except FormError as exc:
            problems.extend(exc.problems)
    return forms, problems
