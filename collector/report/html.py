"""The reviewer report as one self-contained HTML file: no script, no external resource, light and dark.

It is meant to be attached to a gate review and opened years later, offline: the stylesheet is inline,
the charts are inline SVG from :mod:`slo.charts` (the board's own), and nothing depends on the clock, so
the same packets always give the same bytes. Every value from a packet is escaped with
``html.escape(quote=True)``; control characters are shown as visible escapes; the charts escape
their own text for XML.
"""

from __future__ import annotations

from html import escape
from typing import Any

from collector.report.review import (
    ReviewItem,
    checks,
    digest_words,
    provenance,
    signature_failed,
    signature_words,
    value_text,
)
from collector.report.safe import escape_controls
from slo.charts import CHART_CSS, check_charts

STYLE = (
    """\
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --other: #6e7781; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d;
  --pass: #3fb950; --warn: #d29922; --fail: #f85149; --other: #8d96a0; } }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 1.5rem; max-width: 72rem; }
table { border-collapse: collapse; margin: .8rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left; vertical-align: top; }
.verdict { font-weight: 700; text-transform: uppercase; }
.v-pass { color: var(--pass); } .v-warn { color: var(--warn); } .v-fail, .v-error { color: var(--fail); }
.v-no_data, .v-skip { color: var(--other); } .bad { color: var(--fail); font-weight: 700; }
.muted { color: var(--muted); } code { font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
section.check { border-top: 1px solid var(--line); margin-top: 1rem; }
"""
    + CHART_CSS
)


def _e(value: Any) -> str:
    """HTML-escaped, with control and bidi characters shown as visible escapes (as every human output does)."""
    return escape(escape_controls("" if value is None else str(value)), quote=True)


def _verdict(verdict: Any) -> str:
    return f'<span class="verdict v-{_e(verdict)}">{_e(verdict)}</span>'


def _anchor(index: int, check_id: Any = None) -> str:
    return f"p{index}" + (f"-{_e(check_id)}" if check_id is not None else "")


def _summary(items: list[ReviewItem]) -> str:
    rows = []
    for index, item in enumerate(items):
        document = item.document
        subject = document.get("subject") or {}
        counts = document.get("counts") or {}
        tally = ", ".join(f"{_e(k)} {_e(v)}" for k, v in sorted(counts.items()) if v)
        trust = "" if item.ok else ' <span class="bad">verification failed</span>'
        rows.append(
            f'<tr><td><a href="#{_anchor(index)}">{_e((document.get("gate") or {}).get("id"))}</a></td>'
            f"<td>{_e(subject.get('environment'))}</td><td>{_e(subject.get('release'))}</td>"
            f"<td>{_verdict(document.get('verdict'))}</td><td>{tally}</td>"
            f"<td>{_e((document.get('evaluation') or {}).get('time'))}</td>"
            f"<td>{_e(item.verification.signature.state.value)}{trust}</td></tr>"
        )
    return (
        "<table><caption>Verdicts</caption><thead><tr><th>gate</th><th>environment</th><th>release</th>"
        "<th>verdict</th><th>checks</th><th>evaluated</th><th>signature</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _queries(check: dict[str, Any]) -> str:
    lines = []
    for query in check.get("queries") or []:
        if not isinstance(query, dict):
            continue
        facts = [f"status {_e(query.get('status'))}", f"value {_e(query.get('value'))}"]
        if query.get("backend"):
            facts.append(f"backend {_e(query.get('backend'))}")
        if query.get("time"):
            facts.append(f"at {_e(query.get('time'))}")
        if query.get("response_sha256"):
            facts.append(f"response sha256 {_e(query.get('response_sha256'))}")
        if query.get("reason"):
            facts.append(_e(query.get("reason")))
        lines.append(
            f'<li><span class="muted">{_e(query.get("role"))} {_e(query.get("window") or "")}</span> '
            f'<code>{_e(query.get("query"))}</code><br><span class="muted">{", ".join(facts)}</span></li>'
        )
    return f"<ul>{''.join(lines)}</ul>" if lines else '<p class="muted">no backend queries</p>'


def _context(check: dict[str, Any]) -> str:
    context = check.get("context")
    if not isinstance(context, dict):
        return ""
    charts = "".join(check_charts(check))
    said = f": {_e(context.get('reason'))}" if context.get("reason") else ""
    ranges = "".join(
        f'<li><span class="muted">{_e(q.get("role"))}</span> <code>{_e(q.get("query"))}</code> '
        f'<span class="muted">response sha256 {_e(q.get("response_sha256"))}</span></li>'
        for q in context.get("queries") or []
        if isinstance(q, dict)
    )
    return (
        f'<figure>{charts}<figcaption class="muted">context {_e(context.get("status"))}{said}; '
        f"{_e(context.get('start'))} to {_e(context.get('end'))}, step {_e(context.get('step'))} s; range queries:"
        f"<ul>{ranges}</ul></figcaption></figure>"
    )


def _packet(index: int, item: ReviewItem) -> str:
    document = item.document
    gate = document.get("gate") or {}
    facts = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in provenance(document))
    bad_digest = "" if item.verification.digest.ok else ' class="bad"'
    bad_signature = ' class="bad"' if signature_failed(item) else ""
    facts += f'<tr><th scope="row">digest</th><td{bad_digest}>{_e(digest_words(item))}</td></tr>'
    facts += f'<tr><th scope="row">signature</th><td{bad_signature}>{_e(signature_words(item))}</td></tr>'
    table_rows = "".join(
        f'<tr><td><a href="#{_anchor(index, c.get("id"))}">{_e(c.get("id"))}</a></td>'
        f"<td>{_verdict(c.get('verdict'))}</td><td>{_e(value_text(c))}</td>"
        f"<td>{_e(c.get('objective'))}</td><td>{_e(c.get('reason'))}</td></tr>"
        for c in checks(document)
    )
    sections = "".join(
        f'<section class="check" id="{_anchor(index, c.get("id"))}"><h3>{_verdict(c.get("verdict"))} '
        f'{_e(c.get("id"))} <span class="muted">{_e(c.get("title"))}</span></h3>'
        f"<p>{_e(c.get('reason'))}</p><p>value <code>{_e(value_text(c))}</code> · objective "
        f"<code>{_e(c.get('objective'))}</code> · effect {_e(c.get('effect'))}</p>"
        f"{_queries(c)}{_context(c)}</section>"
        for c in checks(document)
    )
    return (
        f'<section class="packet" id="{_anchor(index)}"><h2>{_e(gate.get("id"))} {_verdict(document.get("verdict"))}'
        f' <span class="muted">{_e(item.name)}</span></h2><table>{facts}</table>'
        "<table><thead><tr><th>check</th><th>verdict</th><th>value</th><th>objective</th><th>reason</th></tr></thead>"
        f"<tbody>{table_rows}</tbody></table>{sections}</section>"
    )


def html_report(items: list[ReviewItem]) -> str:
    """The whole report: a verdict table over every packet, then each packet's provenance, checks and charts."""
    gates = ", ".join(str((i.document.get("gate") or {}).get("id")) for i in items)
    body = "".join(_packet(index, item) for index, item in enumerate(items))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gatepack report: {_e(gates)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>gatepack report</h1>{_summary(items)}{body}</main></body></html>\n"
    )
