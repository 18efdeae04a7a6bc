"""Credentials: validated when loaded, and never in a packet, stdout, stderr or a log, in any form.

The hostile server (tests/faulty_backend.py, ``echoforms``) quotes the Authorization header back in
the shapes careless proxies and HTTP libraries use: raw, ``repr`` of bytes, URL-encoded, JSON-escaped
and, for Basic auth, decoded to ``user:password``.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sources.credentials import CredentialError, check_secret, load_credentials, parse_headers
from collector.sources.redact import MASK, RedactingFilter, Redactor, secret_forms
from tests.faulty_backend import FaultyBackend

TOKEN = "tok-3f9a1c7e5b2d4f60"
PASSWORD = "pw-Zq8!x/y+z=w%41"
GATE = """apiVersion: gatepack/v1
kind: Gate
id: sec
title: Security
checks:
  - {id: echo, kind: threshold, query: 'sum(echoforms_metric)', op: '>', target: 0}
  - {id: ok, kind: threshold, query: 'sum(ok_metric)', op: '>', target: 0}
"""


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


def gatepack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("SECRETPART1\nSECRETPART2\n", "line break after line 1"),
        ("SECRETPART1\rSECRETPART2", "line break"),
        ("SECRET\x00PART", "control character"),
        ("SECRET\tPART", "control character"),
        ("SECRETPÄRT", "non-ASCII"),
        ("SECRET PART", "space"),
    ],
)
def test_bad_token_file_exits_2_without_the_secret(tmp_path, faulty, content, fragment):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    token_file = tmp_path / "token"
    token_file.write_text(content, encoding="utf-8")
    result = gatepack(
        "collect", str(spec), "-p", faulty.url, "--bearer-token-file", str(token_file), "--out", str(tmp_path / "ev")
    )
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and str(token_file) in result.stderr
    assert "Traceback" not in result.stderr
    for text in (result.stdout, result.stderr):
        assert "SECRET" not in text and "PART" not in text
    assert not (tmp_path / "ev").exists()  # refused before any request or packet


def test_bad_token_from_the_environment_exits_2(tmp_path, faulty):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    result = gatepack(
        "collect", str(spec), "-p", faulty.url, env={"GATEPACK_PROMETHEUS_BEARER_TOKEN": "SECRETPART1\nSECRETPART2"}
    )
    assert result.returncode == 2 and "GATEPACK_PROMETHEUS_BEARER_TOKEN" in result.stderr
    assert "SECRETPART" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_credential_loader_rejects_by_position_only(tmp_path):
    token = tmp_path / "t"
    token.write_bytes(b"\xff\xfeabc")
    with pytest.raises(CredentialError, match="not UTF-8"):
        load_credentials({}, bearer_token_file=token)
    with pytest.raises(CredentialError, match="not a regular file"):
        load_credentials({}, bearer_token_file=tmp_path)
    with pytest.raises(CredentialError, match=r"':'"):
        load_credentials({"GATEPACK_PROMETHEUS_PASSWORD": "x"}, username="a:b")
    with pytest.raises(CredentialError) as bad_header:
        parse_headers(["Authorization: Bearer SECRET\x1bPART"])
    assert "SECRET" not in str(bad_header.value)
    with pytest.raises(CredentialError) as no_colon:
        parse_headers(["Bearer SECRETPART"])
    assert "SECRET" not in str(no_colon.value)
    # a password may hold any printable character (basic auth is base64-encoded), a token may not
    assert load_credentials({"GATEPACK_PROMETHEUS_PASSWORD": "pä ss"}, username="ü").basic_auth == ("ü", "pä ss")


@pytest.mark.parametrize("auth", ["bearer", "basic", "url"])
def test_no_form_of_a_secret_leaks_anywhere(tmp_path, faulty, auth):
    """Packet, stdout (json and table), stderr and JUnit/Markdown: no raw, repr, URL, JSON or base64 form."""
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    env: dict[str, str] = {}
    url = faulty.url
    secrets = [TOKEN]
    if auth == "bearer":
        env["GATEPACK_PROMETHEUS_BEARER_TOKEN"] = TOKEN
    elif auth == "basic":
        env |= {"GATEPACK_PROMETHEUS_USERNAME": "alice", "GATEPACK_PROMETHEUS_PASSWORD": PASSWORD}
        secrets = [PASSWORD, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]
    else:
        url = faulty.url.replace("http://", f"http://alice:{quote(PASSWORD, safe='')}@")
        secrets = [PASSWORD, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]
    out = tmp_path / "ev"
    result = gatepack(
        "collect",
        str(spec),
        "-p",
        url,
        "--timeout",
        "2",
        "--out",
        str(out),
        "--format",
        "table",
        "--junit",
        str(out / "junit.xml"),
        "--markdown",
        str(out / "summary.md"),
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    texts = [result.stdout, result.stderr, *(p.read_text() for p in out.iterdir())]
    packet = json.loads(next(out.glob("sec-*.json")).read_text())
    echo = next(c for c in packet["checks"] if c["id"] == "echo")
    assert echo["verdict"] == "error" and MASK in echo["reason"]  # the server did quote it: it was masked
    for secret in secrets:
        for form in {secret, repr(secret)[1:-1], quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}:
            for text in texts:
                assert form not in text, (form, text[:300])
    assert all(h.get("Authorization") for h in faulty.seen_headers[-2:])  # the credential was really sent


def test_logs_are_redacted(caplog):
    redactor = Redactor([TOKEN])
    logger = logging.getLogger("gatepack.test")
    logger.addFilter(RedactingFilter(redactor))
    with caplog.at_level(logging.INFO, logger="gatepack.test"):
        logger.info("header %r and %s", f"Bearer {TOKEN}".encode(), quote(TOKEN))
    assert TOKEN not in caplog.text and quote(TOKEN) not in caplog.text and MASK in caplog.text


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(min_size=3, max_size=40).filter(lambda s: s.strip() == s and len(s.strip()) >= 3),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_every_form_of_any_secret_is_masked(secret, before, after):
    redactor = Redactor([secret])
    shapes = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode())[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
    }
    for shape in shapes:
        assert shape not in redactor(f"{before}{shape}{after}"), shape


def test_basic_auth_base64_is_masked():
    redactor = Redactor()
    redactor.add_basic_auth("alice", PASSWORD)
    header = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert redactor(f"got {header!r}") == f"got 'Basic {MASK}'"


def test_tenant_header_is_not_a_secret():
    redactor = Redactor()
    from collector.sources.http import HttpConfig, HttpTransport

    config = HttpConfig(url="http://127.0.0.1:1", headers={"X-Scope-OrgID": "team-a", "X-Api-Key": "k-123456"})
    transport = HttpTransport(config, redactor)
    assert transport.redactor("org=team-a key=k-123456") == f"org=team-a key={MASK}"
    bearer = HttpTransport(HttpConfig(url="http://127.0.0.1:1", headers={"Authorization": "Bearer abc-999"}))
    assert bearer.redactor("got abc-999 and 'Bearer abc-999'") == f"got {MASK} and '{MASK}'"
    assert config.public_headers == {"X-Scope-OrgID": "team-a"}


def test_secret_file_is_not_read_whole_when_huge(tmp_path: Path):
    big = tmp_path / "token"
    big.write_bytes(b"a" * (65 * 1024))
    with pytest.raises(CredentialError, match="64 KiB"):
        load_credentials({}, bearer_token_file=big)


MARK = "S3CRM4RK"


@given(st.text(max_size=30), st.text(max_size=30))
def test_credential_checks_never_quote_the_secret(prefix, suffix):
    """Any value: accepted unchanged, or refused with a CredentialError that does not contain it."""
    value = f"{prefix}{MARK}{suffix}"
    for printable_ascii in (True, False):
        try:
            assert check_secret(value, "the token", printable_ascii=printable_ascii) == value
        except CredentialError as exc:
            assert MARK not in str(exc)
    try:
        parse_headers([f"X-Thing: {value}", f"{value}: x", value])
    except CredentialError as exc:
        assert MARK not in str(exc)


def test_debug_logs_of_a_real_exchange_hold_no_secret(faulty, caplog):
    """httpx/httpcore and gatepack log at DEBUG while the hostile server quotes the header back."""
    import asyncio

    from collector.run import evaluate_gate
    from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
    from collector.sources.prometheus.source import PrometheusSource
    from slo.loader import load_gates

    caplog.set_level(logging.DEBUG)
    gate = load_gates(GATE)[0]

    async def go():
        config = PrometheusConfig(url=faulty.url, bearer_token=TOKEN, max_retries=1, backoff_base=0.01)
        async with PrometheusClient(config) as client:
            return await evaluate_gate(gate, at=1767225600, sources=[PrometheusSource(client)])

    run = asyncio.run(go())
    echo = next(r for r in run.results if r.id == "echo")
    assert MASK in echo.reason and TOKEN not in echo.model_dump_json()
    assert caplog.records  # something was logged, and none of it is the token in any form
    for form in secret_forms(TOKEN):
        assert form not in caplog.text
