"""``gatepack report``: the reviewer report in HTML and Markdown, from fixed packets and from a real run.

The fixed packet is built here (an SLO with its error-ratio history, a threshold check with its value
history, an attestation without context, hostile text in a reason and a query), so the golden files pin
what a reviewer reads. The signature states come from keys made here.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.signing import public_pem
from slo.dsse import envelope_for_packet
from slo.evaluate import result, summarize
from slo.evidence import (
    Backend,
    Collector,
    Evaluation,
    EvidencePacket,
    GateRef,
    SpecRef,
    Subject,
    seal,
    to_canonical_json,
)
from slo.results import CheckContext, ContextQuery, QueryOutcome, Verdict
from slo.spec import AttestationCheck, SloCheck, ThresholdCheck
from tests import groundtruth as truth

HOSTILE = "</code><script>alert(1)</script>|`x`\x1b[2J<img src=x onerror=alert(2)>"
STAMP = "2026-01-01T00:00:00Z"
SHA = "ab" * 32


def fixed_packet() -> bytes:
    slo = SloCheck(
        id="availability", kind="slo", title="Checkout availability",
        bad='sum(increase(http_requests_total{code="500"}[{{ window }}]))',
        total="sum(increase(http_requests_total[{{ window }}]))", objective=99.9, period="30d",
    )  # fmt: skip
    bad_query = 'sum by (service) (increase(http_requests_total{service=~"checkout|search",code="500"}[5m]))'
    ratio = [0.0005] * 20 + [None] * 3 + [0.0005 + 0.0025 * i for i in range(18)]
    slo_result = result(
        slo, Verdict.FAIL, "SLI 99.61 % is below the objective 99.9 %", STAMP, value=99.61, unit="%", objective=">= 99.9",
        queries=[QueryOutcome(role="bad", window="30d", query=bad_query, status="ok", value=3.9, response_sha256=SHA)],
    ).model_copy(update={"context": CheckContext(
        series="error_ratio", window="5m", start="2025-12-31T23:20:00Z", end=STAMP, step=60, values=ratio,
        thresholds={"objective": 99.9, "burn_rate": 14.4}, status="ok",
        queries=[ContextQuery(role="bad", query=bad_query, status="ok", response_sha256=SHA,
                              selected={"service": "checkout"})],
    )})  # fmt: skip
    threshold = ThresholdCheck(id="p99", kind="threshold", query=HOSTILE, op="<", target=0.3, warn=0.25, unit="s")
    threshold_result = result(
        threshold, Verdict.PASS, HOSTILE, STAMP, value=0.21, unit="s", objective="< 0.3",
        queries=[QueryOutcome(role="value", query=HOSTILE, status="ok", value=0.21, response_sha256=SHA)],
    ).model_copy(update={"context": CheckContext(
        series="value", start="2025-12-31T23:56:00Z", end=STAMP, step=120, values=[0.2, 0.22, 0.21],
        thresholds={"target": 0.3, "warn": 0.25}, status="ok",
        queries=[ContextQuery(role="value", query=HOSTILE, status="ok", response_sha256=SHA)],
    )})  # fmt: skip
    attest = AttestationCheck(id="signoff", kind="attestation", item="security-review")
    attest_result = result(attest, Verdict.PASS, "signed off by alice on 2025-12-30", STAMP)
    results = [slo_result, threshold_result, attest_result]
    summary = summarize(results)
    sealed = seal(
        EvidencePacket(
            gate=GateRef(id="checkout-ga", title="Checkout GA"),
            subject=Subject(environment="prod", release="v3.1", commit="c" * 40),
            evaluation=Evaluation(time=STAMP, started_at=STAMP, finished_at=STAMP, windows=["5m", "30d"]),
            collector=Collector(version="0.1.0", python="3.11.2"),
            spec=SpecRef(path="gates/checkout.yaml", sha256="d" * 64),
            backends=[Backend(kind="prometheus", url="http://127.0.0.1:9090")],
            checks=results,
            verdict=summary.verdict,
            counts=summary.counts,
        )
    )
    return to_canonical_json(sealed)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture
def packet_file(tmp_path: Path) -> Path:
    path = tmp_path / "checkout-ga-20260101T000000Z.json"
    path.write_bytes(fixed_packet())
    return path


def test_report_html_and_markdown_golden(gatepack, golden, packet_file: Path, tmp_path: Path) -> None:
    ran = gatepack("report", packet_file, "--html", tmp_path / "r.html", "--markdown", tmp_path / "r.md")
    assert ran.code == 0, ran
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    golden("report.html", html)
    golden("report.md", (tmp_path / "r.md").read_text(encoding="utf-8"))
    charts = sorted((tmp_path / "r-charts").iterdir())
    # SLI and burn rate for the SLO, the value for the threshold check, nothing for the attestation
    assert [p.name for p in charts] == [
        "1-checkout-ga-availability-1.svg", "1-checkout-ga-availability-2.svg", "1-checkout-ga-p99-1.svg",
    ]  # fmt: skip
    for chart in charts:
        golden(f"report-charts/{chart.name}", chart.read_text(encoding="utf-8"))
        root = ET.fromstring(chart.read_text(encoding="utf-8"))
        assert root.find("{http://www.w3.org/2000/svg}style") is not None  # standalone: light/dark inside
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    for chart in charts:
        assert f"(r-charts/{chart.name})" in md


def test_report_html_is_self_contained_and_escapes_everything(gatepack, packet_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert gatepack("report", packet_file, "--html", out).code == 0
    html = out.read_text(encoding="utf-8")
    parser = Elements()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags
    assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
    assert "http://127.0.0.1:9090" in html  # the backend is named as text ...
    assert not any((v or "").startswith("http") for _, a in parser.tags for k, v in a.items() if k in {"src", "href"})
    assert tags.count("svg") == 3 and "\x1b" not in html.replace("\\x1b", "")
    document = json.loads(packet_file.read_bytes())
    assert document["digest"]["value"] in html and "unsigned" in html
    assert "d" * 64 in html and "gatepack 0.1.0 (Python 3.11.2)" in html  # provenance: spec sha, collector


def test_report_never_overwrites_without_force(gatepack, packet_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("someone's notes", encoding="utf-8")
    ran = gatepack("report", packet_file, "--html", out)
    assert ran.code == 2 and "already exists" in ran.err and "--force" in ran.err
    assert out.read_text(encoding="utf-8") == "someone's notes"
    assert gatepack("report", packet_file, "--html", out, "--force").code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left behind


def test_report_states_the_signature_and_fails_on_a_bad_one(gatepack, tmp_path: Path) -> None:
    signer, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envelope = tmp_path / "signed.json"
    envelope.write_bytes(envelope_for_packet(fixed_packet(), signer))
    (tmp_path / "signer.pub").write_bytes(public_pem(signer.public_key()))
    (tmp_path / "stranger.pub").write_bytes(public_pem(stranger.public_key()))

    ran = gatepack("report", envelope, "--html", tmp_path / "ok.html", "--key", tmp_path / "signer.pub")
    assert ran.code == 0, ran
    assert "valid: signed by key" in (tmp_path / "ok.html").read_text(encoding="utf-8")

    ran = gatepack("report", envelope, "--markdown", tmp_path / "unchecked.md")
    assert ran.code == 0, ran
    assert "not checked: give --key or --trusted-keys" in (tmp_path / "unchecked.md").read_text(encoding="utf-8")

    ran = gatepack("report", envelope, "--html", tmp_path / "bad.html", "--key", tmp_path / "stranger.pub")
    assert ran.code == 1 and "verification failed" in ran.err
    assert "FAILED (untrusted)" in (tmp_path / "bad.html").read_text(encoding="utf-8")


def test_report_marks_a_tampered_packet_and_exits_1(gatepack, packet_file: Path, tmp_path: Path) -> None:
    document = json.loads(packet_file.read_bytes())
    document["checks"][0]["verdict"] = "pass"  # an edit without re-sealing
    packet_file.write_text(json.dumps(document), encoding="utf-8")
    ran = gatepack("report", packet_file, "--html", tmp_path / "r.html")
    assert ran.code == 1
    assert "verification failed" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [[], ["--html"]])
def test_report_usage_errors_are_one_line(gatepack, packet_file: Path, args: list[str]) -> None:
    ran = gatepack("report", packet_file, *args)
    assert ran.code == 2 and "Traceback" not in ran.err


def test_report_refuses_a_file_that_is_not_a_packet(gatepack, tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text("[1, 2", encoding="utf-8")
    ran = gatepack("report", bad, "--html", tmp_path / "r.html")
    assert ran.code == 2 and "notes.json" in ran.err and "Traceback" not in ran.err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.integration
def test_collect_then_report_draws_the_recorded_history(gatepack, prometheus_pool, tmp_path: Path) -> None:
    server = prometheus_pool.get("foundation", truth.families)
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: foundation\ntitle: Foundation\nchecks:\n"
        "  - id: availability\n    kind: slo\n"
        '    bad: sum(increase(http_requests_total{service="checkout",code="500"}[{{ window }}]))\n'
        '    total: sum(increase(http_requests_total{service="checkout"}[{{ window }}]))\n'
        "    objective: 99.9\n    period: 30d\n",
        encoding="utf-8",
    )
    out = tmp_path / "evidence"
    ran = gatepack("collect", spec, "-p", server.url, "--at", "2026-01-01T00:00:00Z", "-o", out,
                   "--context-lookback", "6h", "-q")  # fmt: skip
    assert ran.code == 1, ran  # checkout burns its budget in the last 2 hours
    packet = next(out.glob("*.json"))
    context = json.loads(packet.read_bytes())["checks"][0]["context"]
    assert context["step"] == 120 and len(context["values"]) == 181
    assert context["values"][-1] == pytest.approx(0.05)  # 50 errors in 1000 a minute over the last 5 minutes
    assert gatepack("report", packet, "--html", tmp_path / "r.html").code == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and 'class="gp-series"' in html

    quiet = tmp_path / "quiet"
    assert gatepack("collect", spec, "-p", server.url, "--at", "2026-01-01T00:00:00Z", "-o", quiet,
                    "--no-context", "-q").code == 1  # fmt: skip
    assert "context" not in json.loads(next(quiet.glob("*.json")).read_bytes())["checks"][0]
