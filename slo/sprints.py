"""The runbook's sprint calendar: which sprint a gate belongs to, and whether its evidence is due or overdue.

A calendar file (``sprints.yaml``) names each sprint and its start date; the runbook wants a gate's evidence
by day 9 of its sprint (day 1 is the start date; the due day is configurable). Everything here is pure date
arithmetic in UTC: the caller passes "now" in, so tests can pin any instant (day 9 exactly, month ends,
leap days) without a clock. YAML goes through the spec loader's safe parsing, so problems carry file:line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slo.loader import (
    _SAFE_LOADER,
    SpecError,
    SpecProblem,
    _check_events,
    _field_path,
    _index_lines,
    _line_for,
    _message,
)

DEFAULT_DUE_DAY = 9


_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Sprint(BaseModel):
    """One sprint: its id (matched against a gate's ``sprint`` field), first day, and the gates it owns."""

    id: str = Field(pattern=_ID)
    start: date
    gates: list[str] = Field(default_factory=list)
    """Gates whose spec has no ``sprint`` of its own (the built-in catalog sets none) belong here."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(BaseModel):
    """``kind: Sprints``: the sprints in any order, and the day of a sprint its evidence is due by."""

    api_version: Literal["gatepack/v1"] = Field(alias="apiVersion")
    kind: Literal["Sprints"]
    due_day: int = Field(DEFAULT_DUE_DAY, ge=1, le=366)
    sprints: list[Sprint] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _unique(self) -> Calendar:
        ids = [s.id for s in self.sprints]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"sprint {twice[0]} is listed twice")
        owners: dict[str, str] = {}
        for sprint in self.sprints:
            for gate in sprint.gates:
                if gate in owners:
                    raise ValueError(f"gate {gate} is in sprint {owners[gate]} and in sprint {sprint.id}")
                owners[gate] = sprint.id
        return self

    def sprint_for(self, gate_id: str, gate_sprint: str | None) -> Sprint | None:
        """The gate's own ``sprint`` when the calendar has it, else the sprint listing the gate, else None."""
        by_id = {s.id: s for s in self.sprints}
        if gate_sprint is not None and gate_sprint in by_id:
            return by_id[gate_sprint]
        return next((s for s in self.sprints if gate_id in s.gates), None)


def load_calendar(text: str, source: str = "<sprints>") -> Calendar:
    """The calendar in ``text``; raises :class:`~slo.loader.SpecError` with every problem at its line."""
    try:
        _check_events(text, source)
        node = yaml.compose(text, Loader=_SAFE_LOADER)
        data: Any = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (the safe loader, C-accelerated when available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SpecError(
            [SpecProblem(source, line, "", f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]
        ) from None
    if node is None or not isinstance(data, dict):
        raise SpecError([SpecProblem(source, 1, "", "a sprint calendar must be a mapping (apiVersion, kind: Sprints)")])
    lines: dict[tuple[str | int, ...], int] = {}
    dupes: list[str] = []
    _index_lines(node, (), lines, dupes)
    problems = [SpecProblem(source, int(ln), fld, msg) for ln, fld, msg in (d.split("\t") for d in dupes)]
    try:
        calendar = Calendar.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            line, path = _line_for(tuple(error["loc"]), data, lines)
            problems.append(SpecProblem(source, line, _field_path(path), _message(dict(error))))
        raise SpecError(problems) from None
    if problems:
        raise SpecError(problems)
    return calendar


def due_date(start: date, due_day: int = DEFAULT_DUE_DAY) -> date:
    """The calendar day evidence is due by: day 1 is ``start`` itself."""
    return start + timedelta(days=due_day - 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


State = Literal["upcoming", "due", "on_time", "late", "overdue"]


@dataclass(frozen=True)
class EvidenceDue:
    """Where a gate's evidence stands in its sprint at ``now``."""

    sprint: str
    start: date
    due: date
    state: State
    days_left: int | None = None
    """For ``due``: whole days until the due day (0 on the due day itself)."""


def evidence_due(sprint: Sprint, due_day: int, now: datetime, evidence_at: datetime | None) -> EvidenceDue:
    """Whether the gate has evidence from this sprint, on time (by the end of the due day, UTC) or late.

    Evidence older than the sprint's start is a previous sprint's and does not count. Without evidence the
    state is ``upcoming`` before the start, ``due`` up to the end of the due day, ``overdue`` after it.
    """
    if now.tzinfo is None or (evidence_at is not None and evidence_at.tzinfo is None):
        raise ValueError("times must be timezone-aware")
    due = due_date(sprint.start, due_day)
    begins, ends = _midnight(sprint.start), _midnight(due + timedelta(days=1))
    if evidence_at is not None and evidence_at >= begins:
        return EvidenceDue(sprint.id, sprint.start, due, "on_time" if evidence_at < ends else "late")
    if now < begins:
        return EvidenceDue(sprint.id, sprint.start, due, "upcoming")
    if now < ends:
        return EvidenceDue(sprint.id, sprint.start, due, "due", (due - now.astimezone(UTC).date()).days)
    return EvidenceDue(sprint.id, sprint.start, due, "overdue")
