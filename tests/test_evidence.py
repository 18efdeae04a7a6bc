"""Evidence packets: canonical form, digest, verification, shipped schemas, atomic writes, redaction."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jsonschema
import pytest

from collector.sinks.files import write_atomic
from collector.sources.credentials import CredentialError, load_credentials, parse_headers
from collector.sources.redact import Redactor, redact_url
from slo.evaluate import result, summarize
from slo.evidence import (
    Collector,
    Evaluation,
    EvidencePacket,
    GateRef,
    SpecRef,
    Subject,
    packet_document,
    seal,
    to_canonical_json,
    verify_bytes,
)
from slo.results import Verdict
from slo.schema_export import SCHEMA_FILES, render_schema
from slo.spec import ThresholdCheck

ROOT = Path(__file__).resolve().parent.parent


def packet(verdict: Verdict = Verdict.PASS) -> EvidencePacket:
    check = ThresholdCheck(id="c", kind="threshold", query="up", op=">", target=0)
    results = [result(check, verdict, "because", "2026-01-01T00:00:00Z", value=1.5, unit="s")]
    summary = summarize(results)
    return seal(
        EvidencePacket(
            gate=GateRef(id="g", title="Gate ü"),
            subject=Subject(commit="abc"),
            evaluation=Evaluation(
                time="2026-01-01T00:00:00Z", started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z"
            ),
            collector=Collector(version="0.1.0"),
            spec=SpecRef(path="g.yaml", sha256="0" * 64),
            checks=results,
            verdict=summary.verdict,
            counts=summary.counts,
        )
    )


def test_digest_is_sha256_of_the_canonical_packet_without_digest():
    data = to_canonical_json(packet())
    document = json.loads(data)
    recorded = document.pop("digest")["value"]
    # independent canonicalisation: sorted keys, no whitespace, UTF-8
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(canonical).hexdigest() == recorded
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_verify_detects_any_change_and_refuses_reformatting():
    data = to_canonical_json(packet())
    assert verify_bytes(data).ok
    assert verify_bytes(data + b"\n").ok  # as `--out -` prints it
    pretty = json.dumps(json.loads(data), indent=2).encode()
    outcome = verify_bytes(pretty)  # the exact sealed bytes are verified, not a re-serialisation
    assert not outcome.ok and "canonical form" in outcome.reason
    for old, new in ((b'"value":1.5', b'"value":1.4'), (b'"because"', b'"Because"'), (b'"abc"', b'"abd"')):
        changed = data.replace(old, new)
        assert changed != data
        outcome = verify_bytes(changed)
        assert not outcome.ok and "mismatch" in outcome.reason
    assert not verify_bytes(b"{not json").ok
    assert not verify_bytes(b'{"checks": []}').ok


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_shipped_schemas_are_up_to_date(name):
    shipped = ROOT / "slo" / "schemas" / SCHEMA_FILES[name]
    assert shipped.read_text() == render_schema(name), f"regenerate with: gatepack schema {name} > {shipped}"


def test_evidence_schema_validates_a_real_packet():
    schema = json.loads((ROOT / "slo" / "schemas" / SCHEMA_FILES["evidence"]).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = json.loads(to_canonical_json(packet(Verdict.FAIL)))
    assert not list(validator.iter_errors(document))
    # the schema is not a rubber stamp: a wrong verdict, a missing or unknown field, a wrong type all fail it
    for broken in (
        {**document, "verdict": "green"},
        {k: v for k, v in document.items() if k != "verdict"},
        {**document, "colour": "red"},
        {**document, "checks": [{**document["checks"][0], "value": "1.5"}]},
    ):
        assert list(validator.iter_errors(broken)), broken


def test_atomic_write_never_leaves_a_half_file(tmp_path, monkeypatch):
    target = tmp_path / "packet.json"
    write_atomic(target, b"old complete packet")

    def crash(*args: object) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomic(target, b"new packet that never lands")
    assert target.read_bytes() == b"old complete packet"
    assert [p.name for p in tmp_path.iterdir()] == ["packet.json"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:pw@prom.example:9090/prometheus", "https://***@prom.example:9090/prometheus"),
        ("https://prom.example/api?token=abc&tenant=t1", "https://prom.example/api?token=%2A%2A%2A&tenant=t1"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redactor_scrubs_known_secrets_and_userinfo():
    redact = Redactor(["tok-123456"])
    assert redact("Bearer tok-123456 failed at https://bob:pw@host/x") == "Bearer *** failed at https://***@host/x"


def test_credentials_come_from_env_or_files(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert load_credentials({}, bearer_token_file=token_file).bearer_token == "from-file"
    assert load_credentials({"GATEPACK_PROMETHEUS_BEARER_TOKEN": "env"}).bearer_token == "env"
    env = {"GATEPACK_PROMETHEUS_USERNAME": "u", "GATEPACK_PROMETHEUS_PASSWORD_FILE": str(token_file)}
    assert load_credentials(env).basic_auth == ("u", "from-file")
    with pytest.raises(CredentialError):
        load_credentials({"GATEPACK_PROMETHEUS_USERNAME": "u"})
    with pytest.raises(CredentialError, match="cannot read"):
        load_credentials({}, bearer_token_file=tmp_path / "missing")
    assert parse_headers(["X-Scope-OrgID: tenant-a"]) == {"X-Scope-OrgID": "tenant-a"}


def test_atomic_write_respects_the_umask(tmp_path):
    target = tmp_path / "shared.json"
    previous = os.umask(0o022)
    try:
        write_atomic(target, b"{}")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644


def test_sealed_bytes_equal_a_fresh_canonical_encoding():
    sealed = packet()
    fresh = json.dumps(packet_document(sealed), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert to_canonical_json(sealed) == fresh.encode("utf-8")
