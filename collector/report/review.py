"""What a reviewer report says about each packet, shared by its HTML and Markdown forms.

A report is attached to a gate review long after the run, so each packet's section carries the facts a
reviewer checks before trusting the numbers: which spec (path and sha256), which collector, which
backends, when it was evaluated, whether the digest still matches and who signed it. The words for a
signature state are the ones ``gatepack verify`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slo.dsse import SignatureState, Verification


@dataclass(frozen=True)
class ReviewItem:
    """One packet file as the report shows it: its name, its document and what verification found."""

    name: str
    document: dict[str, Any]
    verification: Verification

    @property
    def ok(self) -> bool:
        return self.verification.ok


def signature_failed(item: ReviewItem) -> bool:
    """A signature known bad (invalid, untrusted, unreadable); unsigned and unchecked are stated, not failed."""
    return item.verification.signature.state in {
        SignatureState.INVALID,
        SignatureState.UNTRUSTED,
        SignatureState.MALFORMED,
    }


def digest_words(item: ReviewItem) -> str:
    digest = item.verification.digest
    if digest.ok:
        return f"sha256:{digest.actual} (matches the content)"
    return f"FAILED: {digest.reason}"


def signature_words(item: ReviewItem) -> str:
    signature = item.verification.signature
    state = signature.state
    if state is SignatureState.VALID:
        return f"valid: signed by key {signature.key_id} (trusted)"
    if state is SignatureState.UNCHECKED:
        return f"signed by key {signature.key_id or '(no key id)'}, not checked: give --key or --trusted-keys"
    if state is SignatureState.UNSIGNED:
        return "unsigned: the digest catches accidental edits only"
    return f"FAILED ({state.value}): {signature.reason}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def provenance(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Label → value rows about where the packet's numbers came from (fields the packet lacks are left out)."""
    gate = document.get("gate") or {}
    subject = document.get("subject") or {}
    evaluation = document.get("evaluation") or {}
    spec = document.get("spec") or {}
    collector = document.get("collector") or {}
    rows = [("gate", " — ".join(_text(v) for v in (gate.get("id"), gate.get("title")) if v))]
    rows += [(name, _text(subject.get(name))) for name in ("environment", "service", "release", "commit")]
    rows.append(("evaluation time", _text(evaluation.get("time"))))
    if evaluation.get("started_at") and evaluation.get("finished_at"):
        rows.append(("run", f"{evaluation['started_at']} to {evaluation['finished_at']}"))
    rows.append(("windows", ", ".join(map(str, evaluation.get("windows") or []))))
    rows.append(("spec", " ".join(filter(None, (_text(spec.get("path")), _sha(spec.get("sha256")))))))
    if collector.get("version"):
        python = f" (Python {collector['python']})" if collector.get("python") else ""
        rows.append(("collector", f"gatepack {collector['version']}{python}"))
    for backend in document.get("backends") or []:
        if isinstance(backend, dict):
            rows.append(("backend", " ".join(filter(None, (_text(backend.get("kind")), _text(backend.get("url")))))))
    return [(label, value) for label, value in rows if value]


def _sha(value: Any) -> str:
    return f"sha256:{value}" if value else ""


def checks(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The packet's checks with every query outcome spelled out (2.0.0 packets reference a shared table).

    A packet whose references are broken is still shown, as written: its digest line already says it
    failed verification."""
    from slo.querytable import FormError
    from slo.wire import checks_of

    try:
        return checks_of(document)
    except FormError:
        return [c for c in document.get("checks") or [] if isinstance(c, dict)]


def value_text(check: dict[str, Any]) -> str:
    value, unit = check.get("value"), check.get("unit")
    if value is None:
        return "–"
    number = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f"{number} {unit}" if unit else number
