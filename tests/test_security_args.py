"""Bad arguments exit 2 with one clear line and no traceback; bad Retry-After values fall back to backoff.

Each case is an input that was accepted (or crashed) before: ``--at 1e20`` overflowed in RFC 3339
formatting, ``--at nan`` became the time of every query, ``--timeout -1`` made every request time out
at once ("no backend reachable" against a healthy server), ``--skip-first nan`` skipped nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.cli.app import main
from collector.cli.ingest import parse_skip
from collector.errors import UsageError
from collector.run import evaluate_gate
from collector.sources.http import parse_retry_after
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.timeutil import TimeError, parse_time
from slo.errors import InputError
from slo.loader import load_gates
from slo.results import Verdict
from tests.faulty_backend import FaultyBackend

GATE = """apiVersion: gatepack/v1
kind: Gate
id: args
title: Arguments
checks:
  - {id: ok, kind: threshold, query: 'sum(ok_metric)', op: '>', target: 0}
"""
HEY = "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset\n" + "".join(
    f"0.0{i % 9 + 1},0,0,0,0,0,200,{i / 100:.2f}\n" for i in range(200)
)
LOADTEST_GATE = """apiVersion: gatepack/v1
kind: Gate
id: perf
title: Perf
checks:
  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<1000"}
"""


@dataclass
class Ran:
    code: int
    stderr: str
    stdout: str


@pytest.fixture()
def gatepack(capsys, monkeypatch) -> Callable[..., Ran]:
    """The real entry point in-process: any exception other than SystemExit fails the test (a traceback)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name in ("GATEPACK_PROMETHEUS_URL", "GATEPACK_PROMETHEUS_BEARER_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def call(*args: object) -> Ran:
        monkeypatch.setattr(sys, "argv", ["gatepack", *map(str, args)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        return Ran(int(exited.value.code or 0), " ".join(captured.err.split()), captured.out)

    return call


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("1e20", "more than a day in the future"),
        ("nan", "not a finite time"),
        ("inf", "not a finite time"),
        ("-inf", "not a finite time"),
        ("-1", "before 1970"),
        ("two days from now", "more than a day in the future"),
        ("2999-01-01T00:00:00Z", "more than a day in the future"),
        ("2026-13-01T00:00:00Z", "RFC 3339"),
    ],
)
def test_bad_at_exits_2(gatepack, tmp_path, faulty, at, says):
    if at == "two days from now":  # computed here: parameters must be the same in every xdist worker
        at = str(int(time.time()) + 2 * 86400)
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    ran = gatepack("collect", spec, "-p", faulty.url, "--at", at, "--out", tmp_path / "ev")
    assert ran.code == 2, ran.stderr
    assert "--at" in ran.stderr and says in ran.stderr
    assert not (tmp_path / "ev").exists()


def test_at_within_a_day_is_accepted():
    now = 1_800_000_000.0
    assert parse_time(str(now + 3600), now=now) == now + 3600
    assert parse_time("2026-01-01T00:00:00Z", now=now) == 1767225600.0
    with pytest.raises(TimeError):
        parse_time(str(now + 86401), now=now)


@given(st.text(max_size=40))
def test_parse_time_never_raises_anything_else(text):
    try:
        value = parse_time(text, now=1_800_000_000.0)
    except InputError:
        return
    assert 0 <= value <= 1_800_000_000.0 + 86400


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-p", "http://[::1"], "--prometheus"),
        (["-p", "http://127.0.0.1:99999"], "--prometheus"),
        (["-p", "http://:8080"], "--prometheus"),
        (["-p", "ftp://example"], "--prometheus"),
        (["--timeout", "-1"], "--timeout"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "inf"], "--timeout"),
        (["--deadline", "nan"], "--deadline"),
        (["--deadline", "-5"], "--deadline"),
    ],
)
def test_bad_backend_flags_exit_2(gatepack, tmp_path, faulty, args, says):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    base = ["-p", faulty.url] if "-p" not in args else []
    for command in (["collect", spec, "--out", tmp_path / "ev"], ["validate", spec]):
        ran = gatepack(*command, *base, *args)
        assert ran.code == 2, (command, ran.stderr)
        assert says in ran.stderr and "no backend" not in ran.stderr
    assert not (tmp_path / "ev").exists()


def test_healthy_server_with_sane_timeout_passes(gatepack, tmp_path, faulty):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    ran = gatepack("collect", spec, "-p", faulty.url, "--timeout", "5", "--out", tmp_path / "ev", "--format", "json")
    assert ran.code == 0, ran.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "-1", "1e400"])
def test_bad_skip_first_exits_2(gatepack, tmp_path, value):
    spec = tmp_path / "gate.yaml"
    spec.write_text(LOADTEST_GATE)
    results = tmp_path / "hey.csv"
    results.write_text(HEY)
    ran = gatepack("ingest", results, "--spec", spec, "-g", "perf", "--skip-first", value, "--out", tmp_path / "ev")
    assert ran.code == 2, ran.stderr
    assert "--skip-first" in ran.stderr


@given(st.text(max_size=20))
def test_parse_skip_is_finite_or_a_usage_error(text):
    try:
        value = parse_skip(text, "--skip-first")
    except UsageError:
        return
    assert 0 <= value < float("inf")


def test_retry_after_forms_that_mean_nothing():
    for value in ("-5", "nan", "NaN", "inf", "-inf", "", "soon", "1e400"):
        assert parse_retry_after(value) is None, value


def test_negative_or_nan_retry_after_falls_back_to_backoff(faulty):
    """Before: Retry-After -5 / nan was taken as "retry now", 4 attempts in 10 ms. Now exponential backoff."""
    checks = "".join(
        f"  - {{id: {n}, kind: threshold, query: 'sum({n}_metric)', op: '>', target: 0}}\n"
        for n in ("retryneg", "retrynan")
    )
    gate = load_gates(GATE.split("checks:")[0] + "checks:\n" + checks)[0]
    base = 0.2

    async def go():
        config = PrometheusConfig(url=faulty.url, timeout=2, deadline=30, max_retries=3, backoff_base=base)
        async with PrometheusClient(config) as client:
            return await evaluate_gate(gate, at=1767225600, sources=[PrometheusSource(client)])

    started = time.monotonic()
    run = asyncio.run(go())
    elapsed = time.monotonic() - started
    for result in run.results:
        assert result.verdict is Verdict.PASS and result.value == 6
        assert result.queries[0].attempts == 3
    # two backoffs of at least base/2 and base (jitter in [ceiling/2, ceiling]); they run concurrently
    assert elapsed >= base / 2 + base
