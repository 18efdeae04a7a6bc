"""What a ``collect`` keeps in memory and loads (issue 16: peak RSS at 1000 SLOs).

Measured on the benchmark's 1000-SLO gate: cryptography (signing), httpx's own command-line client (real
click, rich.syntax, pygments) and the OpenTelemetry SDK (psutil, metrics) were loaded by every run and
never used unless asked for; the grouped answers were held by ``asyncio.gather``'s future until every check
was decided; each outcome held its own decoded copy of its series' labels. These tests pin each of those
on a real Prometheus.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.signing import signing_key_from, write_keypair
from collector.signing_env import KEY_ENV, KEY_FILE_ENV, asks_for_signing
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig, QueryResponse
from collector.sources.prometheus.grouping import GroupingClient
from collector.testing.openmetrics import Family, Series

END = 1_767_225_600  # 2026-01-01T00:00:00Z
SERVICES = [f"svc-{i:02d}" for i in range(12)]
ROOT = Path(__file__).resolve().parent.parent


def families() -> list[Family]:
    stamps = np.arange(END - 3 * 3600, END + 1, 60, dtype=np.float64)
    family = Family("footprint_requests", "counter")
    for index, service in enumerate(SERVICES):
        values = (stamps - stamps[0]) * (1 + index)
        family.series.append(Series("footprint_requests_total", {"service": service}, stamps, values))
    return [family]


@pytest.fixture(scope="module")
def url(prometheus_pool) -> str:
    return prometheus_pool.get("footprint", families).url


def query(service: str, window: str) -> str:
    return f'sum(increase(footprint_requests_total{{service="{service}"}}[{window}]))'


GATE = "\n".join(
    ["apiVersion: gatepack/v1", "kind: Gate", "id: footprint", "title: Footprint", "checks:"]
    + [
        f"  - {{id: {s}, kind: threshold, query: 'sum(increase(footprint_requests_total{{service=\"{s}\"}}[1h]))', "
        "op: '>', target: 0}"
        for s in SERVICES
    ]
)

PROBE = """
import sys
from collector.cli.app import main
sys.argv = ["gatepack", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code
unwanted = ["cryptography", "pygments", "click", "opentelemetry.sdk", "psutil"]
print("LOADED", [m for m in unwanted if m in sys.modules], "EXIT", code)
"""


@pytest.mark.integration
def test_collect_without_a_key_loads_no_signing_no_httpx_cli_and_no_tracing_sdk(url, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {KEY_ENV, KEY_FILE_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT"}}
    args = [str(spec), "-p", url, "--at", str(END), "--out", str(tmp_path / "out"), "--no-context", "-q"]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "collect", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert "LOADED [] EXIT 0" in done.stdout, done.stdout + done.stderr
    (packet,) = (tmp_path / "out").glob("*.json")
    document = json.loads(packet.read_bytes())
    assert [c["verdict"] for c in document["checks"]] == ["pass"] * len(SERVICES)

    key = tmp_path / "key.pem"
    write_keypair(key)
    signed = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            "collect",
            *args[:-3],
            str(tmp_path / "signed"),
            "--no-context",
            "--sign",
            str(key),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert "'cryptography'" in signed.stdout and "EXIT 0" in signed.stdout, signed.stdout + signed.stderr
    assert list((tmp_path / "signed").glob("*.intoto.json")) or list((tmp_path / "signed").glob("*.json"))


@given(
    option=st.booleans(),
    text=st.sampled_from([None, "", "PEM"]),
    path=st.sampled_from([None, "", "key.pem"]),
)
def test_asking_for_signing_is_decided_as_signing_key_from_decides(option, text, path):
    """Whenever the cheap check says no, ``signing_key_from`` (which would raise on a bad key) returns None."""
    env = {k: v for k, v in ((KEY_ENV, text), (KEY_FILE_ENV, path)) if v is not None}
    flag = Path("key.pem") if option else None
    asked = asks_for_signing(flag, env)
    assert asked == (option or bool(text) or bool(path))
    if not asked:
        assert signing_key_from(flag, env) is None


def _alive(texts: set[str]) -> list[QueryResponse]:
    """Whole answers (every series) to these grouped texts still reachable; members hold one series each.

    Only this test's texts are counted: other tests' objects may be alive in the same process.
    """
    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, QueryResponse) and o.query in texts and isinstance(o.result, list) and len(o.result) > 1
    ]


@pytest.mark.integration
def test_grouped_answers_are_let_go_as_soon_as_their_members_are_read(url):
    """After ``answer_all`` returns, and before the task yields again, no grouped answer is still held."""
    queries = [query(s, w) for w in ("5m", "1h") for s in SERVICES]

    async def run() -> tuple[list[QueryResponse], int, int]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            grouper = GroupingClient(client, float(END))
            grouper.add(queries)
            texts = {group.text for group in grouper.plan.values()}
            answers = await grouper.answer_all(queries)
            alive = len(_alive(texts))  # no await between: the handle that resumed this task is still live
            return answers, alive, client.requests_sent

    answers, alive, sent = asyncio.run(run())
    assert sent == 2  # one grouped query per window: the answers really came from grouped responses
    assert alive == 0
    by_service = {a.selected["service"]: a for a in answers if a.selected}
    assert len(by_service) == len(SERVICES)
    # members with the same labels share one labels dict, equal to what the backend sent
    for service in SERVICES:
        mine = [a.selected for a in answers if a.selected and a.selected["service"] == service]
        assert len(mine) == 2 and mine[0] is mine[1] and mine[0] == {"service": service}
        assert all(a.result[0]["metric"] == {"service": service} for a in answers if a.selected is mine[0])
