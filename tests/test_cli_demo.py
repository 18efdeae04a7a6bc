"""``gatepack demo --serve``: the demo world's Prometheus stays up on a printed loopback URL until Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from collector.catalog import catalog_gates
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_demo_serve_prints_a_url_that_collect_can_use_and_stops_on_ctrl_c(prometheus_binaries, tmp_path, gatepack):
    attestations = tmp_path / "att.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "demo", "--serve", "--attestations", str(attestations),
         "--traces", str(tmp_path / "traces.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        ran = gatepack("collect", "--gate", "04-core-workflow", "-p", url, "--output", "json", "-o", tmp_path / "ev")
        packet = json.loads(ran.out)
        assert ran.code == 0 and packet["verdict"] == "pass", ran  # the healthy scenario passes every gate
        assert len(packet["checks"]) == len(catalog_gates(["04-core-workflow"])[0].gate.checks)
        attested = gatepack(
            "collect", "--gate", "00-architecture", "--attestations", attestations, "-o", tmp_path / "ev"
        )
        assert attested.code == 0, attested
        traced = gatepack(
            "collect", "--gate", "06-ai-action", "-p", url, "--traces", f"otlp:{tmp_path / 'traces.jsonl'}",
            "--pricing", ROOT / "examples" / "pricing.yaml", "--output", "json", "-o", tmp_path / "ev",
        )  # fmt: skip
        ai = json.loads(traced.out)
        assert traced.code == 0 and ai["verdict"] == "pass", traced  # the served world's traces and token metric
        assert {c["kind"] for c in ai["checks"]} == {"trace", "ai_cost", "threshold"}
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "demo Prometheus stopped" in err
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/-/ready", timeout=2)
