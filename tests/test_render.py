"""What a reviewer sees on screen and in Markdown."""

from __future__ import annotations

import re

from rich.console import Console

from collector.report.table import markdown, verdict_table
from slo.evaluate import result, summarize
from slo.evidence import Collector, Evaluation, EvidencePacket, GateRef, SpecRef, Subject, seal
from slo.results import Verdict
from slo.spec import ThresholdCheck


def packet_with(verdicts: list[Verdict]) -> EvidencePacket:
    results = [
        result(ThresholdCheck(id=f"c{i}", kind="threshold", query="up", op=">", target=0), v, f"reason {i}", None)
        for i, v in enumerate(verdicts)
    ]
    summary = summarize(results)
    moment = "2026-01-01T00:00:00Z"
    return seal(
        EvidencePacket(
            gate=GateRef(id="g", title="G"),
            subject=Subject(),
            collector=Collector(version="0"),
            evaluation=Evaluation(time=moment, started_at=moment, finished_at=moment),
            spec=SpecRef(path="g.yaml", sha256="0" * 64),
            checks=results,
            verdict=summary.verdict,
            counts=summary.counts,
        )
    )


def rendered(packet: EvidencePacket) -> str:
    console = Console(width=200, record=True)
    console.print(verdict_table(packet))
    return console.export_text()


def test_small_gate_shows_every_check():
    text = rendered(packet_with([Verdict.PASS, Verdict.FAIL]))
    assert "c0" in text and "c1" in text


def test_large_gate_shows_only_what_did_not_pass():
    verdicts = [Verdict.PASS] * 100
    verdicts[7] = Verdict.FAIL
    verdicts[42] = Verdict.NO_DATA
    text = rendered(packet_with(verdicts))
    assert "c7 " in text and "c42 " in text and "c8 " not in text
    assert "98 passing check(s) not shown" in text
    assert len(re.findall(r"^\| c\d+ ", markdown([packet_with(verdicts)]), re.M)) == 100  # Markdown keeps all
