"""The board's overview laid out as the runbook's sprint execution matrix (``/matrix`` or ``/?layout=matrix``).

One row per gate: its sprint, the evidence it requires (its checks), the latest verdict and the evidence's
age; with a calendar (``gatepack serve --sprints sprints.yaml``) also whether that evidence is due by the
sprint's due day, on time, late or overdue. The date logic is :mod:`slo.sprints` (pure); this module reads
the file, passes the server's "now" in and renders HTML with the board's escaping and stylesheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from collector.server.board import _age, _e, _page, _verdict, latest_per_gate, packet_href
from collector.store import StoredPacket
from slo.spec import Gate
from slo.sprints import Calendar, EvidenceDue, evidence_due, load_calendar


def read_calendar(path: Path) -> Calendar:
    """``--sprints FILE``: read safely (regular file, size-limited), problems as file:line (exit 2)."""
    from collector.errors import UsageError
    from collector.specs import read_spec_bytes

    data = read_spec_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    return load_calendar(text, str(path))


@dataclass(frozen=True)
class MatrixRow:
    gate: str
    title: str
    sprint: str | None
    sprint_start: date | None
    evidence: list[tuple[str, str]]
    """(check id, kind) for every check the gate requires."""
    latest: StoredPacket | None
    due: EvidenceDue | None


def _evaluated(row: StoredPacket) -> datetime | None:
    from collector.timeutil import TimeError, parse_time

    try:
        return datetime.fromtimestamp(parse_time(row.evaluated_at), UTC)
    except TimeError:
        return None


def matrix_rows(
    gates: list[Gate], rows: list[StoredPacket], calendar: Calendar | None, now: datetime
) -> list[MatrixRow]:
    """Configured gates and gates only seen in the store; sorted by sprint (calendar order), then gate id."""
    newest: dict[str, StoredPacket] = {}
    for per_env in latest_per_gate(rows).values():
        for row in per_env.values():
            if row.gate not in newest or row.evaluated_at > newest[row.gate].evaluated_at:
                newest[row.gate] = row
    known = {g.id: g for g in gates}
    result: list[MatrixRow] = []
    for gate_id in sorted(set(known) | set(newest)):
        gate = known.get(gate_id)
        latest = newest.get(gate_id)
        document: dict[str, Any] = latest.document() if latest is not None and gate is None else {}
        ref = document.get("gate") or {}
        own_sprint = gate.sprint if gate is not None else ref.get("sprint")
        evidence = (
            [(c.id, str(c.kind)) for c in gate.checks]
            if gate is not None
            else [(str(c.get("id")), str(c.get("kind"))) for c in document.get("checks", [])]
        )
        sprint = calendar.sprint_for(gate_id, own_sprint) if calendar is not None else None
        due = None
        if sprint is not None and calendar is not None:
            due = evidence_due(sprint, calendar.due_day, now, _evaluated(latest) if latest is not None else None)
        result.append(
            MatrixRow(
                gate=gate_id,
                title=gate.title if gate is not None else str(ref.get("title") or ""),
                sprint=sprint.id if sprint is not None else own_sprint,
                sprint_start=sprint.start if sprint is not None else None,
                evidence=evidence,
                latest=latest,
                due=due,
            )
        )
    order = {s.id: i for i, s in enumerate(sorted(calendar.sprints, key=lambda s: s.start))} if calendar else {}
    result.sort(key=lambda r: (r.sprint is None, order.get(r.sprint or "", len(order)), r.sprint or "", r.gate))
    return result


def _due_cell(due: EvidenceDue | None) -> str:
    if due is None:
        return '<td class="muted">no calendar entry</td>'
    label = {
        "upcoming": f"upcoming: sprint starts {due.start.isoformat()}",
        "due": f"due by {due.due.isoformat()}"
        + (" (today)" if due.days_left == 0 else f" ({due.days_left} day{'s' if due.days_left != 1 else ''} left)"),
        "on_time": f"on time (due {due.due.isoformat()})",
        "late": f"late (due {due.due.isoformat()})",
        "overdue": f"overdue since {due.due.isoformat()}",
    }[due.state]
    return f'<td class="due due-{_e(due.state)}" data-state="{_e(due.state)}">{_e(label)}</td>'


def matrix_page(
    gates: list[Gate],
    rows: list[StoredPacket],
    calendar: Calendar | None,
    *,
    env: str | None,
    release: str | None,
    now: float,
) -> str:
    """The matrix as one HTML page (no script; the board's stylesheet)."""
    instant = datetime.fromtimestamp(now, UTC)
    lines = []
    for row in matrix_rows(gates, rows, calendar, instant):
        evidence = "".join(
            f'<li><code>{_e(check)}</code> <span class="muted">{_e(kind)}</span></li>' for check, kind in row.evidence
        )
        if row.latest is not None:
            verdict = f'<td><a href="{_e(packet_href(row.latest.digest))}">{_verdict(row.latest.verdict)}</a></td>'
            age = f"<td>{_e(_age(row.latest.evaluated_at, now))}</td>"
        else:
            verdict, age = '<td class="muted">no evidence</td>', '<td class="muted">–</td>'
        due = _due_cell(row.due) if calendar is not None else ""
        lines.append(
            f'<tr data-gate="{_e(row.gate)}"><td>{_e(row.sprint) or "–"}</td>'
            f'<th scope="row">{_e(row.gate)} <span class="muted">{_e(row.title)}</span></th>'
            f'<td><ul class="evidence">{evidence}</ul></td>{verdict}{age}{due}</tr>'
        )
    due_head = f'<th scope="col">due (day {calendar.due_day})</th>' if calendar is not None else ""
    filters = " · ".join(f"{name} {_e(value)}" for name, value in (("environment", env), ("release", release)) if value)
    table = (
        '<table id="matrix"><caption>Sprint execution matrix'
        + (f" ({filters})" if filters else "")
        + '</caption><thead><tr><th scope="col">sprint</th><th scope="col">gate</th>'
        '<th scope="col">evidence required</th><th scope="col">latest verdict</th><th scope="col">evidence age</th>'
        f"{due_head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
    nav = '<p><a href="/">by environment</a> · sprint matrix</p>'
    return _page("gatepack sprint matrix", f"<h1>gatepack sprint matrix</h1>{nav}{table}")
