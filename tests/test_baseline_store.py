"""Baselines end to end: ``gatepack collect --loadtest … --store DB`` against a real SQLite store.

The load-test inputs are hey CSV files whose durations the test draws itself, so the expected mean
latency (and the 20 % regression of the second run) is computed here with numpy, not read back. Also the
top-level store commands (``gatepack list|show|pull|export|import``) next to ``gatepack evidence …``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from collector.store import open_store

HEY_HEADER = "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"
GATE = """
apiVersion: gatepack/v1
kind: Gate
id: perf
title: Perf gate
checks:
  - id: mean_latency
    kind: loadtest
    metric: latency
    aggregation: avg
    op: "<"
    target: 1000
    baseline: {{compare: "{compare}", max_regression: 10%}}
"""
T0 = 1_780_000_000  # --at of the first run; later runs are an hour apart


DURATIONS = np.round(np.random.default_rng(11).uniform(0.020, 0.080, 200), 4)


def hey_csv(path: Path, scale: float) -> tuple[Path, float]:
    """A hey CSV of DURATIONS × scale seconds; returns it and its mean latency in ms (numpy)."""
    durations = np.round(DURATIONS * scale, 4)
    offsets = np.linspace(0, 2.0, durations.size)
    lines = [HEY_HEADER] + [
        f"{d:.4f},0.0001,0.0000,0.0001,{d:.4f},0.0000,200,{o:.4f}" for d, o in zip(durations, offsets)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, float(np.mean(durations) * 1000)


def collect(gatepack, tmp: Path, name: str, scale: float, at: int, *extra: object, compare: str = "previous_pass"):
    spec = tmp / f"gate-{name}.yaml"
    spec.write_text(GATE.format(compare=compare))
    csv, mean = hey_csv(tmp / f"{name}.csv", scale)
    out = tmp / f"ev-{name}"
    ran = gatepack("collect", spec, "--loadtest", csv, "--at", at, "-o", out, "--environment", "prod", *extra)
    [path] = list(out.glob("perf-*.json"))
    return ran, json.loads(path.read_text()), mean


def only_check(packet: dict) -> dict:
    [check] = packet["checks"]
    return check


def test_second_run_twenty_percent_worse_fails_naming_the_baseline(gatepack, tmp_path: Path) -> None:
    db = tmp_path / "evidence.db"
    first, first_packet, first_mean = collect(gatepack, tmp_path, "a", 1.0, T0, "--store", db)
    assert first.code == 0, first.err
    assert only_check(first_packet)["value"] == pytest.approx(first_mean, rel=1e-9)
    assert "no packet of gate perf for a passing run in environment prod" in only_check(first_packet)["reason"]
    assert first_packet["verdict"] == "pass"  # no baseline yet: the absolute verdict, said so

    second, packet, mean = collect(gatepack, tmp_path, "b", 1.2, T0 + 3600, "--store", db)
    assert second.code == 1, second.err
    assert mean < 1000  # the absolute target alone would pass
    check = only_check(packet)
    digest = first_packet["digest"]["value"]
    assert check["verdict"] == "fail" and packet["verdict"] == "fail"
    assert f"sha256:{digest}" in check["reason"] and "regressed beyond baseline" in check["reason"]
    expected = (mean - first_mean) / first_mean
    assert expected == pytest.approx(0.2, abs=0.01)  # the rounding to 0.1 ms moves it a little
    assert check["baseline"]["digest"] == digest
    assert check["baseline"]["value"] == pytest.approx(first_mean, rel=1e-9)
    assert check["baseline"]["regression"] == pytest.approx(expected, rel=1e-9)
    assert check["baseline"]["ok"] is False and check["baseline"]["max_regression"] == pytest.approx(0.1)

    # the failed run is not a baseline for previous_pass: a third run 5 % worse than the FIRST passes
    third, packet3, mean3 = collect(gatepack, tmp_path, "c", 1.05, T0 + 7200, "--store", db)
    assert third.code == 0, third.err
    assert only_check(packet3)["baseline"]["digest"] == digest
    assert only_check(packet3)["baseline"]["regression"] == pytest.approx((mean3 - first_mean) / first_mean, rel=1e-9)


def test_release_selects_the_packet_of_that_release(gatepack, tmp_path: Path) -> None:
    db = tmp_path / "evidence.db"
    _, v12, v12_mean = collect(gatepack, tmp_path, "v12", 1.0, T0, "--store", db, "--release", "v1.2")
    _, v13, _ = collect(gatepack, tmp_path, "v13", 1.5, T0 + 3600, "--store", db, "--release", "v1.3")
    assert v13["verdict"] == "fail"  # 50 % worse than v1.2 (previous_pass)
    ran, packet, mean = collect(
        gatepack, tmp_path, "v14", 1.08, T0 + 7200, "--store", db, "--release", "v1.4", compare="release:v1.2"
    )
    assert ran.code == 0, ran.err
    check = only_check(packet)
    assert check["baseline"]["digest"] == v12["digest"]["value"]
    assert check["baseline"]["regression"] == pytest.approx((mean - v12_mean) / v12_mean, rel=1e-9)
    ran, packet, _ = collect(gatepack, tmp_path, "v15", 1.0, T0 + 9000, "--store", db, compare="release:v9")
    assert ran.code == 0 and "no packet of gate perf for release v9 in the store" in only_check(packet)["reason"]


def test_without_a_store_the_check_says_it_has_no_baseline(gatepack, tmp_path: Path) -> None:
    ran, packet, _ = collect(gatepack, tmp_path, "a", 1.0, T0)
    assert ran.code == 0, ran.err
    check = only_check(packet)
    assert "baseline (previous_pass): no --store given to look it up in; absolute verdict only" in check["reason"]
    # a 2.0.0 packet leaves members at their default (null) out
    assert check["baseline"].get("digest") is None and check["baseline"].get("ok") is None
    assert check["baseline"]["compare"] == "previous_pass"


def test_store_commands_work_at_the_top_level_and_under_evidence(gatepack, tmp_path: Path) -> None:
    db = tmp_path / "evidence.db"
    _, packet, _ = collect(gatepack, tmp_path, "a", 1.0, T0, "--store", db)
    digest = packet["digest"]["value"]
    listed = [gatepack(*prefix, "list", "--store", db, "--format", "json") for prefix in ((), ("evidence",))]
    assert all(r.code == 0 for r in listed) and listed[0].out == listed[1].out
    assert json.loads(listed[0].out)["digest"] == digest
    for prefix in ((), ("evidence",)):
        pulled = tmp_path / f"pulled{len(prefix)}.json"  # the spelling: pull GATE --latest -o FILE
        assert gatepack(*prefix, "pull", "perf", "--latest", "-o", pulled, "--store", db).code == 0
        assert json.loads((tmp_path / f"pulled{len(prefix)}.json").read_text())["digest"]["value"] == digest
        shown = gatepack(*prefix, "show", digest[:12], "--store", db)
        assert shown.code == 0 and digest in shown.out + shown.err
        assert gatepack(*prefix, "export", tmp_path / f"exp{len(prefix)}", "--store", db).code == 0
    for i, spelling in enumerate((("import",), ("import", "packets"), ("evidence", "import"))):
        other = tmp_path / f"other{i}.db"
        ran = gatepack(*spelling, tmp_path / "exp0", "--store", other)
        assert ran.code == 0, ran.err
        with open_store(str(other)) as store:
            assert [r.digest for r in store.find()] == [digest]
    assert gatepack("import", "sloth", "--help").code == 0  # the converters keep their word
