"""Signed evidence: a packet inside an in-toto Statement v1, inside a DSSE envelope, signed with Ed25519.

A packet's digest shows it was not changed by accident; anyone who edits a verdict can recompute it.
A signature over the packet ties it to a key the reviewer trusts. The wrapping follows two public
formats so supply-chain tooling that reads in-toto attestations reads ours:

* DSSE (https://github.com/secure-systems-lab/dsse, protocol v1.0.0): the signature is over
  ``PAE(payloadType, payload)`` = ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` with ``LEN`` the
  ASCII decimal byte length, so the type is authenticated with the bytes and no JSON canonicalisation is
  needed to verify: the signed bytes are exactly the base64-decoded ``payload``.
* in-toto Statement v1 (``_type`` https://in-toto.io/Statement/v1): ``subject`` names what the evidence is
  about (the release's commit or artifact digest), ``predicate`` is the sealed packet.

Everything here is pure computation over bytes (Ed25519 from ``cryptography`` included): reading key
files and the environment lives in :mod:`collector.signing`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from slo.evidence import MAX_PACKET_BYTES, VerifyResult, canonical_bytes, verify_bytes

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://gatepack.dev/evidence/v1"
"""The gatepack URI naming our predicate: a sealed evidence packet (``slo.evidence.EvidencePacket``)."""

_HEX = re.compile(r"^[0-9a-f]+$")
_ARTIFACT = re.compile(r"^(sha256|sha512):([0-9a-f]{64,128})$")


class EnvelopeError(ValueError):
    """The bytes are not a well-formed DSSE envelope carrying a gatepack statement."""


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the exact bytes a signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(body), body)


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """sha256 (hex) of the 32 raw public-key bytes: short to print, the same wherever the key is stored."""
    return hashlib.sha256(public_raw(key)).hexdigest()


def statement_subject(packet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the evidence is about, as in-toto resource descriptors.

    The release's commit (``gitCommit``) when the packet knows it, and an artifact digest when the release
    is written as one (``sha256:…``, e.g. an image digest). A Statement needs at least one subject, so a
    packet with neither names itself: ``gatepack:<gate id>`` with the packet's own digest.
    """
    subject = packet.get("subject") or {}
    name = subject.get("release") or subject.get("service") or str(packet.get("gate", {}).get("id", "release"))
    found: list[dict[str, Any]] = []
    commit = str(subject.get("commit") or "").lower()
    if len(commit) in (40, 64) and _HEX.match(commit):
        found.append({"name": name, "digest": {"gitCommit": commit}})
    artifact = _ARTIFACT.match(str(subject.get("release") or "").lower())
    if artifact:
        found.append({"name": name, "digest": {artifact.group(1): artifact.group(2)}})
    if not found:
        digest = (packet.get("digest") or {}).get("value", "")
        found.append({"name": f"gatepack:{packet.get('gate', {}).get('id', '')}", "digest": {"sha256": digest}})
    return found


def build_statement(packet: Mapping[str, Any]) -> dict[str, Any]:
    """The in-toto Statement v1 whose predicate is the sealed ``packet`` document."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": statement_subject(packet),
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(packet),
    }


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def _unb64(text: Any, field: str) -> bytes:
    """Standard or URL-safe base64, padded or not: the DSSE spec says verifiers must accept either."""
    if not isinstance(text, str):
        raise EnvelopeError(f"envelope field {field!r} is not a base64 string")
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"envelope field {field!r} is not valid base64") from None


def sign_envelope(body: bytes, private_key: Ed25519PrivateKey, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """A DSSE envelope over ``body`` with one Ed25519 signature (deterministic: same key and bytes, same sig)."""
    signature = private_key.sign(pae(payload_type, body))
    return {
        "payload": _b64(body),
        "payloadType": payload_type,
        "signatures": [{"keyid": key_id(private_key.public_key()), "sig": _b64(signature)}],
    }


def envelope_for_packet(packet_bytes: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """The bytes of a signed envelope for a sealed packet's canonical bytes (what ``--sign`` writes)."""
    statement = build_statement(json.loads(packet_bytes))
    return canonical_bytes(sign_envelope(canonical_bytes(statement), private_key)) + b"\n"


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: list[tuple[str | None, bytes]]  # (keyid hint, raw signature)


def is_envelope(document: Any) -> bool:
    return isinstance(document, dict) and "payloadType" in document and "signatures" in document


def parse_envelope(document: Any) -> Envelope:
    """The envelope's parts, or :class:`EnvelopeError` naming what is missing or malformed."""
    if not isinstance(document, dict):
        raise EnvelopeError("not a DSSE envelope (top level is not an object)")
    for name in ("payload", "payloadType", "signatures"):
        if name not in document:
            raise EnvelopeError(f"DSSE envelope has no {name!r} field")
    if not isinstance(document["payloadType"], str):
        raise EnvelopeError("envelope field 'payloadType' is not a string")
    raw = document["signatures"]
    if not isinstance(raw, list):
        raise EnvelopeError("envelope field 'signatures' is not a list")
    signatures: list[tuple[str | None, bytes]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "sig" not in item:
            raise EnvelopeError(f"envelope signature {index} has no 'sig'")
        hint = item.get("keyid")
        signatures.append((hint if isinstance(hint, str) else None, _unb64(item["sig"], f"signatures[{index}].sig")))
    return Envelope(document["payloadType"], _unb64(document["payload"], "payload"), signatures)


def open_statement(envelope: Envelope) -> dict[str, Any]:
    """The packet document carried by a gatepack statement; :class:`EnvelopeError` for anything else."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise EnvelopeError(f"unsupported payloadType {envelope.payload_type!r} (expected {PAYLOAD_TYPE})")
    try:
        statement = json.loads(envelope.payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"envelope payload is not JSON: {exc}") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise EnvelopeError(f"envelope payload is not an in-toto Statement v1 (_type {STATEMENT_TYPE})")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise EnvelopeError(f"statement predicateType is {statement.get('predicateType')!r}, not {PREDICATE_TYPE}")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise EnvelopeError("statement has no predicate object")
    subject = statement.get("subject")
    if not isinstance(subject, list) or not subject:
        raise EnvelopeError("statement has no subject")
    return predicate


class SignatureState(StrEnum):
    UNSIGNED = "unsigned"  # a plain packet, or an envelope without signatures
    UNCHECKED = "unchecked"  # signed, but no trusted keys were given to check against
    VALID = "valid"  # a signature verifies under a trusted key
    UNTRUSTED = "untrusted"  # signed only by keys that are not trusted
    INVALID = "invalid"  # a trusted key's signature does not verify (edited payload or swapped signature)
    MALFORMED = "malformed"  # the envelope or a detached one cannot be read


@dataclass(frozen=True)
class SignatureCheck:
    """The signature part of a verification: who signed, whether it holds, whether the key is trusted."""

    state: SignatureState
    key_id: str | None = None  # the trusted key that verified, else the first key id the envelope claims
    reason: str = ""


def check_signatures(envelope: Envelope, trusted: Iterable[Ed25519PublicKey] | None) -> SignatureCheck:
    """Accept when any signature verifies under any trusted key (DSSE (1, n)); key ids only narrow the search.

    With ``trusted`` None no keys were given: the envelope is reported as signed but unchecked.
    """
    if not envelope.signatures:
        return SignatureCheck(SignatureState.UNSIGNED, reason="the envelope carries no signature")
    claimed = next((hint for hint, _ in envelope.signatures if hint), None)
    if trusted is None:
        reason = "signature not checked: give --key or --trusted-keys to check it"
        return SignatureCheck(SignatureState.UNCHECKED, claimed, reason)
    keys = {key_id(k): k for k in trusted}
    message = pae(envelope.payload_type, envelope.payload)
    tried = False
    for hint, signature in envelope.signatures:
        candidates = [keys[hint]] if hint in keys else ([] if hint else list(keys.values()))
        for key in candidates:
            tried = True
            if _verifies(key, signature, message):
                return SignatureCheck(SignatureState.VALID, key_id(key), "signature valid")
    if not tried:
        reason = f"signed by key {claimed or '(no key id)'}, which is not a trusted key"
        return SignatureCheck(SignatureState.UNTRUSTED, claimed, reason)
    reason = "signature does not verify: the payload was changed after signing, or the signature is another key's"
    return SignatureCheck(SignatureState.INVALID, claimed, reason)


def _verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Verification:
    """Everything ``gatepack verify`` reports about one file."""

    digest: VerifyResult
    signature: SignatureCheck
    packet: dict[str, Any] | None = None  # the packet document, when one could be read

    @property
    def ok(self) -> bool:
        """Digest matches and no signature is known bad (unsigned and unchecked pass unless required)."""
        bad = {SignatureState.INVALID, SignatureState.UNTRUSTED, SignatureState.MALFORMED}
        return self.digest.ok and self.signature.state not in bad


def verify_file_bytes(
    data: bytes,
    trusted: Iterable[Ed25519PublicKey] | None = None,
    detached: bytes | None = None,
    max_bytes: int = MAX_PACKET_BYTES,
) -> Verification:
    """Verify a plain packet or an envelope: the packet's digest, then the signature.

    Bounded whatever the input: more than ``max_bytes`` (an envelope may be 4/3 larger: base64) or nesting
    deeper than a packet ever has is refused before a full parse.

    ``detached`` is an envelope written beside a plain packet (``--no-envelope``): it must carry exactly this
    packet (same digest and content), and its signature then counts for the packet.
    """
    if len(data) > max_bytes * 4 // 3 + 4096:
        reason = f"{len(data)} bytes is more than a packet may be ({max_bytes} bytes; raise it with --max-bytes)"
        return Verification(VerifyResult(ok=False, reason=reason), SignatureCheck(SignatureState.UNSIGNED))
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply to be a packet" if isinstance(exc, RecursionError) else str(exc)
        return Verification(
            VerifyResult(ok=False, reason=f"not a JSON document: {reason}"), SignatureCheck(SignatureState.UNSIGNED)
        )
    if not is_envelope(document):
        result = verify_bytes(data, max_bytes)
        packet = document if isinstance(document, dict) else None
        if detached is None or not result.ok:
            return Verification(result, SignatureCheck(SignatureState.UNSIGNED, reason="unsigned"), packet)
        return _with_detached(result, packet, detached, trusted)
    try:
        envelope = parse_envelope(document)
        packet = open_statement(envelope)
    except EnvelopeError as exc:
        return Verification(
            VerifyResult(ok=False, reason=str(exc)), SignatureCheck(SignatureState.MALFORMED, reason=str(exc))
        )
    signature = check_signatures(envelope, None if trusted is None else list(trusted))
    return Verification(verify_bytes(canonical_bytes(packet), max_bytes), signature, packet)


def _with_detached(
    result: VerifyResult, packet: dict[str, Any] | None, detached: bytes, trusted: Iterable[Ed25519PublicKey] | None
) -> Verification:
    inner = verify_file_bytes(detached, trusted)
    if not inner.digest.ok or inner.packet is None:
        reason = f"the detached envelope is broken: {inner.digest.reason}"
        return Verification(result, SignatureCheck(SignatureState.MALFORMED, reason=reason), packet)
    if canonical_bytes(inner.packet) != canonical_bytes(packet):
        reason = "the detached envelope signs a different packet"
        return Verification(result, SignatureCheck(SignatureState.MALFORMED, reason=reason), packet)
    return Verification(result, inner.signature, packet)
