"""``--set CHECK.FIELD=VALUE``: change a check's target for one run instead of copying a catalog file.

Only the fields that decide a verdict can be set (``target`` and ``warn`` on threshold, loadtest and
tests checks, ``objective`` and ``warn_budget_remaining`` on SLOs). The changed gate is validated
again by the same model (an objective of 100 % is refused exactly as in a file), and every override
is recorded in the packet with the spec's own value, so a reviewer sees what the verdict was
decided against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pydantic import ValidationError

from collector.errors import UsageError
from collector.specs import LoadedGate
from slo.evidence import Override as OverrideRecord
from slo.spec import Gate

SETTABLE: dict[str, tuple[str, ...]] = {
    "threshold": ("target", "warn"),
    "loadtest": ("target", "warn"),
    "tests": ("target", "warn"),
    "slo": ("objective", "warn_budget_remaining"),
}


@dataclass(frozen=True)
class Override:
    gate: str | None
    """``GATE/CHECK.FIELD`` names the gate; ``CHECK.FIELD`` applies to every gate with that check."""
    check: str
    field: str
    value: float


def parse_overrides(values: list[str]) -> list[Override]:
    """``[GATE/]CHECK.FIELD=NUMBER`` items; anything else is a usage error naming the item."""
    result: list[Override] = []
    for text in values:
        name, sep, raw = text.partition("=")
        target, dot, field = name.strip().rpartition(".")
        if not sep or not dot or not target or not field:
            raise UsageError(f"invalid --set {text!r}: use CHECK.target=VALUE (or warn, objective)")
        gate, slash, check = target.rpartition("/")
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"invalid --set {text!r}: {raw.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"invalid --set {text!r}: the value must be a finite number")
        result.append(Override(gate if slash else None, check, field.strip(), value))
    return result


def apply_overrides(
    loaded: list[LoadedGate], overrides: list[Override]
) -> tuple[list[LoadedGate], dict[str, list[OverrideRecord]]]:
    """The gates with the overrides applied, and per gate id the records for its packet."""
    records: dict[str, list[OverrideRecord]] = {}
    gates = list(loaded)
    for override in overrides:
        hit = False
        for index, item in enumerate(gates):
            gate = item.gate
            if override.gate is not None and override.gate != gate.id:
                continue
            checks = {c.id: c for c in gate.checks}
            if override.check not in checks:
                continue
            hit = True
            check = checks[override.check]
            allowed = SETTABLE.get(check.kind, ())
            if override.field not in allowed:
                choices = ", ".join(allowed) or "nothing"
                raise UsageError(
                    f"--set {override.check}.{override.field}: a {check.kind} check has no settable field "
                    f"{override.field!r} (settable: {choices})"
                )
            spec_value = getattr(check, override.field)
            document = gate.model_dump(mode="json", by_alias=True, exclude_unset=True)
            for raw in document["checks"]:
                if raw["id"] == check.id:
                    raw[override.field] = override.value
            try:
                changed = Gate.model_validate(document)
            except ValidationError as exc:
                reasons = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
                raise UsageError(f"--set {override.check}.{override.field}={override.value:g}: {reasons}") from None
            gates[index] = replace(item, gate=changed)
            records.setdefault(gate.id, []).append(
                OverrideRecord(
                    check=check.id,
                    field=override.field,
                    value=override.value,
                    spec_value=None if spec_value is None else float(spec_value),
                )
            )
        if not hit:
            where = f"gate {override.gate}" if override.gate else "the selected gate(s)"
            known = ", ".join(c.id for g in gates for c in g.gate.checks if override.gate in (None, g.gate.id))
            raise UsageError(f"--set: no check {override.check!r} in {where} (checks: {known or 'none'})")
    return gates, records
