"""The 2.0.0 form of a packet's checks as written, and the one way every reader gets them back in full.

Version 1.0.0 wrote every check out in full: each outcome repeated its (often grouped, kilobyte-long)
query text, backend, time and response digest, every member was written even at its default, and each
SLO's burn-rate table and alert conditions repeated member names and burn rates per row. A 1000-SLO
packet was 23.6 KB per SLO. Version 2.0.0 writes the same facts once each:

* each query sent once, in the top-level ``queries`` table, outcomes referring to it
  (:mod:`slo.querytable`); a check's ``selected`` labels once on the check when all its outcomes share them;
* members at their schema default left out (the schema says the default);
* the burn-rate table by column (``windows: {window: [...], error_ratio: [...], burn_rate: [...], …}``),
  and an alert's ``long_burn_rate``/``short_burn_rate`` left out when they are that window's burn rate in
  the table (always, as ``collect`` computes them).

:func:`checks_of` and :func:`outcomes_of` turn either version into the 1.0.0 shape; readers of packet
documents (verify --deep, recheck, diff, the store, the board, reports, the bench) use them, so none spells
out the expansion itself. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from slo.querytable import FormError, QueryTable, expand_reference, where
from slo.results import AlertConditionResult, BurnRateRow, CheckResult, Fault, SloResult, Status

_ROW_FIELDS = tuple(BurnRateRow.model_fields)
_REQUIRED_COLUMNS = tuple(n for n, f in BurnRateRow.model_fields.items() if f.is_required())


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryEntry(_Record):
    """One query as sent, recorded once in a 2.0.0 packet's ``queries`` table and referenced by every
    outcome that read it (a grouped query answers up to a thousand checks: its text is written once).

    A member is here when every outcome that read this query has the same value for it, else each
    reference (:class:`OutcomeRef`) carries its own; ``value`` is always the reference's. A member absent
    from both has the default :class:`slo.results.QueryOutcome` gives it.
    """

    query: str = Field(description="The exact text sent; paste it into the backend to re-check")
    backend: str | None = Field(None, description="Backend URL with credentials removed")
    time: str | None = Field(None, description="Evaluation time (RFC 3339)")
    role: str | None = Field(None, description="value, good, bad or total, when every outcome has the same role")
    window: str | None = None
    status: Status | None = Field(None, description="ok, no_data or error, when every outcome has the same one")
    series: int = 0
    reason: str | None = None
    fault: Fault | None = None
    response_sha256: str | None = None
    attempts: int = 0
    warnings: list[str] = Field(default_factory=list)
    selected: dict[str, str] | None = None
    empty_selectors: list[str] = Field(default_factory=list)


class OutcomeRef(_Record):
    """One check's outcome in a 2.0.0 packet: its ``queries`` table entry plus what is this outcome's own.

    The full outcome is the entry's members with these laid over them (no member is in both). ``query``,
    ``backend`` and ``time``, which the key is computed from, are always the entry's.
    """

    ref: str = Field(description="Key of the query in the packet's ``queries`` table")
    role: str | None = Field(None, description="When outcomes of the same query differ in role")
    window: str | None = None
    status: Status | None = Field(None, description="When outcomes of the same query differ in status")
    value: float | None = None
    series: int = 0
    reason: str | None = None
    fault: Fault | None = None
    response_sha256: str | None = None
    attempts: int = 0
    warnings: list[str] = Field(default_factory=list)
    selected: dict[str, str] | None = Field(
        None,
        description="The labels of the series of a grouped query (sum by (label)) this value was read from; "
        "written once on the check instead when every outcome of the check has the same",
    )
    empty_selectors: list[str] = Field(default_factory=list)


class BurnRateColumns(_Record):
    """The burn-rate table by column: item i of every list belongs to window i (all lists equally long)."""

    window: list[str]
    error_ratio: list[float | None]
    burn_rate: list[float | None]
    bad_events: list[float | None] | None = Field(None, description="Absent when no window has a count")
    total_events: list[float | None] | None = Field(None, description="Absent when no window has a count")


class AlertRecord(AlertConditionResult):
    """An alert condition; its burn rates are left out when they are those of its windows in the table."""

    long_burn_rate: float | None = Field(None, description="Absent: the burn rate of window ``long`` in the table")
    short_burn_rate: float | None = Field(None, description="Absent: the burn rate of window ``short`` in the table")


class SloRecord(SloResult):
    """An SLO result as a 2.0.0 packet writes it: the burn-rate table by column."""

    windows: BurnRateColumns | None = None  # type: ignore[assignment]
    alerts: list[AlertRecord] = Field(default_factory=list)  # type: ignore[assignment]


class CheckRecord(CheckResult):
    """A check as a 2.0.0 packet writes it: outcomes are references into the packet's ``queries`` table."""

    queries: list[OutcomeRef] = Field(default_factory=list)  # type: ignore[assignment]
    slo: SloRecord | None = None
    selected: dict[str, str] | None = Field(
        None, description="The series labels every outcome of this check was read from (grouped queries)"
    )


def _same(a: Any, b: Any) -> bool:
    """Equal as written: same JSON type and value, and for numbers the same sign (-0.0 is not 0.0)."""
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, float) or math.copysign(1.0, a) == math.copysign(1.0, b)


def _compact_slo(slo: dict[str, Any]) -> None:
    rows = slo.get("windows")
    if not rows:
        return
    columns = {
        name: [row.get(name) for row in rows]
        for name in _ROW_FIELDS
        if name in _REQUIRED_COLUMNS or any(name in row for row in rows)
    }
    slo["windows"] = columns
    rates = {row["window"]: row["burn_rate"] for row in rows}
    if len(rates) != len(rows):
        return  # a window twice: which row an alert meant would be ambiguous, so its rates stay written
    for alert in slo.get("alerts") or []:
        for side in ("long", "short"):
            name = f"{side}_burn_rate"
            if name in alert and alert.get(side) in rates and _same(alert[name], rates[alert[side]]):
                del alert[name]


def compact_check(check: CheckResult, table: QueryTable) -> dict[str, Any]:
    """One check as a 2.0.0 packet writes it (``table`` was planned from every check of the packet)."""
    document: dict[str, Any] = check.model_dump(mode="json", exclude_defaults=True, exclude={"queries"})
    if check.queries:
        references = [table.reference(q) for q in check.queries]
        first = references[0].get("selected")
        if len(references) > 1 and first is not None and all(_same(r.get("selected"), first) for r in references):
            for reference in references:
                del reference["selected"]
            document["selected"] = first
        document["queries"] = references
    if isinstance(document.get("slo"), dict):
        _compact_slo(document["slo"])
    return document


def _expand_slo(slo: Mapping[str, Any], name: str) -> dict[str, Any]:
    out = dict(slo)
    columns = slo.get("windows")
    if not isinstance(columns, Mapping):
        return out
    windows = columns.get("window")
    if not isinstance(windows, list) or any(
        not isinstance(c, list) or len(c) != len(windows) for c in columns.values()
    ):
        raise FormError(f"{name} slo.windows: its columns are not lists of one length")
    rows = [{column: values[i] for column, values in columns.items()} for i in range(len(windows))]
    out["windows"] = rows
    rates = {row["window"]: row.get("burn_rate") for row in rows}
    alerts = []
    for index, alert in enumerate(slo.get("alerts") or []):
        if not isinstance(alert, Mapping):
            alerts.append(alert)
            continue
        full = dict(alert)
        for side in ("long", "short"):
            if f"{side}_burn_rate" not in full:
                if full.get(side) not in rates:
                    raise FormError(f"{name} slo alert {index + 1}: no {side} burn rate and no {side} window row")
                full[f"{side}_burn_rate"] = rates[full[side]]
        alerts.append(full)
    if "alerts" in slo:
        out["alerts"] = alerts
    return out


def expand_check(check: Mapping[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    """A check of a 2.0.0 packet in the 1.0.0 shape (members at their default may still be absent)."""
    out = dict(check)
    inherited = {"selected": out.pop("selected")} if "selected" in out else None
    raw = check.get("queries")
    if isinstance(raw, list):
        out["queries"] = [
            expand_reference(r, table, where(check, i), inherited) if isinstance(r, Mapping) else r
            for i, r in enumerate(raw)
        ]
    if isinstance(check.get("slo"), Mapping):
        out["slo"] = _expand_slo(check["slo"], f"check {check.get('id')!r}")
    return out


def is_tabled(packet: Mapping[str, Any]) -> bool:
    """Whether ``packet`` is written in the 2.x form (a ``queries`` table, compact checks)."""
    version = packet.get("schema_version")
    return isinstance(version, str) and version.split(".", 1)[0] not in {"", "0", "1"}


def _table(packet: Mapping[str, Any]) -> Mapping[str, Any]:
    table = packet.get("queries")
    return table if isinstance(table, Mapping) else {}


def checks_of(packet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checks of ``packet`` (a document of either version) in the 1.0.0 shape, outcomes in full.

    Raises :class:`slo.querytable.FormError` (a ValueError, one line) on a reference to no table entry.
    """
    checks = packet.get("checks")
    if not isinstance(checks, list):
        return []
    if not is_tabled(packet):
        return [c for c in checks if isinstance(c, dict)]
    table = _table(packet)
    return [expand_check(c, table) for c in checks if isinstance(c, Mapping)]


def outcomes_of(check: Mapping[str, Any], packet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The outcomes of one check of ``packet`` (as written in it), each spelled out with every member."""
    raw = check.get("queries")
    if not isinstance(raw, list):
        return []
    if not is_tabled(packet):
        return [q for q in raw if isinstance(q, dict)]
    inherited = {"selected": check["selected"]} if "selected" in check else None
    table = _table(packet)
    return [expand_reference(r, table, where(check, i), inherited) for i, r in enumerate(raw) if isinstance(r, Mapping)]


def response_digests(packet: Mapping[str, Any]) -> list[str]:
    """Every raw response's sha256 ``packet`` records, once each, in order of first mention."""
    found: dict[str, None] = {}
    for check in packet.get("checks") or []:
        if isinstance(check, Mapping):
            for outcome in outcomes_of(check, packet):
                sha = outcome.get("response_sha256")
                if isinstance(sha, str):
                    found[sha] = None
    return list(found)
