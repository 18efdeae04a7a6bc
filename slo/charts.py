"""SVG line charts of a check's context series: pure text in, SVG text out (no I/O, no clock, no network).

The board and the reports draw the same charts from a packet's ``context`` (:class:`slo.results.CheckContext`),
so the picture a reviewer sees on the board is the one attached to the gate review. Design choices:

* Self-contained SVG with no script, no external font, stylesheet or image: it renders offline and
  under the board's ``default-src 'none'`` policy.
* Light and dark: every stroke and text is ``currentColor`` (it follows the surrounding page); the
  series and threshold colours are CSS classes (:data:`CHART_CSS`) with a ``prefers-color-scheme`` variant,
  and a standalone SVG file carries that stylesheet inside itself.
* Accessible: ``role="img"`` labelled by a ``<title>`` and a ``<desc>`` that says in words what the line shows.
* Every text that comes from a packet is escaped for XML and stripped of characters XML 1.0 cannot hold,
  so no label (a check title, a unit, a reason) can break the document or inject markup.
* Gaps (``null``, NaN, ±Inf) break the line instead of being drawn as zero.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40

CHART_CSS = """\
.gp-chart { color: #1b1f24; max-width: 100%; height: auto; }
.gp-chart .gp-series { stroke: #0969da; }
.gp-chart .gp-threshold { stroke: #cf222e; }
.gp-chart .gp-warn { stroke: #9a6700; }
.gp-chart .gp-grid { stroke-opacity: .18; }
@media (prefers-color-scheme: dark) {
  .gp-chart { color: #e6edf3; }
  .gp-chart .gp-series { stroke: #58a6ff; }
  .gp-chart .gp-threshold { stroke: #f85149; }
  .gp-chart .gp-warn { stroke: #d29922; }
}
"""
"""Colours for the chart classes; the board serves it in its stylesheet, standalone SVG embeds it."""

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """``value`` as XML character data or attribute text: escaped, and without characters XML cannot hold."""
    text = _NOT_XML.sub("\ufffd", "" if value is None else str(value))
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
        .replace("\r", "&#13;")
    )


@dataclass(frozen=True)
class Threshold:
    """A horizontal line: what the value is held against (a target, an objective, a burn-rate factor)."""

    value: float
    label: str
    kind: str = "threshold"  # threshold or warn: the CSS class that colours it


@dataclass(frozen=True)
class Chart:
    """One line over time: ``values[i]`` at ``start + i × step`` seconds; None (or a non-finite number) is a gap."""

    title: str
    description: str
    y_label: str
    start: float | None
    step: float
    values: Sequence[float | None]
    thresholds: Sequence[Threshold] = field(default_factory=tuple)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _num(value: float) -> str:
    """A coordinate: two decimals, never ``nan`` (callers only pass finite numbers)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _label(value: float) -> str:
    return f"{value:.4g}"


def _when(start: float | None, offset: float) -> str:
    if start is None:
        return ""
    try:
        return datetime.fromtimestamp(start + offset, tz=UTC).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def _scale(value: float, low: float, high: float) -> float | None:
    """Where ``value`` sits between ``low`` and ``high`` (0..1); halves keep the span of huge doubles finite."""
    span = high / 2 - low / 2
    if not span > 0:
        return 0.5
    fraction = (value / 2 - low / 2) / span
    return fraction if math.isfinite(fraction) else None


def _bounds(points: Sequence[float], thresholds: Sequence[Threshold]) -> tuple[float, float]:
    numbers = [*points, *(t.value for t in thresholds if math.isfinite(t.value))]
    low, high = min(numbers), max(numbers)
    pad = (high / 2 - low / 2) * 0.1  # 5 % of the span each side: a line at the edge stays off the axes
    if not pad > 0 or not math.isfinite(pad):
        pad = abs(low) * 0.05 or 1.0
    padded = (low - pad, high + pad)
    return padded if all(math.isfinite(v) for v in padded) else (low, high)


def chart_id(*parts: object) -> str:
    """An XML-safe id, stable for the same parts (the board and a report may hold many charts)."""
    return "gp-" + hashlib.sha256("\x00".join(map(str, parts)).encode("utf-8", "replace")).hexdigest()[:12]


def line_chart(chart: Chart, *, ident: str | None = None, standalone: bool = False) -> str:
    """The SVG text of ``chart``; ``standalone`` embeds :data:`CHART_CSS` for a file of its own."""
    ident = ident or chart_id(chart.title, chart.start, len(chart.values))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [_finite(v) for v in chart.values]
    present = [v for v in values if v is not None]
    thresholds = [t for t in chart.thresholds if math.isfinite(t.value)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gp-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{ident}-t">{xml_text(chart.title)}</title>',
        f'<desc id="{ident}-d">{xml_text(chart.description)}</desc>',
    ]
    if standalone:
        parts.append(f"<style>{CHART_CSS}</style>")  # a constant without markup characters
    parts.append(
        f'<text x="{LEFT}" y="16" fill="currentColor" font-size="13" font-weight="600">{xml_text(chart.title)}</text>'
    )
    axes = f"M{LEFT} {TOP}V{TOP + inner_h}H{LEFT + inner_w}"
    parts.append(f'<path class="gp-axes" d="{axes}" fill="none" stroke="currentColor" stroke-width="1"/>')
    span = (len(values) - 1) * chart.step if len(values) > 1 else 0.0
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 22}" fill="currentColor">{xml_text(_when(chart.start, 0.0))}</text>'
        f'<text x="{LEFT + inner_w}" y="{HEIGHT - 22}" fill="currentColor" text-anchor="end">'
        f"{xml_text(_when(chart.start, span))}</text>"
        f'<text x="{LEFT + inner_w / 2:g}" y="{HEIGHT - 6}" fill="currentColor" text-anchor="middle">time (UTC)</text>'
        f'<text transform="translate(14 {TOP + inner_h / 2:g}) rotate(-90)" fill="currentColor" '
        f'text-anchor="middle">{xml_text(chart.y_label)}</text>'
    )
    if not present:
        parts.append(
            f'<text x="{LEFT + inner_w / 2:g}" y="{TOP + inner_h / 2:g}" fill="currentColor" '
            'text-anchor="middle">no data in this range</text></svg>'
        )
        return "".join(parts)
    low, high = _bounds(present, thresholds)

    def y_of(value: float) -> float | None:
        fraction = _scale(value, low, high)
        return None if fraction is None else TOP + inner_h * (1 - fraction)

    for tick in (low, high):
        y = y_of(tick)
        if y is None:
            continue
        parts.append(
            f'<path class="gp-grid" d="M{LEFT} {_num(y)}H{LEFT + inner_w}" stroke="currentColor" stroke-width="1"/>'
            f'<text x="{LEFT - 4}" y="{_num(y + 4)}" fill="currentColor" text-anchor="end">{xml_text(_label(tick))}</text>'
        )
    for threshold in thresholds:
        y = y_of(threshold.value)
        if y is None:
            continue
        css = "gp-warn" if threshold.kind == "warn" else "gp-threshold"
        parts.append(
            f'<path class="{css}" d="M{LEFT} {_num(y)}H{LEFT + inner_w}" stroke="currentColor" stroke-width="1.5" '
            'stroke-dasharray="6 4" fill="none"/>'
            f'<text x="{LEFT + inner_w - 2}" y="{_num(y - 4)}" fill="currentColor" text-anchor="end">'
            f"{xml_text(threshold.label)} {xml_text(_label(threshold.value))}</text>"
        )
    path = _line(values, inner_w, y_of)
    if path:
        parts.append(
            f'<path class="gp-series" d="{path}" fill="none" stroke="currentColor" stroke-width="2" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _line(values: Sequence[float | None], inner_w: float, y_of: Callable[[float], float | None]) -> str:
    """Path data with a new ``M`` after every gap; a lone point is a round-capped zero-length stroke."""
    count = len(values)
    commands: list[str] = []
    pen_down = False
    for index, value in enumerate(values):
        y = None if value is None else y_of(value)
        if y is None:
            pen_down = False
            continue
        x = LEFT + (inner_w * index / (count - 1) if count > 1 else inner_w / 2)
        commands.append(f"{'L' if pen_down else 'M'}{_num(x)} {_num(y)}")
        if not pen_down:
            commands.append("h0")  # visible even when the next point is a gap
        pen_down = True
    return "".join(commands)


def _start_seconds(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _range_words(values: Sequence[float | None], unit: str) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "no samples"
    return (
        f"min {_label(min(present))}{unit}, max {_label(max(present))}{unit}, "
        f"last {_label(present[-1])}{unit}, {len(values) - len(present)} of {len(values)} points missing"
    )


def check_charts(check: Mapping[str, Any], *, standalone: bool = False) -> list[str]:
    """The SVG charts of one serialised check (a packet's ``checks[i]``): none without a recorded context.

    SLO checks get two: the SLI in percent against the objective, and the burn rate against the fastest
    alert condition's factor, both derived from the recorded error ratio. Threshold checks get their value
    against target (and warn).
    """
    context = check.get("context")
    if not isinstance(context, Mapping) or not isinstance(context.get("values"), list) or not context["values"]:
        return []
    raw = context["values"]
    ratios: list[float | None] = [_finite(v) for v in raw]
    step = _finite(context.get("step")) or 1.0
    start = _start_seconds(context.get("start"))
    thresholds = context.get("thresholds") if isinstance(context.get("thresholds"), Mapping) else {}
    assert isinstance(thresholds, Mapping)
    name = str(check.get("id", ""))
    title = str(check.get("title") or name)
    when = f"from {_when(start, 0.0)} to {_when(start, (len(raw) - 1) * step)} UTC, one point every {step:g} s"
    charts: list[str] = []
    if context.get("series") == "error_ratio":
        window = str(context.get("window") or "")
        objective = _finite(thresholds.get("objective"))
        factor = _finite(thresholds.get("burn_rate"))
        sli = [None if r is None else 100.0 * (1.0 - r) for r in ratios]
        marks = [Threshold(objective, "objective")] if objective is not None else []
        charts.append(
            line_chart(
                Chart(
                    f"{title}: SLI over {window} windows",
                    f"SLI of {name} in percent over {window} windows {when}: {_range_words(sli, ' %')}"
                    + (f"; objective {_label(objective)} %" if objective is not None else ""),
                    "SLI %",
                    start,
                    step,
                    sli,
                    marks,
                ),
                ident=chart_id(name, "sli"),
                standalone=standalone,
            )
        )
        if objective is not None and objective < 100:
            budget = 1.0 - objective / 100.0
            burn = [None if r is None else r / budget for r in ratios]
            limit = [Threshold(factor, "page at")] if factor is not None else []
            charts.append(
                line_chart(
                    Chart(
                        f"{title}: burn rate over {window} windows",
                        f"Error-budget burn rate of {name} over {window} windows {when}: {_range_words(burn, '×')}"
                        + (f"; fastest alert factor {_label(factor)}" if factor is not None else ""),
                        "burn rate ×",
                        start,
                        step,
                        burn,
                        limit,
                    ),
                    ident=chart_id(name, "burn"),
                    standalone=standalone,
                )
            )
        return charts
    unit = str(check.get("unit") or "")
    marks = []
    for key, kind in (("target", "threshold"), ("warn", "warn")):
        value = _finite(thresholds.get(key))
        if value is not None:
            marks.append(Threshold(value, key, kind))
    suffix = f" {unit}" if unit else ""
    charts.append(
        line_chart(
            Chart(
                f"{title}: value",
                f"Value of {name}{suffix} {when}: {_range_words(ratios, suffix)}",
                unit or "value",
                start,
                step,
                ratios,
                marks,
            ),
            ident=chart_id(name, "value"),
            standalone=standalone,
        )
    )
    return charts
