"""The SVG charts: always well-formed XML whatever a packet holds, gaps break the line, thresholds drawn."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from slo.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Chart, Threshold, check_charts, line_chart

SVG = "{http://www.w3.org/2000/svg}"
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # XML 1.0's Char, restated
numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6))


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def series_path(root: ET.Element) -> str | None:
    for path in root.iter(f"{SVG}path"):
        if path.get("class") == "gp-series":
            return path.get("d")
    return None


@settings(max_examples=300)
@given(
    title=st.text(),
    description=st.text(),
    y_label=st.text(),
    values=st.lists(numbers, max_size=250),
    thresholds=st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.text()), max_size=3),
    start=st.one_of(st.none(), st.floats(-1e12, 1e12), st.floats(allow_nan=True, allow_infinity=True)),
    standalone=st.booleans(),
)
def test_any_labels_and_values_give_well_formed_svg(title, description, y_label, values, thresholds, start, standalone):
    chart = Chart(title, description, y_label, start, 60, values, [Threshold(v, label) for v, label in thresholds])
    svg = line_chart(chart, standalone=standalone)
    root = parse(svg)
    for path in root.iter(f"{SVG}path"):
        assert re.fullmatch(r"[MLVHh0-9. -]*", path.get("d") or ""), path.get("d")  # never nan/inf coordinates
    # the text survives exactly (characters XML cannot hold become U+FFFD), as text, never as markup
    assert (root.find(f"{SVG}title").text or "") == NOT_XML.sub("\ufffd", title)
    assert (root.find(f"{SVG}desc").text or "") == NOT_XML.sub("\ufffd", description)
    assert root.get("role") == "img" and root.get("aria-labelledby", "").count("gp-") == 2
    assert {el.tag for el in root.iter()} <= {f"{SVG}{t}" for t in ("svg", "title", "desc", "style", "text", "path")}


@given(
    check=st.recursive(st.one_of(st.none(), st.text(), numbers), lambda c: st.lists(c) | st.dictionaries(st.text(), c))
)
def test_check_charts_never_fail_on_a_malformed_check(check):
    document = {"id": "x", "context": check}
    for svg in check_charts(document):
        parse(svg)


def test_gaps_break_the_line_and_a_lone_point_is_still_drawn():
    chart = Chart("t", "d", "y", 0.0, 60, [0.0, 1.0, None, 0.5, math.nan, 1.0], [])
    d = series_path(parse(line_chart(chart)))
    assert d is not None
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x = [LEFT + inner_w * i / 5 for i in range(6)]
    # the y range is the values' span widened by 5 % each side: [-0.05, 1.05]
    y = {v: TOP + inner_h * (1 - (v + 0.05) / 1.1) for v in (0.0, 0.5, 1.0)}

    def pt(i: int, v: float) -> str:
        return f"{x[i]:.2f}".rstrip("0").rstrip(".") + " " + f"{y[v]:.2f}".rstrip("0").rstrip(".")

    assert d == f"M{pt(0, 0.0)}h0L{pt(1, 1.0)}M{pt(3, 0.5)}h0M{pt(5, 1.0)}h0"


def test_slo_context_gives_sli_and_burn_rate_charts_with_their_thresholds():
    check = {
        "id": "availability",
        "title": "Availability <&>",
        "context": {
            "series": "error_ratio", "window": "5m", "start": "2026-01-01T00:00:00Z", "step": 60,
            "values": [0.0005, None, 0.05], "thresholds": {"objective": 99.9, "burn_rate": 14.4},
        },
    }  # fmt: skip
    sli, burn = (parse(svg) for svg in check_charts(check))
    assert sli.find(f"{SVG}title").text == "Availability <&>: SLI over 5m windows"
    labels = [t.text for t in sli.iter(f"{SVG}text")]
    assert "objective 99.9" in labels and "2026-01-01 00:00" in labels and "2026-01-01 00:02" in labels
    assert "max 99.95 %" in sli.find(f"{SVG}desc").text
    assert "page at 14.4" in [t.text for t in burn.iter(f"{SVG}text")]
    desc = burn.find(f"{SVG}desc").text
    assert "min 0.5×" in desc and "max 50×" in desc  # 0.0005 / 0.001 and 0.05 / 0.001
    assert [p.get("class") for p in burn.iter(f"{SVG}path")].count("gp-series") == 1


def test_no_context_no_chart_and_empty_range_says_so():
    assert check_charts({"id": "x"}) == []
    svg = line_chart(Chart("t", "d", "y", 0.0, 60, [None, None], [Threshold(1.0, "target")]))
    assert "no data in this range" in svg and series_path(parse(svg)) is None
