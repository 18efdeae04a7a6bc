"""Property-based fuzzing of every endpoint in the OpenAPI document (schemathesis) against a real server:
whatever it sends, the answer is never a 5xx; plus Hypothesis properties of the bearer-header parser.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.server.auth import bearer, is_loopback, matches
from collector.server.openapi import openapi_document
from tests.helpers import make_packet
from tests.serverproc import READ, WRITE, Served, serving

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with serving(tmp / "fuzz.db", tmp, {"GATEPACK_WRITE_TOKEN": WRITE, "GATEPACK_READ_TOKEN": READ}) as served:
        for minute in range(3):  # something to find, so lookups reach the store and the diff code
            data = make_packet(gate="g", minute=minute)
            httpx.post(f"{served.url}/api/v1/packets", content=data, headers={"Authorization": f"Bearer {WRITE}"})
        yield served
        metrics = httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {READ}"}).text
        answered = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("gatepack_http_requests_total{")
        )
        assert answered >= 30, f"the fuzzer sent only {answered} requests"  # it really reached the server


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_endpoint_answers_5xx(case: schemathesis.Case, fuzzed: Served) -> None:
    token = WRITE if case.method.upper() == "POST" else READ
    response = case.call(base_url=fuzzed.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
    )


@given(st.text(max_size=80))
def test_bearer_parses_only_bearer_headers(header: str) -> None:
    token = bearer(header)
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        assert token == rest.strip().encode("utf-8", "surrogateescape")
    else:
        assert token is None


@given(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=40))
def test_matches_is_equality(given_token: bytes, expected: bytes) -> None:
    assert matches(given_token, expected) is (given_token == expected)
    assert matches(None, expected) is False and matches(given_token, None) is False


@given(st.ip_addresses())
def test_loopback_is_exactly_the_loopback_ranges(address: object) -> None:
    assert is_loopback(str(address)) is address.is_loopback  # type: ignore[attr-defined]
