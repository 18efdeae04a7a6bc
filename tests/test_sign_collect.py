"""``collect --sign`` against a real Prometheus: the envelope carries the real packet and verifies."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from slo.durations import parse_duration
from tests import groundtruth as truth
from tests.helpers import invoke, write_keys

pytestmark = pytest.mark.integration

COMMIT = "a" * 40
GATE = """
apiVersion: gatepack/v1
kind: Gate
id: signed
title: Signed truth
checks:
  - id: error_ratio_1h
    kind: threshold
    query: sum(increase(http_requests_total{service="checkout",code="500"}[1h])) / sum(increase(http_requests_total{service="checkout"}[1h]))
    op: "<"
    target: 0.01
"""


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def test_collect_sign_wraps_the_real_packet(prometheus, tmp_path: Path, monkeypatch, capsys):
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"collect").digest())
    write_keys(tmp_path, "k", key)
    (tmp_path / "gate.yaml").write_text(GATE)
    code, err = invoke(
        monkeypatch, capsys, "collect", tmp_path / "gate.yaml", "-p", prometheus.url, "--at", str(truth.END),
        "--commit", COMMIT, "--release", "v9", "-o", tmp_path / "ev", "--sign", tmp_path / "k",
    ).flat()  # fmt: skip
    assert code == 1, err  # 5 % errors in the last hour: the gate fails, and the failure is signed too
    [path] = (tmp_path / "ev").glob("signed-*.json")
    statement = json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))
    assert statement["subject"] == [{"name": "v9", "digest": {"gitCommit": COMMIT}}]
    [check] = statement["predicate"]["checks"]
    seconds = parse_duration("1h")
    expected = truth.errors_in_window("checkout", seconds) / truth.requests_in_window(seconds)
    assert check["value"] == pytest.approx(expected, rel=1e-9)
    assert check["verdict"] == "fail"
    code, err = invoke(monkeypatch, capsys, "verify", path, "--key", tmp_path / "k.pub", "--require-signature").flat()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert code == 0 and f"key {hashlib.sha256(raw).hexdigest()} (trusted)" in err
