"""The board's sprint matrix over real HTTP: a real ``gatepack serve`` with ``--spec`` and ``--sprints``.

The calendar is written relative to today (UTC), the packets' evaluation times too, so each gate's state
(on time, late, overdue, due in N days, upcoming) follows from the test's own dates by day counting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser

import httpx
import pytest

from slo.evaluate import result, summarize
from slo.evidence import Collector, Evaluation, EvidencePacket, GateRef, SpecRef, Subject, seal, to_canonical_json
from slo.results import Verdict
from slo.spec import ThresholdCheck
from tests.serverproc import READ, WRITE, Served, serving

TODAY = datetime.now(UTC).date()
A, B, C = TODAY - timedelta(days=20), TODAY - timedelta(days=3), TODAY + timedelta(days=10)

GATE = """\
apiVersion: gatepack/v1
kind: Gate
id: {id}
title: Gate {id}
{extra}checks:
  - id: latency-p99
    kind: threshold
    query: up
    op: ">"
    target: 0
  - id: availability
    kind: threshold
    query: up
    op: ">"
    target: 0
"""
GATES = ["m-ontime", "m-late", "m-overdue", "m-due", "m-own", "m-upcoming", "m-nocal"]


def calendar_text() -> str:
    return (
        "apiVersion: gatepack/v1\nkind: Sprints\nsprints:\n"
        f'  - id: "S-A"\n    start: {A.isoformat()}\n    gates: [m-ontime, m-late, m-overdue]\n'
        f'  - id: "S-C"\n    start: {C.isoformat()}\n    gates: [m-upcoming]\n'
        f'  - id: "S-B"\n    start: {B.isoformat()}\n    gates: [m-due]\n'
    )


def stamp(day: date) -> str:
    return datetime.combine(day, time(12), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def packet(gate: str, day: date, verdict: Verdict) -> bytes:
    when = stamp(day)
    check = ThresholdCheck(id="latency-p99", kind="threshold", query="up", op=">", target=0)
    results = [result(check, verdict, "because", when, value=1.0)]
    summary = summarize(results)
    sealed = seal(
        EvidencePacket(
            gate=GateRef(id=gate, title=gate),
            subject=Subject(environment="prod", release="v1"),
            evaluation=Evaluation(time=when, started_at=when, finished_at=when),
            collector=Collector(version="0.1.0"),
            spec=SpecRef(path="g.yaml", sha256="0" * 64),
            checks=results,
            verdict=summary.verdict,
            counts=summary.counts,
        )
    )
    return to_canonical_json(sealed)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("matrix")
    spec = tmp / "gates.yaml"
    spec.write_text(
        "---\n".join(GATE.format(id=g, extra='sprint: "S-B"\n' if g == "m-own" else "") for g in GATES),
        encoding="utf-8",
    )
    calendar = tmp / "sprints.yaml"
    calendar.write_text(calendar_text(), encoding="utf-8")
    env = {"GATEPACK_WRITE_TOKEN": WRITE, "GATEPACK_READ_TOKEN": READ}
    with serving(tmp / "e.db", tmp, env, ("--spec", str(spec), "--sprints", str(calendar))) as server:
        for data in (
            packet("m-ontime", A + timedelta(days=2), Verdict.PASS),
            packet("m-late", A + timedelta(days=12), Verdict.FAIL),
            packet("m-overdue", A - timedelta(days=5), Verdict.PASS),  # the sprint before: does not count
            packet("stray", TODAY, Verdict.PASS),  # in the store, not configured
        ):
            answer = httpx.post(
                f"{server.url}/api/v1/packets", content=data, headers={"Authorization": f"Bearer {WRITE}"}
            )
            assert answer.status_code == 201, answer.text
        yield server


class Rows(HTMLParser):
    """Each ``tr[data-gate]`` of ``table#matrix``: its cells' text and the due cell's ``data-state``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.states: dict[str, str] = {}
        self.order: list[str] = []
        self.gate: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-gate"):
            self.gate = found["data-gate"]
            self.rows[self.gate] = []
            self.order.append(self.gate)
        elif tag in ("td", "th") and self.gate:
            self.cell = []
            if found.get("data-state"):
                self.states[self.gate] = str(found["data-state"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.gate and self.cell is not None:
            self.rows[self.gate].append(" ".join(" ".join(self.cell).split()))
            self.cell = None
        elif tag == "tr":
            self.gate = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def page(served: Served, path: str, token: str | None = READ) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{served.url}{path}", headers=headers, timeout=10)


def test_the_matrix_marks_due_and_overdue_evidence(served: Served) -> None:
    answer = page(served, "/matrix")
    assert answer.status_code == 200 and "script" not in answer.headers["content-security-policy"]
    parsed = Rows()
    parsed.feed(answer.text)
    due_a, due_b = A + timedelta(days=8), B + timedelta(days=8)
    assert parsed.states == {
        "m-ontime": "on_time",
        "m-late": "late",
        "m-overdue": "overdue",
        "m-due": "due",
        "m-own": "due",  # its spec's own sprint field
        "m-upcoming": "upcoming",
    }
    assert parsed.rows["m-due"][5] == f"due by {due_b.isoformat()} ({(due_b - TODAY).days} days left)"
    assert parsed.rows["m-overdue"][5] == f"overdue since {due_a.isoformat()}"
    assert parsed.rows["m-nocal"][5] == "no calendar entry"
    # sprint, gate, evidence required (its checks), latest verdict, evidence age
    assert parsed.rows["m-late"][:4] == [
        "S-A",
        "m-late Gate m-late",
        "latency-p99 threshold availability threshold",
        "fail",
    ]
    late_at = datetime.combine(A + timedelta(days=12), time(12), tzinfo=UTC)
    assert parsed.rows["m-late"][4] == f"{int((datetime.now(UTC) - late_at).total_seconds() // 86400)}d"
    assert parsed.rows["m-due"][3:5] == ["no evidence", "–"]
    assert parsed.rows["stray"][:3] == ["–", "stray stray", "latency-p99 threshold"]
    # sprints in calendar order (by start date, not file order), gates by id within; no sprint last
    assert parsed.order == ["m-late", "m-ontime", "m-overdue", "m-due", "m-own", "m-upcoming", "m-nocal", "stray"]


def test_layout_matrix_is_the_same_page(served: Served) -> None:
    assert page(served, "/?layout=matrix").text == page(served, "/matrix").text
    assert page(served, "/?layout=sideways").status_code == 400
    assert 'id="gates"' in page(served, "/").text  # the overview by environment is still the default
    assert page(served, "/matrix", token=None).status_code == 401
