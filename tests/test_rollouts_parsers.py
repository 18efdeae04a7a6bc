"""Hypothesis properties of the two request parsers the rollout work added: the evaluate body and the upload.

Both must turn any input into a request/packet or a 4xx refusal, never another exception (a 5xx).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.server.evaluate import EvaluationRefused, parse_request
from collector.server.intake import Rejected
from collector.server.upload import unwrap

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=30)


@given(JSON, st.sampled_from(["argo", "flagger"]))
def test_any_body_is_a_request_or_a_400(body: Any, flavour: str) -> None:
    try:
        parse_request(body, flavour)
    except EvaluationRefused as exc:
        assert exc.status == 400 and "\n" not in exc.reason


@given(st.dictionaries(NAMES, VALUES, max_size=5))
def test_vars_come_through_unchanged(variables: dict[str, str]) -> None:
    assert parse_request({"vars": variables}, "argo").variables == variables
    flagger = {"metadata": {f"var.{k}": v for k, v in variables.items()}, "phase": "Progressing"}
    assert parse_request(flagger, "flagger").variables == variables


@pytest.mark.parametrize(
    "body",
    [{"vars": {"a": 1}}, {"subject": {"env": "prod"}}, {"subject": {"release": "../x"}}, {"var": {}}, [1]],
)
def test_wrong_bodies_are_refused(body: Any) -> None:
    with pytest.raises(EvaluationRefused):
        parse_request(body, "argo")


@given(st.binary(max_size=200))
def test_any_bytes_unwrap_or_are_rejected(data: bytes) -> None:
    try:
        packet, kept = unwrap(data)
    except Rejected as exc:
        assert 400 <= exc.status < 500
    else:
        assert (packet, kept) == (data, {})  # not an upload: passed on for the packet checks


@given(JSON)
def test_any_json_upload_unwraps_or_is_rejected(responses: Any) -> None:
    data = json.dumps({"packet": "{}", "responses": responses}).encode()
    try:
        unwrap(data)
    except Rejected as exc:
        assert 400 <= exc.status < 500


@given(st.binary(max_size=300))
def test_a_kept_response_round_trips(body: bytes) -> None:
    sha = hashlib.sha256(body).hexdigest()
    compressed = gzip.compress(body, mtime=0)
    upload = {"packet": '{"x": 1}', "responses": {sha: base64.b64encode(compressed).decode()}}
    assert unwrap(json.dumps(upload).encode()) == (b'{"x": 1}', {sha: compressed})
    wrong = {**upload, "responses": {sha: base64.b64encode(gzip.compress(body + b"!")).decode()}}
    with pytest.raises(Rejected):
        unwrap(json.dumps(wrong).encode())


def test_a_gzip_bomb_is_refused_without_expanding_it_all() -> None:
    from collector.server import upload

    bomb = gzip.compress(b"\0" * (upload.MAX_RESPONSE_BYTES + 1), compresslevel=9)
    body = {"packet": "{}", "responses": {"0" * 64: base64.b64encode(bomb).decode()}}
    with pytest.raises(Rejected) as caught:
        unwrap(json.dumps(body).encode())
    assert caught.value.status == 413


def gate_packet(*checks: tuple[str, Any, bool]) -> Any:
    """A sealed packet whose checks have the given verdicts; ``required=False`` makes a check advisory."""
    from slo.evaluate import result
    from slo.spec import ThresholdCheck
    from tests.helpers import sealed_packet

    stamp = "2026-01-01T00:00:00Z"
    results = [
        result(ThresholdCheck(id=i, kind="threshold", query="up", op=">", target=0, required=req), v, "r", stamp)
        for i, v, req in checks
    ]
    return sealed_packet(results, time=stamp)


def test_decisions_and_statuses() -> None:
    from collector.server.evaluate import decision_for, status_for
    from slo.results import Verdict

    passing = gate_packet(("a", Verdict.PASS, True))
    warning = gate_packet(("a", Verdict.PASS, True), ("b", Verdict.WARN, True))
    failing = gate_packet(("a", Verdict.FAIL, True))
    advisory_error = gate_packet(("a", Verdict.PASS, True), ("b", Verdict.ERROR, False))
    assert (warning.verdict, advisory_error.verdict) == (Verdict.WARN, Verdict.WARN)  # as summarize decides
    assert [decision_for(p) for p in (passing, warning, failing, advisory_error)] == ["pass", "pass", "fail", "error"]
    assert decision_for(warning, "warn") == "fail"
    assert [status_for(d, "argo") for d in ("pass", "fail", "error")] == [200, 200, 200]
    assert [status_for(d, "flagger") for d in ("pass", "fail", "error")] == [200, 412, 424]
