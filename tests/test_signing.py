"""Signed evidence: DSSE PAE, in-toto statements, keygen, ``--sign`` on ingest, and verify against tampering.

Expected values come from outside the code under test: the PAE test vector printed in the DSSE spec, key ids
recomputed from the raw public bytes with hashlib, signatures checked with ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.dsse import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    EnvelopeError,
    SignatureState,
    _unb64,
    envelope_for_packet,
    key_id,
    pae,
    parse_envelope,
    sign_envelope,
    verify_file_bytes,
)
from slo.evaluate import result
from slo.evidence import (
    GateRef,
    SpecRef,
    Subject,
    canonical_bytes,
    compute_digest,
    to_canonical_json,
)
from slo.results import Verdict
from slo.spec import ThresholdCheck
from tests.helpers import Ran, reseal, sealed_packet, write_keys

FIXED_SEED = bytes(range(32))
OTHER_SEED = bytes(range(100, 132))
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fixed_key(seed: bytes = FIXED_SEED) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def raw_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def fixed_packet(verdict: Verdict = Verdict.PASS) -> bytes:
    check = ThresholdCheck(id="latency", kind="threshold", query="up", op="<", target=0.3)
    results = [result(check, verdict, "0.21 < 0.3", "2026-01-01T00:00:00Z", value=0.21, unit="s")]
    packet = sealed_packet(
        results,
        gate=GateRef(id="checkout", title="Checkout gate"),
        subject=Subject(release="v1.2.0", service="checkout", commit=COMMIT),
        finished_at="2026-01-01T00:00:01Z",
        spec=SpecRef(path="gate.yaml", sha256="1" * 64),
    )
    return to_canonical_json(packet)


def payload_of(envelope: dict) -> dict:
    return json.loads(base64.b64decode(envelope["payload"]))


def with_payload(envelope: dict, statement: dict) -> dict:
    return {**envelope, "payload": base64.b64encode(canonical_bytes(statement)).decode()}


# --- pure parts ---------------------------------------------------------------------------------------


def test_pae_matches_the_dsse_spec_test_vector():
    # protocol.md, "Test Vectors": PAE of "hello world" under http://example.com/HelloWorld
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    # lengths are bytes, not characters
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 " + "é".encode()
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_key_id_is_sha256_of_raw_public_key():
    key = fixed_key()
    assert key_id(key.public_key()) == raw_id(key)
    assert len(key_id(key.public_key())) == 64


def test_envelope_is_an_in_toto_statement_signed_over_pae():
    key = fixed_key()
    packet = fixed_packet()
    envelope = json.loads(envelope_for_packet(packet, key))
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    [signature] = envelope["signatures"]
    assert signature["keyid"] == raw_id(key)
    body = base64.b64decode(envelope["payload"])
    # verify with cryptography directly over the spec's PAE, built here by hand
    message = b"DSSEv1 %d application/vnd.in-toto+json %d " % (len(PAYLOAD_TYPE), len(body)) + body
    key.public_key().verify(base64.b64decode(signature["sig"]), message)
    statement = json.loads(body)
    assert statement["_type"] == "https://in-toto.io/Statement/v1" == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [{"name": "v1.2.0", "digest": {"gitCommit": COMMIT}}]
    assert canonical_bytes(statement["predicate"]) == packet


def test_subject_falls_back_to_artifact_digest_and_then_the_packet_itself():
    document = json.loads(fixed_packet())
    document["subject"] = {"release": "sha256:" + "ab" * 32}
    statement = payload_of(json.loads(envelope_for_packet(canonical_bytes(document), fixed_key())))
    assert statement["subject"] == [{"name": "sha256:" + "ab" * 32, "digest": {"sha256": "ab" * 32}}]
    document["subject"] = {}
    statement = payload_of(json.loads(envelope_for_packet(canonical_bytes(document), fixed_key())))
    assert statement["subject"] == [{"name": "gatepack:checkout", "digest": {"sha256": document["digest"]["value"]}}]


def test_golden_envelope_is_deterministic(golden: Callable[[str, str], None]):
    key = fixed_key()
    envelope = envelope_for_packet(fixed_packet(), key)
    assert envelope == envelope_for_packet(fixed_packet(), key)  # Ed25519 signatures are deterministic
    document = json.loads(envelope)
    readable = {**document, "payload(decoded)": payload_of(document)}
    golden("signed_envelope.json", json.dumps(readable, indent=2, sort_keys=True) + "\n")
    golden_bytes = (Path(__file__).parent / "golden" / "signed_envelope.json").read_text()
    stored = json.loads(golden_bytes)
    stored.pop("payload(decoded)")
    again = verify_file_bytes(canonical_bytes(stored), [key.public_key()])  # the stored golden verifies as is
    assert again.ok and again.signature.state is SignatureState.VALID


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_base64_decoding_accepts_standard_and_url_safe_with_or_without_padding(data: bytes):
    assert _unb64(base64.standard_b64encode(data).decode(), "f") == data
    assert _unb64(base64.urlsafe_b64encode(data).decode(), "f") == data
    assert _unb64(base64.urlsafe_b64encode(data).decode().rstrip("="), "f") == data


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_single_byte_change_to_a_signed_envelope_is_rejected(data: st.DataObject):
    key = fixed_key()
    envelope = envelope_for_packet(fixed_packet(), key)
    index = data.draw(st.integers(0, len(envelope) - 2))  # the last byte is the trailing newline
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != envelope[index]))
    changed = envelope[:index] + bytes([replacement]) + envelope[index + 1 :]
    outcome = verify_file_bytes(changed, [key.public_key()])
    # some edits leave the meaning intact (JSON whitespace, base64 of the same bytes, key id hint):
    # then the signed bytes are unchanged and the result must still be valid; otherwise it must fail
    try:
        parsed = parse_envelope(json.loads(changed))
        same = (
            parsed.payload == parse_envelope(json.loads(envelope)).payload
            and parsed.signatures[0][1] == (parse_envelope(json.loads(envelope)).signatures[0][1])
        )
    except (ValueError, EnvelopeError, IndexError, UnicodeDecodeError):
        same = False
    if not same:
        assert not outcome.ok or outcome.signature.state is not SignatureState.VALID


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_sign_then_parse_round_trips_any_payload(body: bytes, payload_type: str):
    key = fixed_key()
    envelope = parse_envelope(json.loads(canonical_bytes(sign_envelope(body, key, payload_type))))
    assert envelope.payload == body and envelope.payload_type == payload_type
    key.public_key().verify(envelope.signatures[0][1], pae(payload_type, body))


# --- the command line ------------------------------------------------------------------------------


SPEC = """
apiVersion: gatepack/v1
kind: Gate
id: perf
title: Perf gate
checks:
  - {id: errors, kind: loadtest, metric: error_rate, threshold: "rate<0.05"}
  - {id: volume, kind: loadtest, metric: requests, threshold: "count>=100", min_samples: 100}
"""


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    durations = np.round(rng.uniform(0.005, 0.080, 200), 4)
    lines = ["response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"]
    lines += [f"{d:.4f},0.0001,0.0000,0.0001,{d:.4f},0.0000,200,{i / 100:.4f}" for i, d in enumerate(durations)]
    (tmp_path / "hey.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "gate.yaml").write_text(SPEC)
    return tmp_path


def ingest(gatepack: Callable[..., Ran], ws: Path, *extra: object) -> Ran:
    return gatepack("ingest", ws / "hey.csv", "--gate", "perf", "--spec", ws / "gate.yaml", "--out", ws / "ev", *extra)


def test_keygen_writes_private_0600_and_public_and_prints_the_key_id(gatepack: Callable[..., Ran], tmp_path: Path):
    done = gatepack("keygen", "-o", tmp_path / "keys" / "signer")
    assert done.code == 0, done.flat_err
    private = tmp_path / "keys" / "signer"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public = load_pem_public_key((tmp_path / "keys" / "signer.pub").read_bytes())
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert done.out.strip() == hashlib.sha256(raw).hexdigest()
    again = gatepack("keygen", "-o", private)
    assert again.code == 2 and "exists" in again.flat_err and "Traceback" not in again.flat_err


def test_signed_ingest_verifies_and_names_the_key(gatepack: Callable[..., Ran], workspace: Path):
    key = fixed_key()
    private, public = write_keys(workspace, "k", key)
    done = ingest(gatepack, workspace, "--sign", private)
    assert done.code == 0, done.flat_err
    [path] = (workspace / "ev").glob("perf-*.json")
    envelope = json.loads(path.read_text())
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert payload_of(envelope)["predicate"]["verdict"] == "pass"
    checked = gatepack("verify", path, "--key", public, "--require-signature")
    assert checked.code == 0, checked.flat_err
    assert f"key {raw_id(key)} (trusted): signature valid" in checked.flat_err
    unchecked = gatepack("verify", path)
    assert unchecked.code == 0 and "signature not checked" in unchecked.flat_err and raw_id(key) in unchecked.flat_err


def test_unsigned_packet_is_said_plainly_and_fails_when_a_signature_is_required(gatepack, workspace: Path):
    _, public = write_keys(workspace, "k", fixed_key())
    assert ingest(gatepack, workspace).code == 0
    [path] = (workspace / "ev").glob("perf-*.json")
    plain = gatepack("verify", path)
    assert plain.code == 0 and "unsigned" in plain.flat_err
    required = gatepack("verify", path, "--key", public, "--require-signature")
    assert required.code == 1 and "unsigned" in required.flat_err and "required" in required.flat_err
    no_keys = gatepack("verify", path, "--require-signature")
    assert no_keys.code == 2 and "--key or --trusted-keys" in no_keys.flat_err


def test_resealed_edit_of_a_signed_packet_fails(gatepack: Callable[..., Ran], workspace: Path):
    private, public = write_keys(workspace, "k", fixed_key())
    assert ingest(gatepack, workspace, "--sign", private).code == 0
    [path] = (workspace / "ev").glob("perf-*.json")
    envelope = json.loads(path.read_text())
    statement = payload_of(envelope)
    forged = reseal({**statement["predicate"], "verdict": "fail"})
    assert compute_digest(forged) == forged["digest"]["value"]  # the forgery is self-consistent
    path.write_bytes(canonical_bytes(with_payload(envelope, {**statement, "predicate": forged})))
    result = gatepack("verify", path, "--key", public)
    assert result.code == 1, result.flat_err
    assert "digest matches" in result.flat_err and "signature does not verify" in result.flat_err
    # the same forgery extracted as a plain packet passes the digest check alone: why signatures matter
    (workspace / "plain.json").write_bytes(canonical_bytes(forged))
    assert gatepack("verify", workspace / "plain.json").code == 0
    assert gatepack("verify", workspace / "plain.json", "--key", public, "--require-signature").code == 1


def test_tampering_another_keys_signature_and_truncation_are_each_rejected(gatepack, workspace: Path):
    key, other = fixed_key(), fixed_key(OTHER_SEED)
    private, public = write_keys(workspace, "k", key)
    _, other_public = write_keys(workspace, "other", other)
    assert ingest(gatepack, workspace, "--sign", private).code == 0
    [path] = (workspace / "ev").glob("perf-*.json")
    original = path.read_bytes()
    envelope = json.loads(original)
    body = base64.b64decode(envelope["payload"])

    cases: dict[str, tuple[bytes, str]] = {}
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    cases["payload byte"] = (
        canonical_bytes({**envelope, "payload": base64.b64encode(bytes(flipped)).decode()}),
        "",  # the flip lands in the packet: digest or signature fails (which depends on the byte)
    )
    other_sig = base64.b64encode(other.sign(pae(PAYLOAD_TYPE, body))).decode()
    cases["other key, claimed id"] = (
        canonical_bytes({**envelope, "signatures": [{"keyid": raw_id(key), "sig": other_sig}]}),
        "signature does not verify",
    )
    cases["other key, own id"] = (
        canonical_bytes({**envelope, "signatures": [{"keyid": raw_id(other), "sig": other_sig}]}),
        "not a trusted key",
    )
    cases["truncated"] = (original[: len(original) // 2], "not a JSON document")
    cases["no signatures"] = (canonical_bytes({**envelope, "signatures": []}), "required")
    for name, (data, reason) in cases.items():
        path.write_bytes(data)
        outcome = gatepack("verify", path, "--key", public, "--require-signature")
        assert outcome.code == 1, name
        assert reason in outcome.flat_err, (name, outcome.flat_err)
        assert "Traceback" not in outcome.flat_err
    # the other key's own envelope verifies only for whoever trusts the other key
    path.write_bytes(canonical_bytes({**envelope, "signatures": [{"keyid": raw_id(other), "sig": other_sig}]}))
    trusted = workspace / "trusted"
    trusted.mkdir()
    (trusted / "other.pub").write_bytes(other_public.read_bytes())
    assert gatepack("verify", path, "--trusted-keys", trusted, "--require-signature").code == 0
    path.write_bytes(original)
    assert gatepack("verify", path, "--trusted-keys", trusted).code == 1
    (trusted / "k.pub").write_bytes(public.read_bytes())
    assert gatepack("verify", path, "--trusted-keys", trusted, "--require-signature").code == 0


def test_no_envelope_keeps_the_plain_packet_with_a_detached_envelope(gatepack, workspace: Path):
    private, public = write_keys(workspace, "k", fixed_key())
    assert ingest(gatepack, workspace, "--sign", private, "--no-envelope").code == 0
    [plain] = (workspace / "ev").glob("perf-*[0-9]Z.json")
    [detached] = (workspace / "ev").glob("perf-*.intoto.json")
    packet = json.loads(plain.read_text())
    assert packet["kind"] == "gatepack/evidence"
    assert payload_of(json.loads(detached.read_text()))["predicate"] == packet
    assert gatepack("verify", plain, "--key", public, "--require-signature").code == 0
    plain.write_bytes(canonical_bytes(reseal({**packet, "verdict": "fail"})))
    forged = gatepack("verify", plain, "--key", public, "--require-signature")
    assert forged.code == 1 and "signs a different packet" in forged.flat_err


def test_signing_key_from_the_environment(gatepack, workspace: Path, monkeypatch: pytest.MonkeyPatch):
    key = fixed_key()
    private, public = write_keys(workspace, "k", key)
    monkeypatch.setenv("GATEPACK_SIGNING_KEY", private.read_text())
    assert ingest(gatepack, workspace, "--at", "2026-01-01T00:00:00Z").code == 0
    monkeypatch.delenv("GATEPACK_SIGNING_KEY")
    monkeypatch.setenv("GATEPACK_SIGNING_KEY_FILE", str(private))
    assert ingest(gatepack, workspace, "--at", "2026-01-01T00:01:00Z").code == 0
    paths = sorted((workspace / "ev").glob("perf-*.json"))
    assert len(paths) == 2
    for path in paths:
        assert gatepack("verify", path, "--key", public, "--require-signature").code == 0
    monkeypatch.setenv("GATEPACK_SIGNING_KEY_FILE", str(workspace / "hey.csv"))
    bad = ingest(gatepack, workspace)
    assert bad.code == 2 and "GATEPACK_SIGNING_KEY_FILE" in bad.flat_err and "Traceback" not in bad.flat_err
    assert "response-time" not in bad.flat_err  # the file's content is never echoed
