"""``gatepack push`` against a real ``gatepack serve`` (uvicorn, SQLite) and against a hostile local board.

The packet is a real one: ``gatepack collect --keep-responses`` against a real Prometheus. What the server
holds afterwards is read back independently: the packet over ``GET /api/v1/packets/{digest}`` (the URL push
printed) compared byte for byte with the file, and the kept responses straight from the store's SQLite
file, each gunzipped and hashed against its name. The command is not registered in ``collector/cli/app.py``
yet, so it runs through a tiny local Typer app with the same error mapping as ``gatepack``'s ``main``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from collector.cli.push import Outcome, exempt, exit_code, push_command, server_reason
from collector.errors import GatepackError
from collector.testing.openmetrics import Family, Series
from collector.testing.promserver import free_port
from slo.dsse import verify_file_bytes
from slo.wire import response_digests
from tests.faulty_backend import FaultyBackend
from tests.helpers import Ran, make_packet
from tests.serverproc import READ, ROOT, WRITE, Served, serving
from tests.tlscert import self_signed, server_context

WRONG = "not-the-write-token-0123456789"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: collect runs --at this time, so the data is fixed
TIMESTAMPS = np.arange(NOW - 2 * 3600, NOW + 1, 60)
SPEC = """\
apiVersion: gatepack/v1
kind: Gate
id: push-checkout
title: push-checkout
checks:
  - id: error-ratio
    kind: threshold
    query: >-
      sum(increase(http_requests_total{service="checkout",code=~"5.."}[30m]))
      / sum(increase(http_requests_total{service="checkout"}[30m]))
    op: "<"
    target: 0.01
  - id: traffic
    kind: threshold
    query: sum(rate(http_requests_total{service="checkout"}[5m]))
    op: ">"
    target: 1
"""
LINE = re.compile(r"^(?P<gate>\S+) sha256:(?P<digest>[0-9a-f]{64}) (?P<url>\S+) (?P<said>.+)$")


def families() -> list[Family]:
    requests = Family("http_requests", "counter", "requests by outcome")
    steps = np.arange(len(TIMESTAMPS), dtype=float)
    requests.series.append(
        Series("http_requests_total", {"service": "checkout", "code": "200"}, TIMESTAMPS, steps * 600)
    )
    requests.series.append(Series("http_requests_total", {"service": "checkout", "code": "500"}, TIMESTAMPS, steps * 3))
    return [requests]


def push(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: object, **env: str) -> Ran:
    """``gatepack push ARGS`` through a tiny Typer app; a foreseen error is one line and its exit code, like main."""
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is called by its name as users will
    app.command("push")(push_command)
    proxies = [k for k in os.environ if k.lower().endswith("_proxy")]  # a proxied shell must not change the test
    for name in ("GATEPACK_TOKEN", "GATEPACK_TOKEN_FILE", *proxies):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    try:
        returned = app(["push", *map(str, args)], standalone_mode=False)  # typer.Exit comes back as its code
        code = returned if isinstance(returned, int) else 0
    except GatepackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory, prometheus_pool: Any) -> Path:
    """A packet ``gatepack collect --keep-responses`` wrote, with its responses/ beside it."""
    prometheus = prometheus_pool.get(f"push-{NOW}", families)
    out = tmp_path_factory.mktemp("collected")
    spec = out / "gate.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    command = [sys.executable, "-m", "collector.cli", "collect", str(spec), "--prometheus", prometheus.url]
    command += ["--at", str(NOW), "--keep-responses", "-o", str(out / "evidence"), "-q"]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    (packet,) = (out / "evidence").glob("push-checkout-*.json")
    return packet


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    tmp = tmp_path_factory.mktemp("board")
    db = tmp / "evidence.db"
    with serving(db, tmp, {"GATEPACK_WRITE_TOKEN": WRITE, "GATEPACK_READ_TOKEN": READ}) as served:
        yield served, db


def stored_responses(db: Path) -> dict[str, bytes]:
    with sqlite3.connect(db) as connection:
        return {s: gzip.decompress(b) for s, b in connection.execute("SELECT sha256, body_gz FROM gatepack_responses")}


def read_back(url: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {READ}"}, timeout=10)


@pytest.mark.integration
def test_push_publishes_a_collected_packet_and_its_responses(
    board: tuple[Served, Path],
    collected: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served, db = board
    document = json.loads(collected.read_bytes())
    named = response_digests(document)
    files = {sha: collected.parent / "responses" / f"{sha}.json.gz" for sha in named}
    assert named and all(f.exists() for f in files.values())  # the real collect kept what the packet names
    token_file = tmp_path / "token"
    token_file.write_text(WRITE + "\n", encoding="utf-8")  # a mounted secret, with its trailing newline

    ran = push(monkeypatch, capsys, collected, "--server", served.url, GATEPACK_TOKEN_FILE=str(token_file))
    assert ran.code == 0, ran
    (line,) = ran.out.splitlines()
    fields = LINE.match(line)
    assert fields, line
    assert fields["digest"] == document["digest"]["value"]  # the packet's own digest, whole
    assert fields["gate"] == "push-checkout"
    assert fields["url"] == f"{served.url}/api/v1/packets/{document['digest']['value']}"
    assert fields["said"].startswith("stored;") and f"{len(named)} of {len(named)} kept responses" in line
    fetched = read_back(fields["url"])
    assert fetched.status_code == 200 and fetched.content == collected.read_bytes()
    assert verify_file_bytes(fetched.content).digest.ok  # what the server holds is still sealed
    kept = stored_responses(db)
    for sha, path in files.items():  # every body the packet names is on the server, and hashes to its name
        assert kept[sha] == gzip.decompress(path.read_bytes())
        assert hashlib.sha256(kept[sha]).hexdigest() == sha

    again = push(monkeypatch, capsys, collected, "--server", served.url, GATEPACK_TOKEN=WRITE)
    assert again.code == 0, again
    (line,) = again.out.splitlines()
    assert "already on the server (same digest)" in line and document["digest"]["value"] in line


@pytest.mark.integration
def test_a_wrong_token_is_refused_in_one_line_that_never_shows_it(
    board: tuple[Served, Path],
    collected: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served, _ = board
    other = tmp_path / "evidence"
    other.mkdir()
    packet = other / collected.name  # without responses/ beside it: the packet alone is sent
    packet.write_bytes(collected.read_bytes())
    ran = push(monkeypatch, capsys, packet, "--server", served.url, GATEPACK_TOKEN=WRONG)
    assert ran.code == 1, ran
    assert ran.out == ""
    (line,) = ran.err.strip().splitlines()
    assert str(packet) in line and "HTTP 401" in line and "GATEPACK_TOKEN" in line
    assert WRONG not in ran.out + ran.err and WRITE not in ran.out + ran.err


@pytest.mark.integration
def test_a_server_that_is_down_is_said_after_the_retries(
    collected: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    ran = push(monkeypatch, capsys, collected, "--server", nobody, "--retries", "2", GATEPACK_TOKEN=WRITE)
    assert ran.code == 3, ran
    (line,) = ran.err.strip().splitlines()
    assert "cannot connect" in line and nobody in line and "after 3 attempts" in line
    assert WRITE not in ran.out + ran.err


def test_5xx_is_retried_until_stored_and_the_body_is_the_upload(
    collected: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultyBackend() as backend:
        ran = push(monkeypatch, capsys, collected, "--server", f"{backend.url}/flaky", GATEPACK_TOKEN=WRITE)
    assert ran.code == 0, ran
    assert backend.hits["/flaky/api/v1/packets"] == 3  # 503, 503, then 201
    upload = json.loads(backend.posted[-1])
    assert upload["packet"].encode() == collected.read_bytes()
    assert set(upload["responses"]) == set(response_digests(json.loads(collected.read_bytes())))
    assert all(h.get("Authorization") == f"Bearer {WRITE}" for h in backend.seen_headers)
    assert all(h.get("Content-Type") == "application/json" for h in backend.seen_headers)


def test_4xx_is_not_retried_and_says_why(
    collected: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultyBackend() as backend:
        ran = push(monkeypatch, capsys, collected, "--server", f"{backend.url}/refuse", GATEPACK_TOKEN=WRITE)
        other = push(monkeypatch, capsys, collected, "--server", f"{backend.url}/otherdigest", GATEPACK_TOKEN=WRITE)
    assert ran.code == 1 and backend.hits["/refuse/api/v1/packets"] == 1, ran
    (line,) = ran.err.strip().splitlines()
    assert "HTTP 422" in line and "does not match the evidence schema" in line
    assert other.code == 1 and "the server stored sha256:" + "0" * 64 in other.err  # never taken as pushed
    assert other.out == ""


def test_a_board_that_echoes_the_token_or_control_characters_shows_neither(
    collected: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultyBackend() as backend:
        ran = push(monkeypatch, capsys, collected, "--server", f"{backend.url}/echo", GATEPACK_TOKEN=WRITE)
    assert ran.code == 1 and backend.hits["/echo/api/v1/packets"] == 1, ran
    (line,) = ran.err.strip().splitlines()
    assert "HTTP 401" in line and "is not ours" in line  # the server's reason is said ...
    assert WRITE not in ran.out + ran.err and "\x1b" not in ran.out + ran.err  # ... without the token or a raw ESC
    assert "\\x1b[2J" in line  # the escape is shown, visibly


def test_bad_input_is_exit_2_naming_the_file_and_nothing_is_sent(
    collected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(collected.read_bytes().replace(b'"push-checkout"', b'"push-checkouT"', 1))
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": "world"}', encoding="utf-8")
    with FaultyBackend() as backend:
        for bad, words in (
            (tmp_path / "missing.json", "cannot read"),
            (ROOT / "README.md", "not an evidence packet"),
            (notes, "not an evidence packet"),
            (tampered, "not a sealed packet"),
        ):
            ran = push(monkeypatch, capsys, collected, bad, "--server", backend.url, GATEPACK_TOKEN=WRITE)
            assert ran.code == 2, (bad, ran)
            (line,) = ran.err.strip().splitlines()
            assert line.startswith(f"error: {bad}: {words}"), line
        no_token = push(monkeypatch, capsys, collected, "--server", backend.url)
        assert no_token.code == 2 and "GATEPACK_TOKEN" in no_token.err
        both = push(
            monkeypatch,
            capsys,
            collected,
            "--server",
            backend.url,
            GATEPACK_TOKEN=WRITE,
            GATEPACK_TOKEN_FILE=str(notes),
        )
        assert both.code == 2 and "GATEPACK_TOKEN or GATEPACK_TOKEN_FILE, not both" in both.err
        assert WRITE not in both.out + both.err
        bad_url = push(monkeypatch, capsys, collected, "--server", "ftp://x", GATEPACK_TOKEN=WRITE)
        assert bad_url.code == 2 and "--server" in bad_url.err
        assert not backend.posted  # every file is checked before anything is sent


def test_the_exit_code_prefers_a_refusal_to_an_unreachable_server() -> None:
    states = ["stored", "already", "refused", "unreached"]
    assert exit_code([Outcome(s, "") for s in states[:2]]) == 0
    assert exit_code([Outcome(s, "") for s in states]) == 1
    assert exit_code([Outcome(s, "") for s in (*states[:2], "unreached")]) == 3


@given(st.binary(max_size=2000))
def test_the_server_reason_is_always_one_bounded_line(body: bytes) -> None:
    reason = server_reason(body)
    assert reason and len(reason) <= 300 and "\n" not in reason and "\r" not in reason


@given(st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp")), min_size=1, max_size=300))
def test_the_server_reason_is_the_boards_error_text(text: str) -> None:
    text = text.strip() or "x"
    assert server_reason(json.dumps({"error": text}).encode()) == text


def test_tls_is_verified_by_default_and_the_tls_group_widens_it(
    collected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = self_signed(tmp_path)
    with FaultyBackend(tls=server_context(cert, key)) as backend:
        untrusted = push(
            monkeypatch, capsys, collected, "--server", backend.url, "--retries", "0", GATEPACK_TOKEN=WRITE
        )
        assert untrusted.code == 3 and "certificate verify failed" in untrusted.err, untrusted
        assert not backend.posted  # the upload (and the token) never went to a server the client could not verify
        trusted = push(monkeypatch, capsys, collected, "--server", backend.url, "--ca-file", cert, GATEPACK_TOKEN=WRITE)
        assert trusted.code == 0 and len(backend.posted) == 1, trusted
        insecure = push(monkeypatch, capsys, collected, "--server", backend.url, "--insecure", GATEPACK_TOKEN=WRITE)
        assert insecure.code == 0 and len(backend.posted) == 2, insecure
        bad_ca = push(monkeypatch, capsys, collected, "--server", backend.url, "--ca-file", key, GATEPACK_TOKEN=WRITE)
        assert bad_ca.code == 2 and f"--ca-file {key}" in bad_ca.err, bad_ca
        assert len(backend.posted) == 2


@pytest.mark.integration
def test_a_body_over_the_servers_limit_says_so_and_the_packet_alone_fits(
    collected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from collector.server.upload import build_upload, upload_body

    bare, whole = len(build_upload(collected.read_bytes(), {})), len(upload_body(collected))
    limit = max(1024, bare + 64)
    assert limit < whole  # the kept responses are what push the body over
    with serving(
        tmp_path / "small.db", tmp_path, {"GATEPACK_WRITE_TOKEN": WRITE}, ("--max-body", str(limit))
    ) as served:
        ran = push(monkeypatch, capsys, collected, "--server", served.url, GATEPACK_TOKEN=WRITE)
        assert ran.code == 1 and ran.out == "", ran
        (line,) = ran.err.strip().splitlines()
        assert "HTTP 413" in line and f"larger than {limit} bytes" in line and "--no-responses" in line
        alone = push(monkeypatch, capsys, collected, "--server", served.url, "--no-responses", GATEPACK_TOKEN=WRITE)
        assert alone.code == 0, alone
        assert f"0 of {len(response_digests(json.loads(collected.read_bytes())))} kept responses attached" in alone.out


def test_what_push_prints_is_the_golden_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], golden: Any
) -> None:
    first, second = tmp_path / "checkout.json", tmp_path / "payments.json"
    first.write_bytes(make_packet(gate="checkout", minute=1))
    body = b'{"status":"success"}'
    second.write_bytes(make_packet(gate="payments", minute=2, response=body))
    (tmp_path / "responses").mkdir()
    (tmp_path / "responses" / f"{hashlib.sha256(body).hexdigest()}.json.gz").write_bytes(gzip.compress(body))
    with FaultyBackend() as backend:
        stored = push(monkeypatch, capsys, first, second, "--server", f"{backend.url}/ok/", GATEPACK_TOKEN=WRITE)
        refused = push(monkeypatch, capsys, first, "--server", f"{backend.url}/refuse", GATEPACK_TOKEN=WRITE)
    assert (stored.code, refused.code) == (0, 1)
    text = "\n".join(["$ gatepack push checkout.json payments.json", stored.out + stored.err, "$ (refused)"])
    text += "\n" + refused.out + refused.err
    golden("push-lines.txt", text.replace(backend.url, "http://127.0.0.1:PORT").replace(str(tmp_path), "TMP"))


def test_the_environments_proxy_carries_the_push_and_no_proxy_exempts(
    collected: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    board = "http://board.invalid:8080"  # a name that never resolves: only the proxy can reach it
    with FaultyBackend() as proxy:
        via = push(monkeypatch, capsys, collected, "--server", board, GATEPACK_TOKEN=WRITE, HTTP_PROXY=proxy.url)
        assert via.code == 0, via
        assert proxy.hits[f"{board}/api/v1/packets"] == 1  # a forward proxy's request line: the absolute URL
        assert f"{board}/api/v1/packets/" in via.out
        direct = push(
            monkeypatch, capsys, collected, "--server", board, "--retries", "0",
            GATEPACK_TOKEN=WRITE, HTTP_PROXY=proxy.url, NO_PROXY="localhost,.invalid",
        )  # fmt: skip
        assert direct.code == 3 and len(proxy.posted) == 1, direct


labels = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@given(st.lists(labels, min_size=1, max_size=4), st.lists(labels, min_size=1, max_size=3), labels)
def test_no_proxy_exempts_a_domain_and_its_subdomains_only(domain: list[str], sub: list[str], prefix: str) -> None:
    name = ".".join(domain)
    host = ".".join([*sub, name])
    assert exempt(host, f"other.example, {name}") and exempt(host, f".{name}") and exempt(name, name.upper())
    assert exempt(host, "*") and not exempt(host, "")
    assert not exempt(f"{prefix}{name}", name)  # a shared suffix is not a parent domain
    assert not exempt(name, f"{prefix}.{name}")  # a subdomain's entry does not exempt its parent


@given(st.integers(0, 2**24 - 1), st.integers(0, 2**24 - 1))
def test_no_proxy_exempts_addresses_inside_a_network(inside: int, outside: int) -> None:
    import ipaddress

    address = str(ipaddress.IPv4Address((10 << 24) + inside))
    assert exempt(address, "10.0.0.0/8") and exempt(address, f"{address}")
    assert not exempt(str(ipaddress.IPv4Address((11 << 24) + outside)), "10.0.0.0/8")
