"""What changed between two evidence packets of a gate, check by check (pure: two documents in, a diff out).

Used by ``gatepack diff A B``: verdict flips, values that moved and by how much, checks that appeared or
disappeared, and checks whose queries or objective changed (a moved target explains a flip as much as a
moved value does). Either packet may be of schema 1.0.0 or 2.0.0: checks are read through
:func:`slo.wire.checks_of`, so a 1.0.0 packet and a 2.0.0 packet of the same run compare as the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from slo.wire import checks_of

ORDER = {"pass": 0, "warn": 1, "no_data": 2, "fail": 3, "error": 4}


@dataclass(frozen=True)
class CheckChange:
    id: str
    change: str  # added, removed, changed, same
    verdict_before: str | None = None
    verdict_after: str | None = None
    value_before: float | None = None
    value_after: float | None = None
    delta: float | None = None
    relative: float | None = None  # delta / |before|, None when before is 0 or missing
    objective_before: str | None = None
    objective_after: str | None = None
    queries_changed: bool = False
    unit: str | None = None

    @property
    def flipped(self) -> bool:
        return self.change == "changed" and self.verdict_before != self.verdict_after

    @property
    def worse(self) -> bool:
        """A verdict that moved towards failure."""
        return self.flipped and ORDER.get(self.verdict_after or "", 9) > ORDER.get(self.verdict_before or "", 9)


@dataclass(frozen=True)
class PacketDiff:
    gate_before: str
    gate_after: str
    digest_before: str
    digest_after: str
    verdict_before: str
    verdict_after: str
    time_before: str
    time_after: str
    checks: list[CheckChange] = field(default_factory=list)

    @property
    def changed(self) -> list[CheckChange]:
        return [c for c in self.checks if c.change != "same"]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for item, change in zip(data["checks"], self.checks, strict=True):
            item["flipped"] = change.flipped
            item["worse"] = change.worse
        return data


def _queries_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Roles and windows differ, or the text of a query sent as written (a grouped query's text depends on
    which other checks shared it, so it is not compared)."""
    old, new = before.get("queries") or [], after.get("queries") or []
    if [(q.get("role"), q.get("window")) for q in old] != [(q.get("role"), q.get("window")) for q in new]:
        return True
    return any(
        a.get("query") != b.get("query")
        for a, b in zip(old, new, strict=True)
        if not a.get("selected") and not b.get("selected")
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _change(before: dict[str, Any], after: dict[str, Any]) -> CheckChange:
    v0, v1 = _number(before.get("value")), _number(after.get("value"))
    delta = v1 - v0 if v0 is not None and v1 is not None else None
    relative = delta / abs(v0) if delta is not None and v0 else None
    queries_changed = _queries_changed(before, after)
    same = (
        before.get("verdict") == after.get("verdict")
        and v0 == v1
        and before.get("objective") == after.get("objective")
        and not queries_changed
    )
    return CheckChange(
        id=str(after.get("id")),
        change="same" if same else "changed",
        verdict_before=before.get("verdict"),
        verdict_after=after.get("verdict"),
        value_before=v0,
        value_after=v1,
        delta=delta,
        relative=relative,
        objective_before=before.get("objective"),
        objective_after=after.get("objective"),
        queries_changed=queries_changed,
        unit=after.get("unit") or before.get("unit"),
    )


def diff_packets(before: dict[str, Any], after: dict[str, Any]) -> PacketDiff:
    """Check by check, in the order of ``after`` then the checks only ``before`` had."""
    old = {c["id"]: c for c in checks_of(before)}
    new = {c["id"]: c for c in checks_of(after)}
    changes: list[CheckChange] = []
    for check_id, check in new.items():
        if check_id in old:
            changes.append(_change(old[check_id], check))
        else:
            changes.append(
                CheckChange(
                    check_id,
                    "added",
                    verdict_after=check.get("verdict"),
                    value_after=_number(check.get("value")),
                    objective_after=check.get("objective"),
                    unit=check.get("unit"),
                )
            )
    for check_id, check in old.items():
        if check_id not in new:
            changes.append(
                CheckChange(
                    check_id,
                    "removed",
                    verdict_before=check.get("verdict"),
                    value_before=_number(check.get("value")),
                    objective_before=check.get("objective"),
                    unit=check.get("unit"),
                )
            )
    return PacketDiff(
        gate_before=before.get("gate", {}).get("id", ""),
        gate_after=after.get("gate", {}).get("id", ""),
        digest_before=(before.get("digest") or {}).get("value", ""),
        digest_after=(after.get("digest") or {}).get("value", ""),
        verdict_before=str(before.get("verdict")),
        verdict_after=str(after.get("verdict")),
        time_before=before.get("evaluation", {}).get("time", ""),
        time_after=after.get("evaluation", {}).get("time", ""),
        checks=changes,
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def describe(change: CheckChange) -> str:
    """One line in words: what happened to this check."""
    if change.change == "added":
        return f"new check: {change.verdict_after}, value {_fmt(change.value_after)}"
    if change.change == "removed":
        return f"removed (was {change.verdict_before}, value {_fmt(change.value_before)})"
    parts: list[str] = []
    if change.flipped:
        parts.append(f"verdict {change.verdict_before} → {change.verdict_after}")
    if change.value_before != change.value_after:
        moved = f"value {_fmt(change.value_before)} → {_fmt(change.value_after)}"
        if change.delta is not None:
            moved += f" ({change.delta:+.6g}" + (f", {change.relative:+.1%})" if change.relative is not None else ")")
        parts.append(moved)
    if change.objective_before != change.objective_after:
        parts.append(f"objective {change.objective_before} → {change.objective_after}")
    if change.queries_changed:
        parts.append("queries changed")
    return "; ".join(parts) or "unchanged"


def markdown(diff: PacketDiff) -> str:
    """A Markdown table for a pull-request comment or a CI summary."""
    lines = [
        f"### gatepack diff: {diff.gate_after} {diff.verdict_before} → {diff.verdict_after}",
        "",
        f"`{diff.digest_before[:12]}` ({diff.time_before}) → `{diff.digest_after[:12]}` ({diff.time_after})",
        "",
        "| check | change | before | after | what changed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for change in diff.checks:
        before = f"{change.verdict_before or '–'} {_fmt(change.value_before)}"
        after = f"{change.verdict_after or '–'} {_fmt(change.value_after)}"
        lines.append(f"| {change.id} | {change.change} | {before} | {after} | {describe(change)} |")
    return "\n".join(lines) + "\n"
