"""``kind: rules_drift``: the drift between generated and running rules is a check, evidence in the packet.

Against a real Prometheus loading the rules ``slo.generate.rules`` writes (tests/rules_support.py): the
expected drift is the test's own edit of that document, named from the document, not from the code.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.sources.base import RunContext
from collector.sources.http import HttpConfig, HttpTransport
from collector.sources.rules_drift import RulesDriftSource
from collector.testing.promserver import free_port
from slo.generate.rules import dump_yaml, rules_document
from slo.results import CheckResult, Verdict
from slo.spec import Gate
from tests.rules_history import closed_form_gate as _gate
from tests.rules_support import prometheus_with_rules

AT = 1_700_000_000.0
SLO_GATE = _gate()


def _drift_gate(gate_id: str = SLO_GATE.id, **check: Any) -> Gate:
    """The closed-form SLO gate plus a rules_drift check (or a gate holding only the drift check)."""
    spec = SLO_GATE.model_dump(by_alias=True, exclude_none=True, mode="json")
    drift = {"id": "alerting-frozen", "kind": "rules_drift", **check}
    checks = [*spec["checks"], drift] if gate_id == SLO_GATE.id else [drift]
    return Gate.model_validate({**spec, "id": gate_id, "checks": checks})


def _evaluate(url: str, gates: list[Gate], **config: Any) -> tuple[list[CheckResult], int]:
    """Every gate's rules_drift checks through one source, as a run would; results and requests sent."""

    async def run() -> tuple[list[CheckResult], int]:
        source = RulesDriftSource(HttpTransport(HttpConfig(url=url, **config)), gates)
        found: list[CheckResult] = []
        try:
            for gate in gates:
                context = RunContext(gate=gate, at=AT, evaluated_at="2023-11-14T22:13:20Z", variables=gate.vars)
                drift_checks = [c for c in gate.checks if c.kind == "rules_drift"]
                found.extend([r async for r in source.evaluate(drift_checks, context)])
            return found, source.requests_sent
        finally:
            await source.aclose()

    return asyncio.run(run())


@pytest.mark.integration
def test_pass_when_the_server_runs_the_generated_rules(prometheus_binaries: None) -> None:
    gate = _drift_gate()
    document = rules_document([SLO_GATE])
    expected = sum(len(g["rules"]) for g in document["groups"])
    with prometheus_with_rules({"rules": dump_yaml(document)}) as (url, _):
        (found,), sent = _evaluate(url, [gate])
    assert found.verdict is Verdict.PASS, found.reason
    assert found.details is not None and found.details["drift"] == [] and found.details["expected_rules"] == expected
    query = found.queries[0]
    assert query.query == "GET /api/v1/rules" and re.fullmatch(r"[0-9a-f]{64}", query.response_sha256 or "")
    assert query.value == expected and sent == 1


@pytest.mark.integration
def test_an_edited_rule_fails_the_check_and_is_named(prometheus_binaries: None) -> None:
    document = rules_document([SLO_GATE])
    alerts = document["groups"][2]
    page = alerts["rules"][0]
    page["expr"] = page["expr"].replace("14.4", "20")  # someone loosened the page on the server
    labels = page["labels"]
    named = f"{alerts['name']}/{page['alert']}{{gatepack_check={labels['gatepack_check']},sloth_severity=page}}"
    # a second gate holds only the drift check and names the SLO gate: both answered from one request
    watcher = _drift_gate("alerting-watch", gates=[SLO_GATE.id])
    with prometheus_with_rules({"rules": dump_yaml(document)}) as (url, _):
        found, sent = _evaluate(url, [_drift_gate(), watcher])
    assert sent == 1
    for result in found:
        assert result.verdict is Verdict.FAIL, result.reason
        assert named in result.reason and "1 changed" in result.reason
        assert result.details is not None
        assert result.details["drift"] == [{"kind": "changed", "rule": named, "detail": "expression"}]
        assert result.value == 1


@pytest.mark.integration
def test_collect_records_the_drift_in_the_packet(prometheus_binaries: None, tmp_path: Path, gatepack: Any) -> None:
    spec = tmp_path / "gate.yaml"
    spec.write_text(yaml.safe_dump(_drift_gate().model_dump(by_alias=True, exclude_none=True, mode="json")))
    document = rules_document([SLO_GATE])
    removed = document["groups"][0]["rules"].pop(1)
    with prometheus_with_rules({"rules": dump_yaml(document)}) as (url, _):
        ran = gatepack("collect", spec, "-p", url, "--output", "json", "-o", tmp_path / "ev")
    packet = json.loads(ran.out)
    (check,) = [c for c in packet["checks"] if c["kind"] == "rules_drift"]
    assert check["verdict"] == "fail" and removed["record"] in check["reason"], check
    assert [d["kind"] for d in check["details"]["drift"]] == ["missing"]
    assert {"kind": "prometheus", "url": url, "headers": {}} in packet["backends"]


def test_backend_down_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    (found,), _ = _evaluate(url, [_drift_gate()], max_retries=0, timeout=2.0)
    assert found.verdict is Verdict.ERROR and "cannot read rules" in found.reason
    assert found.queries[0].fault == "connect"


@pytest.fixture
def no_rules_api() -> Iterator[str]:
    """A real HTTP server that is not Prometheus: every path is 404 (a remote-write receiver, say)."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"404 page not found\n")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_without_rules_api_is_no_data(no_rules_api: str) -> None:
    (found,), _ = _evaluate(no_rules_api, [_drift_gate()])
    assert found.verdict is Verdict.NO_DATA and "HTTP 404" in found.reason


def test_a_gate_not_in_the_run_is_an_error(no_rules_api: str) -> None:
    (found,), sent = _evaluate(no_rules_api, [_drift_gate(gates=["not-loaded"])])
    assert found.verdict is Verdict.ERROR and "not-loaded" in found.reason and sent == 0


def test_gates_view_and_collect_without_backend_name_what_to_pass(tmp_path: Path, gatepack: Any) -> None:
    spec = tmp_path / "gate.yaml"
    spec.write_text(yaml.safe_dump(_drift_gate().model_dump(by_alias=True, exclude_none=True, mode="json")))
    shown = gatepack("gates", "-s", spec, SLO_GATE.id)
    assert shown.code == 0 and "running rules match this gate" in shown.out, shown
    spec.write_text(yaml.safe_dump(_drift_gate("alerting-watch").model_dump(by_alias=True, mode="json")))
    ran = gatepack("collect", spec, "--output", "json", "-o", tmp_path / "ev")
    (check,) = [c for c in json.loads(ran.out)["checks"] if c["kind"] == "rules_drift"]
    assert check["verdict"] == "error" and "--prometheus" in check["reason"], check
