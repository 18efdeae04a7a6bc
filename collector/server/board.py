"""The board: server-rendered HTML, no JavaScript, no external resources (works offline, without JS).

Every value from a packet is escaped with ``html.escape(quote=True)`` and is only ever placed in element
text or a double-quoted attribute; URLs are built from validated digests and ``urllib.parse.quote``d
parameters. The page sends a CSP that allows no script at all, so a value that escaped escaping would
still not run.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from collector.store import StoredPacket
from slo.charts import CHART_CSS, check_charts
from slo.diff import PacketDiff, describe
from slo.wire import outcomes_of

STYLESHEET = (
    """\
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --other: #6e7781; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d;
  --pass: #3fb950; --warn: #d29922; --fail: #f85149; --other: #8d96a0; } }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 1.5rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid var(--line); padding: .35rem .6rem; text-align: left; vertical-align: top; }
.verdict { font-weight: 700; text-transform: uppercase; }
.v-pass { color: var(--pass); } .v-warn { color: var(--warn); } .v-fail, .v-error { color: var(--fail); }
.v-no_data { color: var(--other); }
.muted { color: var(--muted); } code, pre { font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; }
a:focus, summary:focus, input:focus, button:focus { outline: 3px solid #0969da; outline-offset: 2px; }
details { margin: .3rem 0; } form label { margin-right: 1rem; }
figure.context { margin: .5rem 0; } figure.context figcaption { color: var(--muted); font-size: 13px; }
"""
    + CHART_CSS
)


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)}</title><link rel="stylesheet" href="/static/board.css"></head>'
        f"<body><main>{body}</main></body></html>\n"
    )


def _verdict(verdict: str) -> str:
    return f'<span class="verdict v-{_e(verdict)}">{_e(verdict)}</span>'


def _age(evaluated_at: str, now: float) -> str:
    from collector.timeutil import TimeError, parse_time

    try:
        seconds = max(0.0, now - parse_time(evaluated_at))
    except TimeError:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{math.floor(seconds / size)}{unit}"
    return f"{math.floor(seconds)}s"


def packet_href(digest: str, check: str | None = None) -> str:
    href = f"/packets/{quote(digest, safe='')}"
    return href + (f"#check-{quote(check, safe='')}" if check else "")


def latest_per_gate(rows: list[StoredPacket]) -> dict[str, dict[str, StoredPacket]]:
    """gate → environment → its newest packet (``rows`` come newest first)."""
    latest: dict[str, dict[str, StoredPacket]] = {}
    for row in rows:
        latest.setdefault(row.gate, {}).setdefault(row.environment or "", row)
    return latest


def overview(rows: list[StoredPacket], *, env: str | None, release: str | None, now: float) -> str:
    latest = latest_per_gate(rows)
    envs = sorted({e for per in latest.values() for e in per})
    form = (
        '<form method="get" action="/" role="search"><label>environment '
        f'<input name="env" value="{_e(env)}"></label><label>release '
        f'<input name="release" value="{_e(release)}"></label><button type="submit">filter</button></form>'
    )
    nav = '<p>by environment · <a href="/matrix">sprint matrix</a></p>'
    if not latest:
        return _page("gatepack board", f"<h1>gatepack board</h1>{nav}{form}<p>No packets in the store match.</p>")
    head = "".join(f'<th scope="col">{_e(e) or "(none)"}</th>' for e in envs)
    lines = []
    for gate in sorted(latest):
        cells = []
        for environment in envs:
            row = latest[gate].get(environment)
            if row is None:
                cells.append('<td class="muted">–</td>')
                continue
            failing = [c for c in row.document().get("checks", []) if c.get("verdict") in {"fail", "error"}]
            links = "".join(
                f'<li><a class="failing-check" href="{_e(packet_href(row.digest, c.get("id")))}">{_e(c.get("id"))}</a>'
                f' <span class="muted">{_e(c.get("reason"))}</span></li>'
                for c in failing
            )
            cells.append(
                f'<td data-gate="{_e(gate)}" data-env="{_e(environment)}">'
                f'<a href="{_e(packet_href(row.digest))}">{_verdict(row.verdict)}</a> '
                f'<span class="muted">{_e(row.release)} · {_e(_age(row.evaluated_at, now))} old</span>'
                + (f'<ul class="failing">{links}</ul>' if links else "")
                + "</td>"
            )
        lines.append(f'<tr><th scope="row">{_e(gate)}</th>{"".join(cells)}</tr>')
    table = (
        '<table id="gates"><caption>Latest verdict per gate and environment</caption>'
        f'<thead><tr><th scope="col">gate</th>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'
    )
    return _page("gatepack board", f"<h1>gatepack board</h1>{nav}{form}{table}")


def _explore(query: dict[str, Any]) -> str:
    backend = query.get("backend")
    if not isinstance(backend, str) or not backend.startswith(("http://", "https://")):
        return ""
    params = urlencode({"g0.expr": query.get("query", ""), "g0.tab": "table"})
    if query.get("time"):
        params += "&" + urlencode({"g0.moment_input": query["time"]})
    href = backend.rstrip("/") + "/graph?" + params
    return f' <a class="run-query" href="{_e(href)}" rel="noreferrer noopener">run in Prometheus</a>'


def _check(check: dict[str, Any], document: dict[str, Any]) -> str:
    queries = "".join(
        f'<li><span class="muted">{_e(q.get("role"))} {_e(q.get("window"))}</span> '
        f'<code class="query">{_e(q.get("query"))}</code>{_explore(q)}'
        f'<br><span class="muted">status {_e(q.get("status"))}, value {_e(q.get("value"))}, '
        f"attempts {_e(q.get('attempts'))}{', fault ' + _e(q.get('fault')) if q.get('fault') else ''}"
        f"{', ' + _e(q.get('reason')) if q.get('reason') else ''}</span></li>"
        for q in outcomes_of(check, document)
    )
    failing = check.get("verdict") in {"fail", "error"}
    cid = _e(check.get("id"))
    return (
        f'<details id="check-{cid}" class="check"{" open" if failing else ""}>'
        f"<summary>{_verdict(str(check.get('verdict')))} <strong>{cid}</strong> {_e(check.get('title'))}</summary>"
        f'<p class="reason">{_e(check.get("reason"))}</p>'
        f"<p>value <code>{_e(check.get('value'))}</code> {_e(check.get('unit'))} · objective "
        f"<code>{_e(check.get('objective'))}</code> · effect {_e(check.get('effect'))}</p>"
        + (f'<ul class="queries">{queries}</ul>' if queries else '<p class="muted">no backend queries</p>')
        + context_figure(check)
        + "</details>"
    )


def context_figure(check: dict[str, Any]) -> str:
    """The check's context charts (inline SVG, escaped by :mod:`slo.charts`) and the range queries behind them."""
    context = check.get("context")
    if not isinstance(context, dict):
        return ""
    charts = "".join(check_charts(check))
    queries = "".join(
        f'<li><span class="muted">{_e(q.get("role"))}</span> <code class="context-query">{_e(q.get("query"))}</code>'
        f' <span class="muted">sha256 {_e(str(q.get("response_sha256") or "")[:12])}</span></li>'
        for q in context.get("queries", [])
        if isinstance(q, dict)
    )
    said = f" · {_e(context.get('reason'))}" if context.get("reason") else ""
    return (
        f'<figure class="context">{charts}<figcaption>context {_e(context.get("status"))}{said}: '
        f"{_e(context.get('start'))} to {_e(context.get('end'))}, step {_e(context.get('step'))} s"
        f'<ul class="context-queries">{queries}</ul></figcaption></figure>'
    )


def packet_page(
    row: StoredPacket, document: dict[str, Any], diff: PacketDiff | None, previous: str | None, signature: str
) -> str:
    subject = document.get("subject") or {}
    facts = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>'
        for k, v in (
            ("environment", subject.get("environment")),
            ("release", subject.get("release")),
            ("commit", subject.get("commit")),
            ("evaluated", row.evaluated_at),
            ("digest", row.digest),
            ("signature", signature),
        )
    )
    checks = "".join(_check(c, document) for c in document.get("checks", []))
    changes = ""
    if diff is not None and previous is not None:
        items = "".join(f"<li><strong>{_e(c.id)}</strong>: {_e(describe(c))}</li>" for c in diff.changed)
        changes = (
            f'<h2>Since the previous packet (<a href="{_e(packet_href(previous))}">{_e(previous[:12])}</a>)</h2>'
            + (f"<ul>{items}</ul>" if items else "<p>No check changed.</p>")
        )
    body = (
        f'<p><a href="/">← board</a></p><h1>{_e(row.gate)} {_verdict(row.verdict)}</h1>'
        f"<table>{facts}</table><h2>Checks</h2>{checks}{changes}"
    )
    return _page(f"{row.gate} · {row.verdict}", body)
