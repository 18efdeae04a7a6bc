"""Verdict metrics: textfile read back with prometheus_client's parser, push through Debian's real Pushgateway.

The expected values come from the documented truth of the degraded demo world (``GATE_TRUTH``) and
from the sealed packets the same run wrote, never from the metrics code itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from collector.demo.world import attestations
from collector.sinks.metrics import exposition, push, write_textfile
from collector.sources.attestations import dump_attestations
from collector.testing.promserver import find_binary, free_port
from slo.evidence import EvidencePacket
from slo.generate import names
from slo.results import Verdict
from tests.conftest import unavailable
from tests.test_catalog_world import END, GATE_TRUTH, families, trace_file
from tests.test_demo_genai import PRICE_FILE

CODE = names.VERDICT_CODES


def _wait(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready within {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[str]:
    """Debian's prometheus-pushgateway on a free loopback port, stopped by PID afterwards."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        unavailable("prometheus-pushgateway not found: apt-get install prometheus-pushgateway")
    workdir = Path(tempfile.mkdtemp(prefix="gatepack-pgw-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={workdir / 'p'}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/-/ready", process, "pushgateway")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def collected(
    prometheus_pool, pushgateway, tmp_path_factory
) -> tuple[list[EvidencePacket], Path, subprocess.CompletedProcess[str]]:
    """One real `gatepack collect` over the degraded demo world with both sinks switched on."""
    server = prometheus_pool.get("catalog-degraded", lambda: list(families("degraded")))
    work = tmp_path_factory.mktemp("verdicts")
    attestation_file = work / "attestations.json"
    attestation_file.write_bytes(dump_attestations(attestations("degraded", END)))
    textfile = work / "textfile" / "gatepack.prom"
    result = subprocess.run(
        [
            sys.executable, "-m", "collector.cli.app", "collect",
            "--prometheus", server.url, "--at", str(END), "--attestations", str(attestation_file),
            "--traces", f"otlp:{trace_file('degraded')}", "--pricing", str(PRICE_FILE),
            "--out", str(work / "evidence"), "--format", "json",
            "--metrics-textfile", str(textfile), "--push", pushgateway,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the degraded world fails gates
    packets = [EvidencePacket.model_validate(json.loads(line)) for line in result.stdout.splitlines() if line]
    return packets, textfile, result


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_textfile_parses_and_matches_the_documented_truth(collected):
    packets, textfile, result = collected
    assert f"verdict metrics written: {textfile}" in result.stderr.replace("\n", "")
    samples = _samples(textfile.read_text(encoding="utf-8"))
    for gate_id, verdict in GATE_TRUTH["degraded"].items():
        assert samples[(names.GATE_VERDICT, (("gate", gate_id),))] == CODE[verdict], gate_id
    by_gate = {p.gate.id: p for p in packets}
    # every check of every gate, its value and its budget, exactly as sealed in the evidence
    for gate_id, packet in by_gate.items():
        for check in packet.checks:
            key = (("check", check.id), ("gate", gate_id))
            assert samples[(names.CHECK_VERDICT, key)] == CODE[check.verdict]
            if check.value is not None:
                assert samples[(names.CHECK_VALUE_METRIC, key)] == pytest.approx(check.value, rel=1e-12)
            else:
                assert (names.CHECK_VALUE_METRIC, key) not in samples
        assert samples[(names.EVIDENCE_TIMESTAMP, (("gate", gate_id),))] == END
        assert END < samples[(names.LAST_RUN_TIMESTAMP, (("gate", gate_id),))] <= time.time() + 1
    budget = samples[(names.SLO_BUDGET_REMAINING, (("check", "write-availability"), ("gate", "04-core-workflow")))]
    assert budget < 0  # the degraded write path overspent its 30-day budget (docs/gates.md)
    # bounded labels: gate and check only, never a value
    assert {k for _, labels in samples for k, _ in labels} == {"gate", "check"}
    assert sum(1 for name, _ in samples if name == names.GATE_VERDICT) == len(GATE_TRUTH["degraded"])


def test_push_is_scraped_by_a_real_prometheus_and_read_back(collected, pushgateway, tmp_path):
    _, _, result = collected
    assert "verdict metrics pushed" in result.stderr
    workdir = tmp_path
    port = free_port()
    target = pushgateway.removeprefix("http://")
    (workdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [
            find_binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/-/ready", process, "prometheus")
        deadline = time.monotonic() + 30
        rows: list[dict] = []
        while time.monotonic() < deadline and len(rows) < len(GATE_TRUTH["degraded"]):
            answer = httpx.get(f"{url}/api/v1/query", params={"query": names.GATE_VERDICT}).json()
            rows = answer["data"]["result"]
            time.sleep(0.5)
        got = {r["metric"]["gate"]: float(r["value"][1]) for r in rows}
        assert got == {g: CODE[v] for g, v in GATE_TRUTH["degraded"].items()}
        assert {r["metric"]["job"] for r in rows} == {names.PUSH_JOB}  # the push job, kept by honor_labels
    finally:
        _stop(process)


def test_a_rerun_replaces_the_gate_group_and_never_grows(collected, pushgateway):
    packets, _, _ = collected
    packet = next(p for p in packets if p.gate.id == "04-core-workflow")

    def series(gate: str) -> int:
        text = httpx.get(f"{pushgateway}/metrics").text
        return sum(
            1 for s in _samples(text) if s[0] == names.CHECK_VERDICT and ("gate", gate) in s[1]
        )  # fmt: skip

    before_other = series("01-cicd")
    assert series("04-core-workflow") == len(packet.checks)
    for _ in range(3):
        push(pushgateway, [packet])
    assert series("04-core-workflow") == len(packet.checks)
    fewer = packet.model_copy(update={"checks": packet.checks[:2]})
    push(pushgateway, [fewer])
    assert series("04-core-workflow") == 2  # a check gone from the spec is gone from the group
    assert series("01-cicd") == before_other  # other gates' groups untouched
    push(pushgateway, [packet])


def test_push_failure_is_one_line_and_keeps_the_verdict_exit_code(collected, prometheus_pool, tmp_path):
    server = prometheus_pool.get("catalog-degraded", lambda: list(families("degraded")))
    closed = free_port()
    attestation_file = tmp_path / "attestations.json"
    attestation_file.write_bytes(dump_attestations(attestations("degraded", END)))
    result = subprocess.run(
        [
            sys.executable, "-m", "collector.cli.app", "collect", "--gate", "02-auth-shell",
            "--prometheus", server.url, "--at", str(END), "--out", str(tmp_path), "--format", "json",
            "--attestations", str(attestation_file),
            "--push", f"http://gp:s3cr3t-token@127.0.0.1:{closed}/",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[
        -2000:
    ]  # 02-auth-shell passes in the degraded world; the push problem does not change it
    assert "pushing verdict metrics of 02-auth-shell" in result.stderr
    assert "s3cr3t-token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("02-auth-shell-*.json"))  # evidence written anyway


def test_textfile_write_is_atomic_and_dir_mode_is_one_file_per_gate(collected, tmp_path):
    packets, _, _ = collected
    target = tmp_path / "gatepack.prom"
    write_textfile(target, packets)
    first = os.stat(target).st_ino
    write_textfile(target, packets[:1])
    assert os.stat(target).st_ino != first  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gatepack.prom"]  # no temp file left behind
    assert {k[1][0][1] for k in _samples(target.read_text()) if k[0] == names.GATE_VERDICT} == {packets[0].gate.id}
    folder = tmp_path / "textfile"
    folder.mkdir()
    written = write_textfile(folder, packets)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"gatepack_{p.gate.id}.prom" for p in packets)
    assert len(written) == len(packets)


_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,30}\Z")


@settings(max_examples=60, deadline=None)
@given(
    gate=_ids,
    checks=st.dictionaries(
        _ids,
        st.tuples(st.sampled_from(list(Verdict)), st.none() | st.floats(allow_nan=False, allow_infinity=True)),
        min_size=1,
        max_size=5,
    ),
)
def test_exposition_round_trips_through_the_prometheus_parser(gate, checks):
    packet = _packet(gate, checks)
    samples = _samples(exposition([packet]).decode())
    for check_id, (verdict, value) in checks.items():
        key = (("check", check_id), ("gate", gate))
        assert samples[(names.CHECK_VERDICT, key)] == CODE[verdict]
        assert samples.get((names.CHECK_VALUE_METRIC, key)) == value


def _packet(gate: str, checks: dict[str, tuple[Verdict, float | None]]) -> EvidencePacket:
    return EvidencePacket.model_validate(
        {
            "gate": {"id": gate, "title": gate},
            "subject": {},
            "evaluation": {"time": "2026-01-01T00:00:00Z", "started_at": "2026-01-01T00:00:00Z",
                           "finished_at": "2026-01-01T00:00:01Z"},
            "collector": {"version": "test"},
            "spec": {"path": "x.yaml", "sha256": "0" * 64},
            "checks": [
                {"id": c, "title": c, "kind": "threshold", "required": True, "on_no_data": "fail",
                 "verdict": v.value, "effect": "pass", "reason": "r", "value": value}
                for c, (v, value) in checks.items()
            ],
            "verdict": "pass",
            "counts": {},
        }
    )  # fmt: skip


def test_push_sends_url_credentials_as_basic_auth_and_never_in_the_url():
    """A real local HTTP server stands in for a Pushgateway behind basic auth and records what arrives."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str, str | None, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append((self.command, self.path, self.headers.get("Authorization"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        packet = _packet("g.1", {"c": (Verdict.FAIL, 2.5)})
        push(f"http://ops:pa%3Ass@127.0.0.1:{server.server_address[1]}", [packet])
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 1
    method, path, authorization, body = seen[0]
    assert method == "PUT" and path == "/metrics/job/gatepack/gate/g.1"
    assert authorization == "Basic " + base64.b64encode(b"ops:pa:ss").decode()
    assert 'gatepack_check_verdict{check="c",gate="g.1"} 3.0' in body.decode()
