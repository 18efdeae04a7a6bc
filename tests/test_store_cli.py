"""``collect --store``, ``gatepack evidence …`` and ``gatepack diff`` end to end against a real Prometheus.

Two collects of the same gate an hour apart see checkout's error count move by a closed-form amount;
the diff must report exactly that delta and the verdict flip.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import pytest

from collector.cli.app import main
from collector.store import open_store
from slo.evidence import verify_bytes
from slo.wire import checks_of
from tests import groundtruth as truth

pytestmark = pytest.mark.integration

GATE = """
apiVersion: gatepack/v1
kind: Gate
id: stored
title: Stored gate
checks:
  - id: checkout_errors_1h
    kind: threshold
    query: sum(increase(http_requests_total{service="checkout",code="500"}[1h]))
    op: "<"
    target: 1000
"""
EARLY = truth.END - 7200  # before the last two degraded hours: 60 errors in the hour


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def gatepack(monkeypatch, capsys, *args: object) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["gatepack", *map(str, args)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, " ".join(out.err.split())


@pytest.fixture()
def stored(prometheus, tmp_path: Path, monkeypatch, capsys) -> Path:
    (tmp_path / "gate.yaml").write_text(GATE)
    assert gatepack(monkeypatch, capsys, "keygen", "-o", tmp_path / "k")[0] == 0
    db = tmp_path / "evidence.db"
    for at, release in ((EARLY, "v1"), (truth.END, "v2")):
        code, _, err = gatepack(
            monkeypatch, capsys, "collect", tmp_path / "gate.yaml", "-p", prometheus.url, "--at", str(at),
            "--release", release, "--environment", "prod", "-o", tmp_path / "ev", "--keep-responses",
            "--store", db, "--sign", tmp_path / "k",
        )  # fmt: skip
        assert code in (0, 1), err
        assert "recorded: sha256:" in err and "(1 new responses)" in err
    return tmp_path


def per_hour_errors(end: int) -> float:
    """Errors counted by increase(...[1h]) at ``end``: the generator's per-minute record, summed."""
    increments = truth.error_increments("checkout")
    in_window = (truth.TIMESTAMPS > end - 3600) & (truth.TIMESTAMPS <= end)
    return float(increments[in_window].sum())


def test_collect_store_records_signed_packets_with_their_responses(stored: Path):
    with open_store(str(stored / "evidence.db")) as store:
        rows = store.find(gate="stored")
        assert [r.release for r in rows] == ["v2", "v1"]  # newest evaluation first
        for row in rows:
            assert verify_bytes(row.packet).ok and row.envelope is not None
            [query] = checks_of(json.loads(row.packet))[0]["queries"]
            body = store.response(query["response_sha256"])
            kept = gzip.decompress((stored / "ev" / "responses" / f"{query['response_sha256']}.json.gz").read_bytes())
            assert body == kept and hashlib.sha256(body).hexdigest() == query["response_sha256"]


def test_list_show_pull_and_verify_what_was_pulled(stored: Path, monkeypatch, capsys):
    db = stored / "evidence.db"
    code, out, _ = gatepack(monkeypatch, capsys, "evidence", "list", "--store", db, "--format", "json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [item["release"] for item in listed] == ["v2", "v1"]
    code, out, _ = gatepack(monkeypatch, capsys, "evidence", "list", "--store", db, "--verdict", "pass", "-f", "json")
    assert [json.loads(line)["release"] for line in out.splitlines()] == ["v1"]  # 60 errors < 1000 < 3000
    code, out, _ = gatepack(monkeypatch, capsys, "evidence", "show", "latest", "--store", db, "--gate", "stored")
    assert code == 0 and json.loads(out)["subject"]["release"] == "v2"
    code, out, _ = gatepack(monkeypatch, capsys, "evidence", "show", listed[1]["digest"][:12], "--store", db)
    assert json.loads(out)["digest"]["value"] == listed[1]["digest"]
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "pull", "stored", "--store", db, "-o", stored / "p.json")
    assert code == 0
    code, _, err = gatepack(monkeypatch, capsys, "verify", stored / "p.json", "--key", stored / "k.pub")
    assert code == 0 and "signature valid" in err
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "show", "deadbeef00", "--store", db)
    assert code == 2 and "no packet with digest" in err and "Traceback" not in err
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "list")
    assert code == 2 and "--store" in err


def test_diff_reports_the_flip_and_the_closed_form_delta(stored: Path, monkeypatch, capsys):
    db = stored / "evidence.db"
    code, out, _ = gatepack(monkeypatch, capsys, "evidence", "list", "--store", db, "-f", "json")
    newer, older = (json.loads(line)["digest"] for line in out.splitlines())
    code, out, err = gatepack(monkeypatch, capsys, "diff", older, newer, "--store", db, "--format", "json")
    assert code == 0, err
    diff = json.loads(out)
    [change] = diff["checks"]
    before, after = per_hour_errors(EARLY), per_hour_errors(truth.END)
    assert (before, after) == (60.0, 3000.0)  # the generator's own record: 1/min, then 50/min
    assert change["value_before"] == pytest.approx(before, rel=1e-9)
    assert change["delta"] == pytest.approx(after - before, rel=1e-9)
    assert change["relative"] == pytest.approx((after - before) / before, rel=1e-9)
    assert (change["verdict_before"], change["verdict_after"], change["worse"]) == ("pass", "fail", True)
    assert diff["verdict_before"] == "pass" and diff["verdict_after"] == "fail"
    code, out, _ = gatepack(monkeypatch, capsys, "diff", older, newer, "--store", db, "-f", "markdown")
    assert "| checkout_errors_1h | changed | pass 60 | fail 3000 | verdict pass → fail; value 60 → 3000" in out
    # files work as well as digests (the envelopes collect wrote)
    files = sorted((stored / "ev").glob("stored-*.json"))
    code, out, _ = gatepack(monkeypatch, capsys, "diff", files[0], files[1], "-f", "json")
    assert json.loads(out)["checks"][0]["delta"] == pytest.approx(after - before, rel=1e-9)


def test_export_then_import_into_another_store(stored: Path, monkeypatch, capsys):
    db = stored / "evidence.db"
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "export", stored / "out", "--store", db)
    assert code == 0 and "exported 2" in err
    other = stored / "other.db"
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "import", stored / "out", "--store", other)
    assert code == 0 and "imported 2 new packet(s) of 2" in err
    code, _, err = gatepack(monkeypatch, capsys, "evidence", "import", stored / "out", "--store", other)
    assert "imported 0 new packet(s) of 2" in err
    with open_store(str(db)) as a, open_store(str(other)) as b:
        assert [(r.digest, r.envelope) for r in a.find()] == [(r.digest, r.envelope) for r in b.find()]
        for row in b.find():
            [query] = checks_of(row.document())[0]["queries"]
            assert b.response(query["response_sha256"]) == a.response(query["response_sha256"]) is not None
