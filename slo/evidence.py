"""The evidence packet: a self-describing, canonical, digest-sealed record of one gate evaluation.

Canonical form is JSON with sorted keys, no insignificant whitespace and UTF-8 text; the sha256 of
the canonical packet *without* its ``digest`` member is stored in ``digest.value``. Anyone can recompute
it (``gatepack verify``) to show the packet was not edited after it was written.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from slo.results import CheckResult, Verdict

SCHEMA_VERSION = "1.0.0"
DIGEST_ALGORITHM = "sha256"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateRef(_Model):
    id: str
    title: str
    sprint: str | None = None
    owner: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Subject(_Model):
    """What was evaluated: the release under review."""

    environment: str | None = None
    service: str | None = None
    release: str | None = None
    commit: str | None = None
    ci: dict[str, str] = Field(default_factory=dict, description="CI run facts (provider, run id, URL)")


class Evaluation(_Model):
    time: str = Field(description="Evaluation time every query was pinned to (RFC 3339, UTC)")
    started_at: str
    finished_at: str
    windows: list[str] = Field(default_factory=list, description="Every range window that was queried")
    variables: dict[str, str] = Field(default_factory=dict)


class Collector(_Model):
    name: str = "gatepack"
    version: str
    python: str | None = None


class SpecRef(_Model):
    path: str
    sha256: str


class InputFile(_Model):
    """A file the evidence was computed from (load-test results, attestations)."""

    path: str
    sha256: str
    size: int
    role: str
    format: str | None = None


class Backend(_Model):
    kind: str
    url: str = Field(description="Credentials removed")


class Override(_Model):
    """A spec field changed for one run with ``--set CHECK.FIELD=VALUE``: the packet says what was decided against."""

    check: str
    field: str = Field(description="target, warn or objective")
    value: float
    spec_value: float | None = Field(None, description="The value the spec file holds")


class Digest(_Model):
    algorithm: str = DIGEST_ALGORITHM
    value: str


class EvidencePacket(_Model):
    schema_version: str = SCHEMA_VERSION
    kind: str = "gatepack/evidence"
    gate: GateRef
    subject: Subject
    evaluation: Evaluation
    collector: Collector
    spec: SpecRef
    backends: list[Backend] = Field(default_factory=list)
    inputs: list[InputFile] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list, description="Spec fields overridden for this run")
    checks: list[CheckResult]
    verdict: Verdict
    counts: dict[str, int]
    digest: Digest | None = None
    _canonical: bytes | None = PrivateAttr(None)


def canonical_bytes(document: Any) -> bytes:
    """Canonical JSON: sorted keys, compact separators, UTF-8, no NaN/Infinity."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def compute_digest(document: dict[str, Any]) -> str:
    """sha256 over the canonical form of ``document`` without its ``digest`` member."""
    body = {k: v for k, v in document.items() if k != "digest"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def _join_members(members: dict[str, bytes]) -> bytes:
    """A top-level object from already canonical members: equal to :func:`canonical_bytes` of the whole.

    Sealing needs the canonical body (for the digest) and then the canonical body plus digest (to write);
    serialising each member once and joining them avoids encoding a large packet twice.
    """
    return b"{" + b",".join(canonical_bytes(key) + b":" + members[key] for key in sorted(members)) + b"}"


def seal(packet: EvidencePacket) -> EvidencePacket:
    """The packet with its digest filled in (its canonical bytes are kept for :func:`to_canonical_json`)."""
    document = packet.model_dump(mode="json", exclude={"digest"})
    members = {key: canonical_bytes(value) for key, value in document.items()}
    digest = Digest(value=hashlib.sha256(_join_members(members)).hexdigest())
    sealed = packet.model_copy(update={"digest": digest})
    members["digest"] = canonical_bytes(digest.model_dump(mode="json"))
    sealed._canonical = _join_members(members)
    return sealed


def to_canonical_json(packet: EvidencePacket) -> bytes:
    """The bytes to write for a sealed packet."""
    if packet._canonical is not None:
        return packet._canonical
    return canonical_bytes(packet.model_dump(mode="json"))


class VerifyResult(BaseModel):
    ok: bool
    reason: str
    expected: str | None = None
    actual: str | None = None


def verify_bytes(data: bytes) -> VerifyResult:
    """Recompute a packet's digest from its bytes and say whether it matches the recorded one."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return VerifyResult(ok=False, reason=f"not a JSON document: {exc}")
    if not isinstance(document, dict):
        return VerifyResult(ok=False, reason="not an evidence packet (top level is not an object)")
    digest = document.get("digest")
    if not isinstance(digest, dict) or not isinstance(digest.get("value"), str):
        return VerifyResult(ok=False, reason="the packet has no digest")
    if digest.get("algorithm") != DIGEST_ALGORITHM:
        return VerifyResult(ok=False, reason=f"unsupported digest algorithm {digest.get('algorithm')!r}")
    try:
        actual = compute_digest(document)
    except ValueError as exc:
        return VerifyResult(ok=False, reason=f"packet cannot be canonicalised: {exc}")
    if actual != digest["value"]:
        return VerifyResult(
            ok=False,
            reason="digest mismatch: the packet was changed after it was sealed",
            expected=digest["value"],
            actual=actual,
        )
    try:
        EvidencePacket.model_validate(document)
    except ValueError as exc:
        return VerifyResult(
            ok=False,
            reason=f"digest matches but the packet does not fit the schema: {exc}",
            expected=digest["value"],
            actual=actual,
        )
    return VerifyResult(ok=True, reason="digest matches", expected=digest["value"], actual=actual)
