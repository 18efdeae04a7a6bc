"""The evidence API over real HTTP: a real ``gatepack serve`` (uvicorn) and a real SQLite store.

Expected answers come from the test's own packets (their digests computed by the test's sealing code)
and from reading the store file directly, never from what the server said a moment before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from collector.server.openapi import openapi_text
from slo.dsse import envelope_for_packet
from slo.evidence import canonical_bytes
from slo.results import Verdict
from tests.helpers import make_packet
from tests.serverproc import READ, ROOT, WRITE, Served, serving


def digest_of(data: bytes) -> str:
    document = json.loads(data)
    if "payload" in document:  # an envelope: the statement's predicate is the packet
        import base64

        document = json.loads(base64.b64decode(document["payload"]))["predicate"]
    return document["digest"]["value"]


def stored_digests(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT digest FROM gatepack_packets")}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ed25519PrivateKey, Path]:
    key = Ed25519PrivateKey.generate()
    pub = tmp_path_factory.mktemp("keys") / "ci.pub"
    pub.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return key, pub


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, signer: tuple[Ed25519PrivateKey, Path]
) -> Iterator[tuple[Served, Path]]:
    tmp = tmp_path_factory.mktemp("server")
    db = tmp / "evidence.db"
    env = {"GATEPACK_WRITE_TOKEN": WRITE, "GATEPACK_READ_TOKEN": READ}
    with serving(db, tmp, env, ("--key", str(signer[1]), "--max-body", "65536")) as served:
        yield served, db


def post(served: Served, data: bytes, token: str | None = WRITE, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{served.url}/api/v1/packets", content=data, headers=headers, timeout=10)


def get(served: Served, path: str, token: str | None = READ, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{served.url}{path}", params=params, headers=headers, timeout=10)


def test_post_then_read_back(server: tuple[Served, Path]) -> None:
    served, db = server
    data = make_packet(gate="checkout", env="prod", release="v7", minute=1)
    digest = digest_of(data)
    first = post(served, data)
    assert first.status_code == 201, first.text
    assert first.json()["digest"] == digest and first.json()["new"] is True
    assert digest in stored_digests(db)
    again = post(served, data)
    assert again.status_code == 200 and again.json()["new"] is False
    fetched = get(served, f"/api/v1/packets/{digest}")
    assert fetched.status_code == 200 and fetched.json()["digest"]["value"] == digest
    assert get(served, f"/api/v1/packets/{digest[:10]}").json()["digest"]["value"] == digest


def test_filters_and_latest(server: tuple[Served, Path]) -> None:
    served, _ = server
    made = {
        (env, release, minute): make_packet(gate="search", env=env, release=release, minute=minute, verdict=verdict)
        for env, release, minute, verdict in [
            ("prod", "v1", 10, Verdict.PASS),
            ("prod", "v2", 20, Verdict.FAIL),
            ("staging", "v2", 30, Verdict.PASS),
        ]
    }
    for data in made.values():
        assert post(served, data).status_code in (200, 201)
    prod = get(served, "/api/v1/packets", gate="search", env="prod").json()["packets"]
    assert [p["digest"] for p in prod] == [digest_of(made["prod", "v2", 20]), digest_of(made["prod", "v1", 10])]
    failing = get(served, "/api/v1/packets", gate="search", verdict="fail").json()["packets"]
    assert [p["digest"] for p in failing] == [digest_of(made["prod", "v2", 20])]
    v2 = get(served, "/api/v1/packets", gate="search", release="v2").json()["packets"]
    assert {p["digest"] for p in v2} == {digest_of(made["prod", "v2", 20]), digest_of(made["staging", "v2", 30])}
    latest = get(served, "/api/v1/gates/search/latest").json()
    assert latest["digest"]["value"] == digest_of(made["staging", "v2", 30])
    latest_prod = get(served, "/api/v1/gates/search/latest", env="prod").json()
    assert latest_prod["digest"]["value"] == digest_of(made["prod", "v2", 20])
    diff = get(served, "/api/v1/diff", a=digest_of(made["prod", "v1", 10]), b=digest_of(made["prod", "v2", 20]))
    assert diff.status_code == 200
    body = diff.json()
    assert body["verdict_before"] == "pass" and body["verdict_after"] == "fail"
    assert get(served, "/api/v1/gates/nope/latest").status_code == 404


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef", READ])
def test_writes_need_the_write_token(server: tuple[Served, Path], token: str | None) -> None:
    served, db = server
    data = make_packet(gate="tokens", minute=2)
    answer = post(served, data, token=token or None)
    assert answer.status_code == 401
    assert digest_of(data) not in stored_digests(db)
    assert WRITE not in answer.text and READ not in answer.text


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef", WRITE])
def test_reads_need_the_read_token(server: tuple[Served, Path], token: str | None) -> None:
    served, _ = server
    for path in ("/api/v1/packets", "/api/v1/gates/checkout/latest", "/", "/metrics"):
        assert get(served, path, token=token).status_code == 401, path


def test_tampered_packets_are_refused_and_not_stored(
    server: tuple[Served, Path], signer: tuple[Ed25519PrivateKey, Path]
) -> None:
    served, db = server
    data = make_packet(gate="tamper", minute=3)
    document = json.loads(data)
    document["verdict"] = "fail"  # an edit the digest no longer covers
    edited = canonical_bytes(document)  # re-serialised canonically: only the digest can tell
    answer = post(served, edited)
    assert answer.status_code == 422 and "digest" in answer.json()["error"]
    # a signature by a key the server does not trust
    stranger = envelope_for_packet(make_packet(gate="tamper", minute=4), Ed25519PrivateKey.generate())
    assert post(served, stranger).status_code == 422
    # a trusted envelope whose signature bytes were swapped for another's
    key, _ = signer
    good = json.loads(envelope_for_packet(make_packet(gate="tamper", minute=5), key))
    other = json.loads(envelope_for_packet(make_packet(gate="tamper", minute=6), key))
    good["signatures"] = other["signatures"]
    swapped = post(served, json.dumps(good).encode())
    assert swapped.status_code == 422 and "signature" in swapped.json()["error"]
    assert not any(d for d in stored_digests(db) if d in {digest_of(edited), digest_of(stranger)})
    with sqlite3.connect(db) as connection:
        gates = {row[0] for row in connection.execute("SELECT gate FROM gatepack_packets")}
    assert "tamper" not in gates
    # the same signed packet, untampered, is stored and marked signed
    fine = envelope_for_packet(make_packet(gate="signed", minute=7), key)
    answer = post(served, fine)
    assert answer.status_code == 201 and answer.json()["signature"] == "valid"
    listed = get(served, "/api/v1/packets", gate="signed").json()["packets"]
    assert listed[0]["signed"] is True
    page = get(served, f"/packets/{listed[0]['digest']}").text
    assert "signature valid" in page and listed[0]["key_id"] in page


def test_schema_invalid_json_and_oversized(server: tuple[Served, Path]) -> None:
    served, db = server
    before = stored_digests(db)
    document = json.loads(make_packet(gate="schema", minute=8))
    document["checks"][0]["verdict"] = "maybe"  # not a verdict the schema allows
    answer = post(served, json.dumps(document).encode())
    assert answer.status_code == 422 and "schema" in answer.json()["error"]
    assert post(served, b"{not json").status_code == 400
    assert post(served, b"[1, 2]").status_code == 400
    assert post(served, b"\xff\xfe").status_code == 400
    assert post(served, b"[" * 100_000 + b"]" * 100_000).status_code == 413  # over --max-body 65536
    deep = b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert post(served, deep).status_code == 400
    nested = json.loads(make_packet(gate="schema", minute=9))
    inner: dict = {}
    nested["checks"][0]["details"] = inner
    for _ in range(600):  # deep but parseable: the schema check must not fall over either
        inner["x"] = {}
        inner = inner["x"]
    assert post(served, json.dumps(nested).encode()).status_code in (400, 422)
    big = b'{"pad": "' + b"x" * 70000 + b'"}'
    assert post(served, big).status_code == 413
    chunked = httpx.post(
        f"{served.url}/api/v1/packets",
        content=iter([b"{", b" " * 40000, b" " * 40000, b"}"]),  # no Content-Length: streamed, cut at the limit
        headers={"Authorization": f"Bearer {WRITE}"},
        timeout=10,
    )
    assert chunked.status_code == 413
    assert stored_digests(db) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/packets/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/packets/../../etc/passwd",
        "/api/v1/packets/%00",
        "/api/v1/packets/ZZZZZZZZZZ",
        "/api/v1/gates/..%2Fx/latest",
        "/api/v1/gates/%2e%2e/latest",
        "/packets/..%2F..%2Fevidence.db",
    ],
)
def test_path_traversal_in_ids(server: tuple[Served, Path], path: str) -> None:
    served, _ = server
    answer = httpx.get(served.url + path, headers={"Authorization": f"Bearer {READ}"}, timeout=10)
    assert answer.status_code in (400, 404)
    assert "root:" not in answer.text and "SQLite" not in answer.text


def test_bad_query_parameters(server: tuple[Served, Path]) -> None:
    served, _ = server
    assert get(served, "/api/v1/packets", verdict="maybe").status_code == 400
    assert get(served, "/api/v1/packets", limit="-1").status_code == 400
    assert get(served, "/api/v1/packets", gate="x' OR 1=1 --").status_code == 400
    assert get(served, "/api/v1/diff", a="00000000").status_code == 400
    assert get(served, "/api/v1/diff", a="00000000", b="11111111").status_code == 404


def test_metrics_count_requests_stores_and_rejections(server: tuple[Served, Path]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    served, db = server

    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = get(served, "/metrics").text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    before = samples()
    stored_before = len(stored_digests(db))
    post(served, make_packet(gate="metrics", minute=40))
    post(served, make_packet(gate="metrics", minute=41))
    document = json.loads(make_packet(gate="metrics", minute=42))
    document["verdict"] = "fail"
    post(served, canonical_bytes(document))
    after = samples()
    assert len(stored_digests(db)) - stored_before == 2

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("gatepack_packets_stored_total") == 2
    assert delta("gatepack_packets_rejected_total", reason="digest") == 1
    assert delta("gatepack_http_requests_total", method="POST", route="/api/v1/packets", status="201") == 2
    assert delta("gatepack_http_requests_total", method="POST", route="/api/v1/packets", status="422") == 1
    assert delta("gatepack_http_request_duration_seconds_count", method="POST", route="/api/v1/packets") == 3


def test_tokens_never_logged(server: tuple[Served, Path]) -> None:
    served, _ = server
    post(served, b"{}", token="wrong-token-0123456789abcdef")
    log = served.log.read_text()
    assert WRITE not in log and READ not in log and "wrong-token" not in log


def test_openapi_is_served_and_kept_in_the_repository(server: tuple[Served, Path]) -> None:
    served, _ = server
    kept = (ROOT / "docs" / "openapi.json").read_text()
    assert kept == openapi_text(), "docs/openapi.json drifted: regenerate it from collector.server.openapi"
    assert get(served, "/api/v1/openapi.json", token=None).json() == json.loads(kept)


def test_every_api_route_is_documented() -> None:
    from starlette.routing import Route

    from collector.server.app import Api, ServerConfig, routes
    from collector.server.openapi import openapi_document

    api = Api(ServerConfig(store=None))  # type: ignore[arg-type]  # routes only
    served = {
        (route.path, method.lower())
        for route in routes(api)
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(path, method) for path, ops in openapi_document()["paths"].items() for method in ops}
    assert served == documented


def test_without_a_read_token_reads_are_open_on_loopback_and_writes_disabled(tmp_path: Path) -> None:
    with serving(tmp_path / "open.db", tmp_path) as served:
        assert get(served, "/api/v1/packets", token=None).json() == {"packets": []}
        answer = post(served, make_packet(gate="open"), token="anything-0123456789abcdef")
        assert answer.status_code == 403
    assert stored_digests(tmp_path / "open.db") == set()


@pytest.mark.parametrize("host", ["10.1.2.3", "192.0.2.7", "2001:db8::1", None])
def test_remote_clients_are_refused_without_a_read_token(host: str | None) -> None:
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from collector.server.app import Api, ServerConfig

    api = Api(ServerConfig(store=None))  # type: ignore[arg-type]  # access checks only
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": (host, 5000) if host else None}
    with pytest.raises(HTTPException) as raised:
        api.may_read(Request(scope))
    assert raised.value.status_code == 401
    api.may_read(Request({**scope, "client": ("127.0.0.1", 5000)}))  # loopback passes


def test_binding_beyond_loopback_needs_a_read_token(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPACK_")}
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "serve", "--store", str(tmp_path / "x.db"), "--host", "0.0.0.0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "GATEPACK_READ_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_token_files_and_bad_tokens(tmp_path: Path) -> None:
    from collector.errors import UsageError
    from collector.server.auth import load_tokens

    secret = tmp_path / "write.token"
    secret.write_text(WRITE + "\n")
    tokens = load_tokens({"GATEPACK_WRITE_TOKEN_FILE": str(secret)})
    assert tokens.write == WRITE.encode() and tokens.read is None
    assert WRITE not in repr(tokens)
    for environ in (
        {"GATEPACK_READ_TOKEN": "short"},
        {"GATEPACK_READ_TOKEN": "   "},
        {"GATEPACK_READ_TOKEN": READ, "GATEPACK_READ_TOKEN_FILE": str(secret)},
        {"GATEPACK_WRITE_TOKEN_FILE": str(tmp_path / "missing")},
    ):
        with pytest.raises(UsageError) as raised:
            load_tokens(environ)
        assert READ not in str(raised.value) and WRITE not in str(raised.value)


def test_a_1_0_0_packet_is_still_accepted_and_shown(server: tuple[Served, Path]) -> None:
    """Packets written before the query table are held to the 1.0.0 schema, stored and rendered in full."""
    served, db = server
    data = (ROOT / "tests" / "fixtures" / "packets-1.0.0" / "golden-packet.json").read_bytes()
    answer = post(served, data)
    assert answer.status_code == 201, answer.text
    digest = json.loads(data)["digest"]["value"]
    assert digest in stored_digests(db)
    page = get(served, f"/packets/{digest}").text
    assert page.count('<code class="query">') == 18  # every outcome of the three checks, spelled out
