"""Check a posted packet before anything is stored: size, JSON, schema, digest and signature.

The digest and signature are checked by ``slo.dsse.verify_file_bytes``, the code ``gatepack verify`` runs;
the packet (inside an envelope, when signed) must validate against the evidence JSON Schema that
``gatepack schema evidence`` prints. Every failure is a :class:`Rejected` with an HTTP status and a
one-line reason; the store is only touched once all of it passes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jsonschema import Draft202012Validator

from slo.dsse import SignatureState, Verification, verify_file_bytes

MAX_BODY_BYTES = 8 * 1024 * 1024  # a large gate's packet with kept-response digests is well under 1 MiB


class Rejected(Exception):
    """A posted packet that is not stored: ``status`` is the HTTP answer, ``kind`` the metric label."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason


@cache
def _validator(name: str = "evidence.schema.json") -> Draft202012Validator:
    import slo

    shipped = (
        Path(slo.__file__).parent / "schemas" / name
    )  # evidence.schema.json: what `gatepack schema evidence` prints
    return Draft202012Validator(json.loads(shipped.read_text(encoding="utf-8")))


def _schema_for(document: Any) -> str:
    """Packets of schema 1.x (written before the query table) are held to the 1.0.0 schema shipped beside."""
    version = document.get("schema_version") if isinstance(document, dict) else None
    old = isinstance(version, str) and version.split(".", 1)[0] == "1"
    return "evidence-1.0.0.schema.json" if old else "evidence.schema.json"


def schema_problem(document: Any) -> str | None:
    """The first schema violation as ``field: message``, or None when the packet validates."""
    errors = sorted(_validator(_schema_for(document)).iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    message = first.message if len(first.message) <= 200 else first.message[:200] + "…"
    return f"{where}: {message}"


def check_packet(data: bytes, trusted: list[Ed25519PublicKey] | None, require_signature: bool = False) -> Verification:
    """Verify ``data`` as ``gatepack verify`` would, then against the schema; raise :class:`Rejected`."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, "invalid_json", f"not a JSON document: {exc}") from None
    except RecursionError:
        raise Rejected(400, "invalid_json", "not a JSON document: nested too deeply to be a packet") from None
    if not isinstance(parsed, dict):
        raise Rejected(400, "invalid_json", "the body must be a JSON object (a packet or a DSSE envelope)")
    result = verify_file_bytes(data, trusted)
    if result.packet is None:
        raise Rejected(422, "malformed", result.digest.reason or "no packet in the body")
    try:
        problem = schema_problem(result.packet)
    except RecursionError:
        problem = "nested too deeply to be a packet"
    if problem is not None:
        raise Rejected(422, "schema", f"the packet does not match the evidence schema: {problem}")
    if not result.digest.ok:
        raise Rejected(422, "digest", result.digest.reason or "the digest does not match")
    state = result.signature.state
    if state in {SignatureState.INVALID, SignatureState.UNTRUSTED, SignatureState.MALFORMED}:
        raise Rejected(422, "signature", result.signature.reason or f"signature {state.value}")
    if require_signature and state is not SignatureState.VALID:
        raise Rejected(422, "unsigned", "a signature by a trusted key is required")
    return result
