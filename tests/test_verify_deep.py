"""``--keep-responses`` and ``verify --deep`` against a real Prometheus with a closed-form truth.

The forgeries here are what a digest alone cannot catch: a value or verdict edited and the packet
re-sealed with a recomputed sha256 (no signature). Kept responses expose them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from slo.diff import diff_packets
from slo.evidence import EvidencePacket, canonical_bytes, seal, to_canonical_json, verify_bytes
from slo.querytable import query_key
from slo.wire import checks_of, response_digests
from tests import groundtruth as truth
from tests.helpers import invoke, reseal

pytestmark = pytest.mark.integration

GATE = """
apiVersion: gatepack/v1
kind: Gate
id: deep
title: Deep recheck
checks:
  - id: checkout_errors
    kind: threshold
    query: sum(increase(http_requests_total{service="checkout",code="500"}[1h]))
    op: "<"
    target: 100
  - id: search_errors
    kind: threshold
    query: sum(increase(http_requests_total{service="search",code="500"}[1h]))
    op: "<"
    target: 100
  - id: availability
    kind: slo
    bad: sum(increase(http_requests_total{service="billing",code="500"}[{{ window }}]))
    total: sum(increase(http_requests_total{service="billing"}[{{ window }}]))
    objective: 99.9
    period: 30d
"""


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


@pytest.fixture()
def collected(prometheus, tmp_path: Path, monkeypatch, capsys) -> Path:
    (tmp_path / "gate.yaml").write_text(GATE)
    code, err = invoke(
        monkeypatch, capsys, "collect", tmp_path / "gate.yaml", "-p", prometheus.url, "--at", str(truth.END),
        "-o", tmp_path / "ev", "--keep-responses",
    ).flat()  # fmt: skip
    assert code == 1, err  # checkout's 50 errors/min in the last hour fail its check
    [path] = (tmp_path / "ev").glob("deep-*.json")
    return path


def reseal_file(path: Path, edit) -> None:
    packet = json.loads(path.read_text())
    edit(packet)
    path.write_bytes(canonical_bytes(reseal(packet)))  # a careful forger writes the canonical form too


def test_kept_responses_are_addressed_by_the_recorded_sha256(collected: Path):
    packet = json.loads(collected.read_text())
    shas = set(response_digests(packet))
    assert len(shas) >= 3
    for sha in shas:
        body = gzip.decompress((collected.parent / "responses" / f"{sha}.json.gz").read_bytes())
        assert hashlib.sha256(body).hexdigest() == sha
        assert json.loads(body)["status"] == "success"
    spec = (collected.parent / "specs" / f"{packet['spec']['sha256']}.yaml").read_bytes()
    assert hashlib.sha256(spec).hexdigest() == packet["spec"]["sha256"] and spec.decode() == GATE
    by_id = {c["id"]: c for c in checks_of(packet)}
    # the two threshold checks were answered by one grouped query: the recheck must select each series
    assert by_id["checkout_errors"]["queries"][0]["query"].startswith("sum by (service)")
    assert by_id["checkout_errors"]["value"] == pytest.approx(truth.errors_in_window("checkout", 3600), rel=1e-9)


def test_deep_verify_reproduces_every_value(collected: Path, monkeypatch, capsys):
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 0, err
    for check in ("checkout_errors", "search_errors", "availability"):
        assert f"deep: ok: {check}: value and verdict reproduced" in err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda p: p["checks"][0].update(value=42.0, verdict="pass", effect="pass"), "checkout_errors: value"),
        (lambda p: p["checks"][0]["queries"][0].update(value=42.0), "checkout_errors: query value"),
        (lambda p: p["checks"][1].update(verdict="fail", effect="fail"), "search_errors: verdict"),
        (lambda p: p["checks"][2]["slo"].update(sli=99.99), "availability: SLO figures"),
        (lambda p: p.update(verdict="pass"), "gate verdict: recorded 'pass', recomputed 'fail'"),
    ],
)
def test_deep_verify_catches_a_resealed_edit(collected: Path, monkeypatch, capsys, edit, expected):
    reseal_file(collected, edit)
    code, err = invoke(monkeypatch, capsys, "verify", collected).flat()
    assert code == 0, err  # the digest alone is fooled
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 1 and expected in err, err


def test_deep_verify_catches_an_altered_or_missing_response(collected: Path, monkeypatch, capsys):
    packet = json.loads(collected.read_text())
    sha = checks_of(packet)[2]["queries"][0]["response_sha256"]
    kept = collected.parent / "responses" / f"{sha}.json.gz"
    body = json.loads(gzip.decompress(kept.read_bytes()))
    body["data"]["result"][0]["value"][1] = "0"
    kept.write_bytes(gzip.compress(json.dumps(body).encode()))
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 1 and "DIFFERENT: availability" in err and "altered" in err, err
    kept.unlink()
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 1 and "INCOMPLETE: availability" in err and "was not kept" in err, err


def _grouped_entry(packet: dict) -> str:
    """The key of the grouped query the two threshold checks share (one entry, two references)."""
    [key] = [k for k, e in packet["queries"].items() if e["query"].startswith("sum by (service)")]
    return key


def test_a_grouped_query_is_recorded_once_and_referenced_by_both_checks(collected: Path):
    packet = json.loads(collected.read_text())
    assert packet["schema_version"] == "2.0.0"
    key = _grouped_entry(packet)
    refs = [r["ref"] for c in packet["checks"][:2] for r in c["queries"]]
    assert refs == [key, key] and collected.read_text().count(json.dumps(packet["queries"][key]["query"])) == 1
    # each check says which series it read, once
    assert ["selected" in c for c in packet["checks"]] == [False] * 3  # on the check only when it saves bytes
    assert [c["queries"][0]["selected"] for c in checks_of(packet)[:2]] == [
        {"service": "checkout"},
        {"service": "search"},
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda p: p["checks"][0]["queries"][0].update(ref="0" * 16), "refers to '0000000000000000', which is not in"),
        (
            lambda p: p["queries"][_grouped_entry(p)].update(query='sum by (service) (up{service=~"checkout"})'),
            "is not the key of its own query, backend and time",
        ),
        (lambda p: p["queries"].update({query_key("up", None, None)[:16]: {"query": "up"}}), "referenced by no check"),
        (lambda p: p["checks"][0]["queries"][0].update(attempts=3), "restates attempts"),
    ],
)
def test_verify_catches_a_resealed_edit_of_the_query_table(collected: Path, monkeypatch, capsys, edit, expected):
    reseal_file(collected, edit)
    code, err = invoke(monkeypatch, capsys, "verify", collected).flat()
    assert code == 1 and expected in err and "query table is inconsistent" in err and "Traceback" not in err, err
    reason = verify_bytes(collected.read_bytes()).reason
    assert expected in reason and "\n" not in reason  # one line naming the check or entry


def test_deep_verify_catches_a_table_entry_pointing_at_another_response(collected: Path, monkeypatch, capsys):
    packet = json.loads(collected.read_text())
    key = _grouped_entry(packet)
    other = next(e["response_sha256"] for k, e in packet["queries"].items() if k != key)
    reseal_file(collected, lambda p: p["queries"][key].update(response_sha256=other))
    code, err = invoke(monkeypatch, capsys, "verify", collected).flat()
    assert code == 0, err  # the key covers text, backend and time; the response digest is --deep's to check
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 1 and "DIFFERENT: checkout_errors" in err and "DIFFERENT: search_errors" in err, err


def test_the_same_run_as_a_1_0_0_packet_verifies_deep_and_diffs_as_unchanged(collected: Path, monkeypatch, capsys):
    document = json.loads(collected.read_text())
    document.pop("digest")
    old = EvidencePacket.model_validate(document).model_copy(update={"schema_version": "1.0.0"})
    legacy = collected.with_name("legacy-1.0.0.json")
    legacy.write_bytes(to_canonical_json(seal(old)))
    written = json.loads(legacy.read_text())
    assert "queries" not in written and written["checks"][0]["queries"][0]["query"].startswith("sum by (service)")
    code, err = invoke(monkeypatch, capsys, "verify", legacy, "--deep").flat()
    assert code == 0 and "schema 1.0.0" in err and "every rechecked value and verdict matches" in err, err
    code, err = invoke(monkeypatch, capsys, "diff", legacy, collected).flat()
    assert code == 0 and "0 of 3 check(s) changed" in err, err
    diff = diff_packets(written, json.loads(collected.read_text()))
    assert [c.change for c in diff.checks] == ["same"] * 3 and not any(c.queries_changed for c in diff.checks)
    # an edit shows across versions too: the other grouped member's query text is compared as written
    ungrouped = json.loads(collected.read_text())
    key = next(k for k, e in ungrouped["queries"].items() if not e["query"].startswith("sum by"))
    ungrouped["queries"][key]["query"] += " * 2"
    assert any(c.queries_changed for c in diff_packets(written, ungrouped).checks)


def test_deep_verify_needs_the_recorded_spec(collected: Path, monkeypatch, capsys, tmp_path: Path):
    packet = json.loads(collected.read_text())
    copy = collected.parent / "specs" / f"{packet['spec']['sha256']}.yaml"
    copy.rename(tmp_path / "kept.yaml")
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep").flat()
    assert code == 2 and "--keep-responses keeps it" in err and "Traceback" not in err
    (tmp_path / "other.yaml").write_text(GATE.replace("target: 100", "target: 1000"))
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep", "--spec", tmp_path / "other.yaml").flat()
    assert code == 2 and "not the spec the packet was computed from" in err
    code, err = invoke(monkeypatch, capsys, "verify", collected, "--deep", "--spec", tmp_path / "kept.yaml").flat()
    assert code == 0, err


def test_deep_verify_of_a_signed_envelope(prometheus, tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "gate.yaml").write_text(GATE)
    assert invoke(monkeypatch, capsys, "keygen", "-o", tmp_path / "k").flat()[0] == 0
    code, err = invoke(
        monkeypatch, capsys, "collect", tmp_path / "gate.yaml", "-p", prometheus.url, "--at", str(truth.END),
        "-o", tmp_path / "ev", "--keep-responses", "--sign", tmp_path / "k",
    ).flat()  # fmt: skip
    assert code == 1, err
    [path] = (tmp_path / "ev").glob("deep-*.json")
    code, err = invoke(monkeypatch, capsys, "verify", path, "--deep", "--key", tmp_path / "k.pub").flat()
    assert code == 0, err
    assert "signature valid" in err and "every rechecked value and verdict matches" in err


def test_deep_verify_names_checks_it_cannot_recheck(tmp_path: Path, monkeypatch, capsys):
    lines = ["response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"]
    lines += [f"0.0100,0.0001,0.0000,0.0001,0.0100,0.0000,200,{i / 100:.4f}" for i in range(120)]
    (tmp_path / "hey.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "gate.yaml").write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: Perf\nchecks:\n"
        '  - {id: volume, kind: loadtest, metric: requests, threshold: "count>=100"}\n'
    )
    code, err = invoke(
        monkeypatch, capsys, "ingest", tmp_path / "hey.csv", "--gate", "perf", "--spec", tmp_path / "gate.yaml",
        "-o", tmp_path / "ev", "--keep-responses",
    ).flat()  # fmt: skip
    assert code == 0, err
    [path] = (tmp_path / "ev").glob("perf-*.json")
    code, err = invoke(monkeypatch, capsys, "verify", path, "--deep").flat()
    assert code == 0 and "deep: volume: not rechecked: loadtest checks read files" in err, err


def altered_history() -> list:
    """The foundation's checkout series with twice the errors: what a backfill or a rebuilt rule would show."""
    import numpy as np

    from collector.testing.openmetrics import Family, Series

    requests = Family("http_requests", "counter", "requests by outcome")
    errors = np.cumsum(truth.error_increments("checkout") * 2)
    requests.series.append(
        Series("http_requests_total", {"service": "checkout", "code": "500"}, truth.TIMESTAMPS, errors)
    )
    return [requests]


def test_recheck_against_the_same_backend_matches_and_against_changed_data_does_not(
    collected: Path, prometheus, prometheus_pool, monkeypatch, capsys
):
    import re

    packet = json.loads(collected.read_text())
    sent = sum(len(c["queries"]) for c in packet["checks"])
    code, err = invoke(monkeypatch, capsys, "recheck", collected).flat()  # the backend recorded in the packet
    assert code == 0, err
    assert f"0 of {sent} recorded queries answer differently now" in err
    changed = prometheus_pool.get("altered-checkout", altered_history)
    code, err = invoke(monkeypatch, capsys, "recheck", collected, "-p", changed.url).flat()
    assert code == 1, err
    found = re.search(r"CHANGED: checkout_errors: value: recorded ok ([0-9.e+]+), now ok ([0-9.e+]+)", err)
    assert found, err
    recorded, now = float(found.group(1)), float(found.group(2))
    assert recorded == pytest.approx(truth.errors_in_window("checkout", 3600), rel=1e-9)
    assert now == pytest.approx(2 * truth.errors_in_window("checkout", 3600), rel=1e-9)
