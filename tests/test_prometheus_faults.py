"""Backend faults become a check's error or no_data state with a reason; the rest of the gate goes on."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time

import pytest

from collector.run import evaluate_gate
from collector.sources.http import parse_retry_after
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.testing.promserver import free_port
from slo.loader import load_gates
from slo.results import Verdict
from tests.faulty_backend import FaultyBackend

CHECKS = ["ok", "flaky", "ratelimit", "ratelimit_long", "slow", "garbage", "huge", "bad", "echo"]
GATE = "apiVersion: gatepack/v1\nkind: Gate\nid: faults\ntitle: Faults\nchecks:\n" + "".join(
    f"  - {{id: {name}, kind: threshold, query: 'sum({name}_metric)', op: '>', target: 0}}\n" for name in CHECKS
)
SECRET = "s3cr3t-token-value"


def run(url: str, **config: object):
    gate = load_gates(GATE)[0]
    settings = {
        "timeout": 0.5,
        "deadline": 20.0,
        "max_retries": 3,
        "backoff_base": 0.05,
        "max_response_bytes": 100_000,
        **config,
    }

    async def go():
        async with PrometheusClient(PrometheusConfig(url=url, **settings)) as client:  # type: ignore[arg-type]
            return await evaluate_gate(gate, at=1767225600, sources=[PrometheusSource(client)])

    return asyncio.run(go())


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


def test_every_fault_has_a_state_and_a_reason(faulty, caplog):
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    result = run(faulty.url, bearer_token=SECRET)
    elapsed = time.monotonic() - started
    checks = {r.id: r for r in result.results}

    assert checks["ok"].verdict is Verdict.PASS and checks["ok"].value == 1
    assert checks["ok"].queries[0].warnings == ["fake warning"]

    flaky = checks["flaky"]
    assert flaky.verdict is Verdict.PASS and flaky.value == 3 and flaky.queries[0].attempts == 3

    limited = checks["ratelimit"]
    assert limited.verdict is Verdict.PASS and limited.value == 4 and limited.queries[0].attempts == 2
    assert elapsed >= 1.0  # Retry-After: 1 was honoured

    long_limit = checks["ratelimit_long"]
    assert long_limit.verdict is Verdict.ERROR
    assert "429" in long_limit.reason and "deadline" in long_limit.reason

    slow = checks["slow"]
    assert slow.verdict is Verdict.ERROR and "timed out" in slow.reason and slow.queries[0].attempts == 1

    assert checks["garbage"].verdict is Verdict.ERROR and "non-JSON" in checks["garbage"].reason
    assert checks["huge"].verdict is Verdict.ERROR and "limit" in checks["huge"].reason

    bad = checks["bad"]
    assert bad.verdict is Verdict.ERROR and "bad_data" in bad.reason and "parse error" in bad.reason
    assert bad.queries[0].attempts == 1 and faulty.hits["sum(bad_metric)"] == 1  # 400 is never retried

    echo = checks["echo"]
    assert echo.verdict is Verdict.ERROR and "HTTP 500" in echo.reason
    assert SECRET not in echo.reason and "***" in echo.reason
    assert all(h.get("Authorization") == f"Bearer {SECRET}" for h in faulty.seen_headers)
    assert SECRET not in caplog.text
    assert result.summary.verdict is Verdict.FAIL
    assert not result.backend_unreachable


def test_connection_refused_is_unreachable():
    result = run(f"http://127.0.0.1:{free_port()}", max_retries=1)
    assert all(r.verdict is Verdict.ERROR for r in result.results)
    assert "cannot connect" in result.results[0].reason
    assert result.backend_unreachable


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 01 Jan 2026 00:00:10 GMT", now=1767225600) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None


def test_credentials_never_reach_evidence_or_output(faulty, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    password = "hunter2-password"
    env = {"PATH": "/usr/bin:/bin", "GATEPACK_PROMETHEUS_BEARER_TOKEN": SECRET}
    url = faulty.url.replace("http://", f"http://alice:{password}@")
    for extra_env, target in (({"GATEPACK_PROMETHEUS_BEARER_TOKEN": SECRET}, faulty.url), ({}, url)):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "collector.cli",
                "collect",
                str(spec),
                "-p",
                target,
                "--out",
                str(tmp_path / "ev"),
                "--timeout",
                "0.5",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra_env} if extra_env else {"PATH": env["PATH"]},
        )
        assert result.returncode == 1, result.stderr
        for text in (result.stdout, result.stderr, *(p.read_text() for p in (tmp_path / "ev").glob("*.json"))):
            assert SECRET not in text and password not in text
        assert "Traceback" not in result.stderr
        packet = json.loads(result.stdout)
        assert "alice" not in packet["backends"][0]["url"]
