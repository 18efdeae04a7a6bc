"""The reviewer report in Markdown, with its charts as SVG files beside it.

Markdown cannot hold inline SVG portably (GitHub strips it), so each chart becomes a file in a folder
next to the report (``report.md`` → ``report-charts/``) and the report links it as an image; a reviewer
who attaches the report attaches the folder too. Every packet value goes through the same cell and code
escaping as ``collect --markdown`` (no raw HTML, no table break, no control sequence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from collector.report.review import (
    ReviewItem,
    checks,
    digest_words,
    provenance,
    signature_failed,
    signature_words,
    value_text,
)
from collector.report.table import markdown_cell, markdown_code
from slo.charts import check_charts

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class MarkdownReport:
    text: str
    charts: list[tuple[str, str]]  # (file name inside the charts folder, SVG text)


def _cell(value: Any) -> str:
    return markdown_cell("" if value is None else str(value))


def _file_name(*parts: object) -> str:
    return "-".join(_UNSAFE_NAME.sub("_", str(p)).strip("._") or "x" for p in parts)[:120] + ".svg"


def markdown_report(items: list[ReviewItem], charts_dir: str) -> MarkdownReport:
    """The report text and the chart files it links (relative to the report, under ``charts_dir``)."""
    lines = ["# gatepack report", "", "| gate | environment | release | verdict | evaluated | signature |"]
    lines.append("|---|---|---|---|---|---|")
    for item in items:
        document = item.document
        subject = document.get("subject") or {}
        trust = " **verification failed**" if not item.ok else ""
        lines.append(
            f"| {_cell((document.get('gate') or {}).get('id'))} | {_cell(subject.get('environment'))} "
            f"| {_cell(subject.get('release'))} | **{_cell(str(document.get('verdict')).upper())}** "
            f"| {_cell((document.get('evaluation') or {}).get('time'))} "
            f"| {_cell(item.verification.signature.state.value)}{trust} |"
        )
    charts: list[tuple[str, str]] = []
    for index, item in enumerate(items, start=1):
        document = item.document
        lines += ["", f"## {_cell((document.get('gate') or {}).get('id'))}: **{_cell(document.get('verdict'))}**"]
        lines += ["", f"File: `{markdown_code(item.name)}`", "", "| | |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in provenance(document)]
        lines.append(f"| digest | {'**' if not item.verification.digest.ok else ''}{_cell(digest_words(item))}"
                     f"{'**' if not item.verification.digest.ok else ''} |")  # fmt: skip
        bold = "**" if signature_failed(item) else ""
        lines.append(f"| signature | {bold}{_cell(signature_words(item))}{bold} |")
        lines += ["", "| check | verdict | value | objective | reason |", "|---|---|---|---|---|"]
        for check in checks(document):
            lines.append(
                f"| {_cell(check.get('id'))} | **{_cell(check.get('verdict'))}** | {_cell(value_text(check))} "
                f"| {_cell(check.get('objective'))} | {_cell(check.get('reason'))} |"
            )
        for check in checks(document):
            lines += ["", f"### {_cell(check.get('id'))} — {_cell(check.get('title'))}", ""]
            for query in check.get("queries") or []:
                if isinstance(query, dict):
                    sha = (
                        f", response sha256 `{markdown_code(str(query['response_sha256']))}`"
                        if query.get("response_sha256")
                        else ""
                    )
                    said = " ".join(_cell(query.get(k)) for k in ("role", "window") if query.get(k))
                    lines.append(
                        f"- {said}: "
                        f"`{markdown_code(str(query.get('query')))}` → {_cell(query.get('status'))} "
                        f"{_cell(query.get('value'))}{sha}"
                    )
            context = check.get("context")
            for number, svg in enumerate(check_charts(check, standalone=True), start=1):
                name = _file_name(index, (document.get("gate") or {}).get("id"), check.get("id"), number)
                charts.append((name, svg))
                alt = _cell(check.get("id")).replace("[", "(").replace("]", ")")
                lines += ["", f"![{alt} chart {number}]({quote(f'{charts_dir}/{name}')})"]
            if isinstance(context, dict) and context.get("reason"):
                lines += ["", f"Context {_cell(context.get('status'))}: {_cell(context.get('reason'))}"]
    return MarkdownReport("\n".join(lines) + "\n", charts)
