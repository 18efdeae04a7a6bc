"""Attestations: human statements recorded as evidence, judged by presence and freshness.

Some gate items cannot be measured (a risk register was reviewed, a rollback was rehearsed). Their
evidence is who said so, when, where it is written down, and optionally the sha256 of an attached
file. This module only decides verdicts from records handed to it; reading and writing the
attestations file is the collector's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slo.durations import parse_duration
from slo.evaluate import result
from slo.formatting import number
from slo.results import CheckResult, Verdict
from slo.spec import AttestationCheck


class AttestationRecord(BaseModel):
    """One ``gatepack attest`` statement as stored in the attestations file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: str = Field(min_length=1)
    item: str = Field(min_length=1)
    by: str = Field(min_length=1, description="Who attests")
    at: str = Field(description="When (RFC 3339, UTC)")
    link: str | None = Field(None, description="Where the attested document or decision lives")
    file_name: str | None = None
    file_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    note: str | None = None

    @field_validator("at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"time {value!r} has no timezone")
        return value

    @property
    def timestamp(self) -> float:
        return datetime.fromisoformat(self.at.replace("Z", "+00:00")).timestamp()


def latest_record(
    records: Iterable[AttestationRecord], gate: str, item: str, not_after: float
) -> AttestationRecord | None:
    """The newest record for ``gate``/``item`` made at or before ``not_after``.

    Records made after the evaluation time are ignored, so re-evaluating a past moment gives the
    verdict that moment had.
    """
    candidates = [r for r in records if r.gate == gate and r.item == item and r.timestamp <= not_after]
    return max(candidates, key=lambda r: r.timestamp, default=None)


def evaluate_attestation(
    check: AttestationCheck,
    gate_id: str,
    records: Iterable[AttestationRecord],
    evaluated_at: str,
    source: str | None = None,
) -> CheckResult:
    """Pass when a record exists, is no older than ``max_age`` and carries the required link/file."""
    now = datetime.fromisoformat(evaluated_at.replace("Z", "+00:00")).timestamp()
    max_age = parse_duration(check.max_age)
    objective = f"attested within {check.max_age}"
    record = latest_record(records, gate_id, check.item, now)
    if record is None:
        where = f" in {source}" if source else ""
        reason = f"no attestation of {check.item!r} for gate {gate_id!r}{where} (record one with `gatepack attest`)"
        return result(check, Verdict.FAIL, reason, evaluated_at, objective=objective, unit="d")
    age_days = (now - record.timestamp) / 86400.0
    details = {"attestation": record.model_dump(exclude_none=True), "source": source}
    common = {"objective": objective, "unit": "d", "value": round(age_days, 3), "details": details}
    said = f"attested by {record.by} at {record.at}"
    problems: list[str] = []
    if now - record.timestamp > max_age:
        problems.append(f"{said} is {number(age_days, 3)} d old, older than {check.max_age}")
    if check.require_link and not record.link:
        problems.append(f"{said} has no link")
    if check.require_file and not record.file_sha256:
        problems.append(f"{said} has no attached file (attest with --file)")
    if problems:
        return result(check, Verdict.FAIL, "; ".join(problems), evaluated_at, **common)
    extra = f", file {record.file_name} sha256:{record.file_sha256}" if record.file_sha256 else ""
    link = f" ({record.link})" if record.link else ""
    return result(check, Verdict.PASS, f"{said}{link}{extra}", evaluated_at, **common)
