"""The board in a real headless browser (Debian's chromium driven by Playwright) over a real server.

The packets are built here, so the expected gates, verdicts, failing checks, reasons and query texts are
the test's own; hostile text in a reason and a query must show literally and never run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from slo.evaluate import result
from slo.evidence import GateRef, Subject, to_canonical_json
from slo.results import CheckContext, ContextQuery, QueryOutcome, Verdict
from slo.spec import ThresholdCheck
from tests.helpers import sealed_packet
from tests.serverproc import WRITE, Served, serving

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "</code><script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
FAIL_QUERY = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[5m])))'


# a p99 that climbs from 0.2 s to 0.42 s over the hour before the gate, with two missing points
P99_HISTORY = [0.2 + 0.22 * i / 60 if i not in (10, 11) else None for i in range(61)]


def history(query: str) -> CheckContext:
    return CheckContext(
        series="value", start="2025-12-31T23:05:00Z", end="2026-01-01T00:05:00Z", step=60, values=P99_HISTORY,
        thresholds={"target": 0.3}, status="ok",
        queries=[ContextQuery(role="value", query=query, status="ok", response_sha256="c" * 64, attempts=1)],
    )  # fmt: skip


def packet(
    gate: str, env: str, minute: int, checks: list[tuple[str, Verdict, str, str]], context: bool = False
) -> bytes:
    stamp = f"2026-01-01T00:{minute:02d}:00Z"
    results = []
    for check_id, verdict, reason, query in checks:
        check = ThresholdCheck(id=check_id, kind="threshold", query=query, op="<", target=0.3)
        outcome = QueryOutcome(
            role="value", query=query, status="ok", value=0.42, attempts=1,
            backend="http://127.0.0.1:9090", response_sha256=hashlib.sha256(query.encode()).hexdigest(),
        )  # fmt: skip
        decided = result(check, verdict, reason, stamp, value=0.42, queries=[outcome])
        results.append(decided.model_copy(update={"context": history(query)}) if context else decided)
    subject = Subject(environment=env, release="v3", commit="a" * 40)
    return to_canonical_json(sealed_packet(results, gate=GateRef(id=gate, title=gate), subject=subject, time=stamp))


PACKETS = [
    packet("checkout", "prod", 1, [("p99", Verdict.PASS, "p99 0.2 < 0.3", "up")]),
    packet("checkout", "prod", 5, [("p99", Verdict.FAIL, "p99 latency 0.42 s is not < 0.3 s", FAIL_QUERY)], True),
    packet("checkout", "staging", 4, [("p99", Verdict.PASS, "fine", "up")]),
    packet("search", "prod", 3, [("errors", Verdict.FAIL, HOSTILE, HOSTILE)]),
]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("board")
    with serving(tmp / "board.db", tmp, {"GATEPACK_WRITE_TOKEN": WRITE}) as served:
        for data in PACKETS:
            answer = httpx.post(
                f"{served.url}/api/v1/packets", content=data, headers={"Authorization": f"Bearer {WRITE}"}, timeout=10
            )
            assert answer.status_code == 201, answer.text
        yield served


def digest(data: bytes) -> str:
    return json.loads(data)["digest"]["value"]


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_board_html_has_no_script_and_escapes_everything(board: Served) -> None:
    for path in ("/", f"/packets/{digest(PACKETS[3])}"):
        answer = httpx.get(board.url + path, timeout=10)
        assert answer.status_code == 200
        assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none' covers it
        parser = Elements()
        parser.feed(answer.text)
        tags = [t for t, _ in parser.tags]
        assert "script" not in tags and "img" not in tags
        assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
        assert not any(
            (v or "").startswith(("http://", "https://")) for t, a in parser.tags if t in {"link"} for v in a.values()
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield launched
        launched.close()


def test_board_in_chromium(board: Served, browser: object, tmp_path: Path) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(board.url + "/")
    gates = page.locator("#gates tbody th").all_inner_texts()
    assert gates == ["checkout", "search"]
    headers = page.locator("#gates thead th").all_inner_texts()
    assert headers == ["gate", "prod", "staging"]
    prod = page.locator('td[data-gate="checkout"][data-env="prod"]')
    assert "FAIL" in prod.inner_text().upper()  # the newest prod packet (minute 5) failed
    staging = page.locator('td[data-gate="checkout"][data-env="staging"]')
    assert "PASS" in staging.inner_text().upper()
    hostile = page.locator('td[data-gate="search"][data-env="prod"] .failing').inner_text()
    assert HOSTILE in hostile  # shown as text
    page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

    link = prod.locator("a.failing-check")
    assert link.inner_text() == "p99"
    link.focus()
    page.keyboard.press("Enter")  # keyboard-navigable: the failing check opens its packet page
    page.wait_for_url(f"**/packets/{digest(PACKETS[1])}#check-p99")
    details = page.locator("#check-p99")
    assert details.get_attribute("open") is not None  # a failing check is open on arrival
    assert details.locator(".reason").inner_text() == "p99 latency 0.42 s is not < 0.3 s"
    assert details.locator("code.query").inner_text() == FAIL_QUERY
    run = details.locator("a.run-query").get_attribute("href")
    assert run is not None and run.startswith("http://127.0.0.1:9090/graph?")
    chart = details.locator("figure.context svg")
    assert chart.count() == 1 and chart.is_visible()
    assert chart.locator("title").text_content() == "p99: value"
    line = chart.locator("path.gp-series")
    assert line.count() == 1
    # the two missing points break the line into two pieces: points 0-9 and 12-60
    assert (line.get_attribute("d") or "").count("M") == 2
    box = line.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 50  # drawn, across the plot, rising
    assert "target 0.3" in chart.locator("text").all_text_contents()
    chart.screenshot(path=str(tmp_path / "chart.png"))
    assert (tmp_path / "chart.png").stat().st_size > 1000
    changes = page.locator("main").inner_text()
    assert digest(PACKETS[0])[:12] in changes  # the diff against the previous prod packet of this gate
    page.screenshot(path=str(tmp_path / "packet.png"), full_page=True)

    page.goto(board.url + f"/packets/{digest(PACKETS[3])}")
    assert page.locator("#check-errors .reason").inner_text() == HOSTILE
    assert page.locator("#check-errors code.query").inner_text() == HOSTILE
    page.goto(board.url + "/?env=staging")
    assert page.locator("#gates tbody th").all_inner_texts() == ["checkout"]
    assert dialogs == []
    assert all(u.startswith(board.url) for u in requests)  # nothing fetched from anywhere else
    assert (tmp_path / "board.png").stat().st_size > 1000


def test_board_pages_golden(golden: object) -> None:
    """The HTML reviewers read, rendered from the test's packets at a fixed clock (no server needed)."""
    from collector.server import board as pages
    from collector.store import StoredPacket

    def stored(data: bytes) -> StoredPacket:
        document = json.loads(data)
        return StoredPacket(
            digest=document["digest"]["value"], gate=document["gate"]["id"],
            environment=document["subject"]["environment"], service=None, release=document["subject"]["release"],
            commit=document["subject"]["commit"], verdict=document["verdict"], evaluated_at=document["evaluation"]["time"],
            recorded_at=0.0, packet=data,
        )  # fmt: skip

    rows = sorted((stored(d) for d in PACKETS), key=lambda r: r.evaluated_at, reverse=True)
    now = 1767225600 + 3 * 3600  # 2026-01-01T03:00:00Z
    golden("board-overview.html", pages.overview(rows, env=None, release=None, now=now))  # type: ignore[operator]
    from slo.diff import diff_packets

    page = pages.packet_page(
        stored(PACKETS[1]),
        json.loads(PACKETS[1]),
        diff_packets(json.loads(PACKETS[0]), json.loads(PACKETS[1])),
        digest(PACKETS[0]),
        "unsigned",
    )
    golden("board-packet.html", page)  # type: ignore[operator]
