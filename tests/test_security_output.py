"""Control characters from label values and backend errors never reach a human output raw.

The hostile server answers with label values carrying ``ESC[2J`` (clear screen), an OSC 8 hyperlink
and rich markup (``[link=…]``), and an error message carrying the same. Terminal table, Markdown
(stdout and ``--markdown``), JUnit and stderr show them escaped; the packet keeps the exact text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.report.junit import junit_xml
from collector.report.safe import escape_controls, is_safe
from collector.report.table import markdown, markdown_cell
from slo.evaluate import error_result
from slo.evidence import Collector, Evaluation, EvidencePacket, GateRef, SpecRef, Subject, seal
from slo.results import Verdict
from slo.spec import ThresholdCheck
from tests.faulty_backend import CLEAR_SCREEN, OSC8_LINK, FaultyBackend

GATE = """apiVersion: gatepack/v1
kind: Gate
id: hostile
title: Hostile
checks:
  - {id: labels, kind: threshold, query: 'sum(hostile_metric)', op: '>', target: 0}
  - {id: errors, kind: threshold, query: 'sum(hostileerr_metric)', op: '>', target: 0}
"""
RAW = ("\x1b", "\x07", "\x9b")


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_no_control_character_reaches_a_screen_or_report(tmp_path, faulty, fmt):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    out = tmp_path / "ev"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector.cli",
            "collect",
            str(spec),
            "-p",
            faulty.url,
            "--out",
            str(out),
            "--format",
            fmt,
            "--timeout",
            "3",
            "--junit",
            str(tmp_path / "j.xml"),
            "--markdown",
            str(tmp_path / "s.md"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "FORCE_COLOR": "0", "TERM": "dumb"},
    )
    assert result.returncode == 1, result.stderr
    junit = (tmp_path / "j.xml").read_text()
    summary = (tmp_path / "s.md").read_text()
    for text in (result.stdout, result.stderr, junit, summary):
        assert not any(c in text for c in RAW), repr(text[:400])
        assert "evil.example" not in text or "\\x1b]8" in text  # a link only as visible, inert text
    shown = result.stdout.replace("\n", "")
    assert "\\x1b[2J" in shown  # escaped, so a reviewer sees that the label carried it
    ET.fromstring(junit.encode())  # well-formed XML 1.0 (raw ESC is not allowed in XML)
    packet = json.loads(next(out.glob("hostile-*.json")).read_text())
    reason = next(c for c in packet["checks"] if c["id"] == "labels")["reason"]
    assert CLEAR_SCREEN in reason and OSC8_LINK in reason  # the evidence keeps what the backend said


def _packet(reason: str, title: str = "t") -> EvidencePacket:
    check = ThresholdCheck(id="c", kind="threshold", query="up", op=">", target=0)
    return seal(
        EvidencePacket(
            gate=GateRef(id="g", title=title),
            subject=Subject(service=f"svc{CLEAR_SCREEN}"),
            evaluation=Evaluation(time="2026-01-01T00:00:00Z", started_at="x", finished_at="y"),
            collector=Collector(version="0"),
            spec=SpecRef(path="p", sha256="0" * 64),
            checks=[error_result(check, reason, "2026-01-01T00:00:00Z")],
            verdict=Verdict.ERROR,
            counts={"error": 1},
        )
    )


@given(st.text(max_size=60), st.text(max_size=20))
def test_reports_are_safe_for_any_text(reason, title):
    packet = _packet(reason, title)
    for text in (markdown([packet]), junit_xml([packet]).decode()):
        assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text)
    ET.fromstring(junit_xml([packet]))
    assert "\n" not in markdown_cell(reason) and is_safe(escape_controls(reason))


def test_markdown_cell_keeps_one_row():
    assert markdown_cell("a|b\nc<script>") == "a\\|b c&lt;script>"
    assert escape_controls("x\x1b[2Jy\u202e") == "x\\x1b[2Jy\\u202e"


HOSTILE_REASON = (
    f'query returned 2 series ({{service="api{CLEAR_SCREEN}{OSC8_LINK}"}}, '
    '{service="[link=https://evil.example/]web[/link]"}); aggregate it | sum <b>it</b>\u202eliaf'
)


def test_hostile_text_renders_as_reviewed(golden):
    """What a reviewer sees for hostile text, in each human output (``pytest --update-golden`` rewrites)."""
    import io

    from rich.console import Console

    from collector.report.table import verdict_table

    packet = _packet(HOSTILE_REASON, title=f"gate{CLEAR_SCREEN}")
    screen = io.StringIO()
    Console(file=screen, width=160, color_system=None, force_terminal=False, legacy_windows=False).print(
        verdict_table(packet)
    )
    for name, text in (
        ("hostile.table.txt", screen.getvalue()),
        ("hostile.md", markdown([packet])),
        ("hostile.junit.xml", junit_xml([packet]).decode()),
    ):
        assert not any(c in text for c in RAW)
        golden(name, text)
