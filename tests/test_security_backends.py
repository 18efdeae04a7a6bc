"""What differs between Prometheus-compatible backends, and faults that happen after the connection.

Against the real local hostile server (tests/faulty_backend.py):
- a connection reset in the middle of the body is a ``read``/``protocol`` fault, not ``connect``: the
  backend answered, so a gate of such checks is not "no backend reachable" (exit 3);
- Mimir's tenant header is sent, recorded in the packet's backend entry, and not masked as a secret;
- Thanos is asked for complete answers only (``partial_response=false``), a store failure is the check's
  error; a VictoriaMetrics-cluster answer marked ``isPartial`` is recorded as fault ``partial``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slo.wire import checks_of
from tests.faulty_backend import STORE_DOWN, FaultyBackend


def gate(*names: str) -> str:
    checks = "".join(f"  - {{id: {n}, kind: threshold, query: 'sum({n}_metric)', op: '>', target: 0}}\n" for n in names)
    return f"apiVersion: gatepack/v1\nkind: Gate\nid: compat\ntitle: Compat\nchecks:\n{checks}"


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


def collect(tmp_path, url: str, text: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    spec = tmp_path / "gate.yaml"
    spec.write_text(text)
    command = [sys.executable, "-m", "collector.cli", "collect", str(spec), "-p", url, "--out", str(tmp_path / "ev")]
    result = subprocess.run(
        [*command, "--format", "json", "--timeout", "3", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert "Traceback" not in result.stderr
    packet = json.loads(result.stdout) if result.stdout.strip() else {}
    return result, packet


def test_reset_mid_body_is_not_unreachable(tmp_path, faulty):
    result, packet = collect(tmp_path, faulty.url, gate("reset", "resetalso"))
    assert result.returncode == 1, result.stderr  # the gate fails (errors), it does not say "unreachable"
    assert "failed to connect" not in result.stderr and "no backend was reachable" not in result.stderr
    for check in checks_of(packet):
        assert check["verdict"] == "error"
        [query] = check["queries"]
        assert query["fault"] in {"read", "protocol"}, query
        assert query["attempts"] == 4  # a transient fault after the connection is retried like one before it
    assert faulty.hits["sum(reset_metric)"] == 4


def test_mimir_tenant_header_is_sent_and_recorded(tmp_path, faulty):
    without, packet = collect(tmp_path, faulty.url, gate("mimir"))
    assert without.returncode == 1
    assert "HTTP 401" in packet["checks"][0]["reason"]
    assert packet["backends"][0]["headers"] == {}

    with_tenant, packet = collect(
        tmp_path, faulty.url, gate("mimir"), "--header", "X-Scope-OrgID: team-b", "--header", "X-Api-Key: k-77aa11"
    )
    assert with_tenant.returncode == 0, with_tenant.stderr
    assert packet["checks"][0]["value"] == 22  # team-b's data, not team-a's
    assert faulty.seen_headers[-1]["X-Scope-OrgID"] == "team-b"
    assert packet["backends"][0]["headers"] == {"X-Scope-OrgID": "team-b"}  # the key is a credential: absent
    assert "team-b" in json.dumps(packet) and "k-77aa11" not in json.dumps(packet) + with_tenant.stderr


def test_thanos_is_asked_for_complete_answers(tmp_path, faulty):
    result, packet = collect(tmp_path, faulty.url, gate("thanos", "ok"))
    assert result.returncode == 1
    assert all(f.get("partial_response") == "false" for f in faulty.seen_forms if "thanos" in f["query"])
    thanos = next(c for c in packet["checks"] if c["id"] == "thanos")
    assert thanos["verdict"] == "error"  # a store is down: never a pass computed from the rest
    assert "execution" in thanos["reason"] and STORE_DOWN in thanos["reason"]
    ok = next(c for c in checks_of(packet) if c["id"] == "ok")
    assert ok["verdict"] == "pass" and ok["queries"][0]["warnings"] == ["fake warning"]  # warnings kept


def test_partial_response_is_recorded_as_such(tmp_path, faulty):
    result, packet = collect(tmp_path, faulty.url, gate("vmpartial"))
    assert result.returncode == 1
    [check] = checks_of(packet)
    assert check["verdict"] == "error" and "partial response" in check["reason"]
    query = check["queries"][0]
    assert query["fault"] == "partial" and query["response_sha256"]  # the partial body is hashed, not dropped
