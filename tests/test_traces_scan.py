"""The one-pass OTLP file scanner against the reference decoder and the generator's own record.

``scan_file`` (typed msgspec structs, filters on raw fields) must give exactly what feeding every
span decoded by the reference decoder (``read_spans``) to the same checks gives: values, verdicts,
reasons and counts, on a file with decoys (outside the window, another service, another span kind),
spellings only the reference path reads (base64 ids, enum names, JSON-number times, doubles, arrays)
and malformed spans, whose error must name the same line and field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.sources.traces import parallel
from collector.sources.traces.local import SpanBatch
from collector.sources.traces.otlp_file import read_spans, scan_file
from collector.sources.traces.pricing_file import load_pricing
from slo.aicost import CostAggregator
from slo.errors import InputError
from slo.loader import load_gates
from tests.test_traces_otlp import AT, GATE, PRICE_YAML, S, generate

EXTRA_CHECKS = """
  - {id: roots, kind: trace, window: 24h, filter: {root: true}, aggregate: count, op: ">=", target: 0}
  - {id: slow-errors, kind: trace, window: 2h, filter: {status: error, min_duration: 50ms}, aggregate: rate, op: ">=", target: 0}
  - {id: by-model, kind: trace, window: 24h, filter: {attributes_regex: {gen_ai.request.model: "^gpt"}}, by: [gen_ai.request.model], aggregate: max, attribute: gen_ai.usage.output_tokens, op: "<=", target: 1e9}
  - {id: tokens-day, kind: ai_cost, window: 24h, per: day, measure: tokens, aggregate: max, op: "<=", target: 1e12}
  - {id: genai-runs, kind: ai_cost, window: 24h, filter: {attributes_regex: {gen_ai.operation.name: "."}}, per: run, aggregate: avg, op: "<=", target: 1e9}
"""


def _table(tmp_path: Path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(yaml.safe_dump(PRICE_YAML))
    return load_pricing(prices)[0]


def _outcome(path: Path, tmp_path: Path, fast: bool, workers: int | None = None) -> list[tuple] | str:
    """Every check's verdict, value, reason and details; or the error, as the user reads it."""
    gate = load_gates(GATE + EXTRA_CHECKS, "g.yaml")[0]
    batch = SpanBatch(gate.checks, AT, _table(tmp_path))
    try:
        if fast:
            spans = scan_file(path, batch, workers=workers)
        else:
            spans = batch.add_all(read_spans(path))
    except InputError as exc:
        return str(exc)
    results = batch.results("2026-01-01T00:00:00Z")
    return [(spans, r.id, r.verdict, r.value, r.reason, r.details) for r in results]


def _span(n: int, **fields) -> dict:
    span = {
        "traceId": f"{n:032x}",
        "spanId": f"{n + 1:016x}",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str((AT - 600) * S + n),
        "endTimeUnixNano": str((AT - 599) * S + n),
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": str(n % 50)}},
        ],
    }
    span.update(fields)
    return {k: v for k, v in span.items() if v is not None}


def _line(*spans: dict, service: str = "agent") -> str:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]})


UNUSUAL = [  # valid spellings the typed structs leave to the reference decoder
    _span(1, traceId="AAAAAAAAAAAAAAAAAAAAAQ==", spanId="AAAAAAAAAAI="),  # base64 ids (protobuf JSON mapping)
    _span(2, kind="SPAN_KIND_CLIENT", status={"code": "STATUS_CODE_ERROR"}),
    _span(3, startTimeUnixNano=(AT - 500) * S, endTimeUnixNano=(AT - 499) * S),  # JSON numbers
    _span(4, attributes=[{"key": "gen_ai.usage.output_tokens", "value": {"intValue": 12}}]),
    _span(5, attributes=[{"key": "x", "value": {"doubleValue": "NaN"}}, {"key": "y", "value": {"arrayValue": {}}}]),
    _span(6, attributes=None, status={"code": 2}),  # no attributes: counted, never priced
    _span(7, parentSpanId="", startTimeUnixNano="00" + str((AT - 400) * S), endTimeUnixNano=str((AT - 300) * S)),
    _span(8, attributes=[{"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "lots"}}]),  # bad count
]


def _mixed_file(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.jsonl"
    generate(path, runs=120, seed=3)
    with path.open("a") as handle:
        for span in UNUSUAL:
            handle.write(_line(span) + "\n")
        handle.write(_line(_span(20), _span(21), service="billing") + "\n")  # another service
        # root spans the cost filter does not take (a web server's own traces): not runs, in either path
        web = [{"key": "http.route", "value": {"stringValue": "/"}}]
        handle.write(_line(_span(40, attributes=web), _span(42, attributes=web), service="web") + "\n")
        handle.write(_line(_span(22, startTimeUnixNano=str((AT + 5) * S), endTimeUnixNano=str((AT + 6) * S))) + "\n")
        handle.write("\n" + json.dumps({"resourceSpans": []}) + "\n")
    return path


def test_fast_scan_equals_the_reference_decoder(tmp_path):
    path = _mixed_file(tmp_path)
    fast, reference = _outcome(path, tmp_path, True), _outcome(path, tmp_path, False)
    assert isinstance(fast, list) and fast == reference
    by_id = {row[1]: row for row in fast}
    assert "lots" in by_id["cost-total"][4]  # the malformed count is reported, not priced as zero


def test_fast_scan_values_match_the_generators_record(tmp_path):
    """Independent of both decoders: the record of what the SDK emitted, with numpy."""
    path = tmp_path / "spans.jsonl"
    record = generate(path, runs=300, seed=5)
    rows = {row[1]: row for row in _outcome(path, tmp_path, True)}
    mine = [r for r in record if r["service"] == "agent" and r["inside"]]
    chats = [r for r in mine if r["name"] == "chat" and r["kind"] == "client"]
    tools = [r for r in mine if r["name"] == "tool"]
    assert rows["chat-p95"][3] == float(np.percentile([r["duration"] for r in chats], 95))
    assert rows["tool-errors"][3] == pytest.approx(sum(r["error"] for r in tools) / len(tools))
    assert rows["roots"][3] == sum(1 for r in record if r["inside"] and r["name"] == "invoke_agent")
    assert rows["roots"][0] == len(record)


@pytest.mark.parametrize(
    "bad",
    [
        {"spanId": "zz" * 8},  # 16 characters, not hex: neither hex nor base64 of 8 bytes
        {"traceId": "ab" * 15},  # 30 characters
        {"endTimeUnixNano": "1"},  # ends before it starts
        {"attributes": [{"key": "n", "value": {"intValue": "1.5"}}]},
        {"attributes": [{"key": 5, "value": {}}]},
        {"name": None},
        {"status": []},
    ],
)
def test_a_malformed_span_names_the_same_line_and_field(tmp_path, bad):
    path = tmp_path / "bad.jsonl"
    spans = [_span(n) for n in range(30)]
    spans[17] = {**spans[17], **bad}
    if bad.get("name", "") is None:
        spans[17]["name"] = None
    path.write_text(_line(_span(100)) + "\n" + _line(*spans) + "\n")
    fast, reference = _outcome(path, tmp_path, True), _outcome(path, tmp_path, False)
    assert isinstance(fast, str) and fast == reference
    assert f"{path}:2:" in fast and "spans[17]" in fast


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.text(max_size=6),
    st.sampled_from(["", "ab" * 8, "AB" * 16, "AAAAAAAAAAI=", "12", str((AT - 60) * S), "SPAN_KIND_SERVER"]),
)
FIELDS = ["traceId", "spanId", "parentSpanId", "name", "kind", "status", "startTimeUnixNano", "endTimeUnixNano"]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from([*FIELDS, "attributes"]), VALUES), max_size=4), st.randoms()
)
def test_mutated_spans_fast_and_reference_agree(tmp_path, mutations, rng: random.Random):
    """Any mix of odd field values: the same values, or the same error naming the same field."""
    spans = [_span(n) for n in range(6)]
    for index, field, value in mutations:
        if field == "attributes":
            spans[index]["attributes"] = [{"key": "gen_ai.usage.output_tokens", "value": {"intValue": value}}]
        elif field == "status":
            spans[index]["status"] = {"code": value} if rng.random() < 0.7 else value
        else:
            spans[index][field] = value
    path = tmp_path / "m.jsonl"
    path.write_text(_line(*spans[:3]) + "\n" + _line(*spans[3:], service="other") + "\n")
    reference = _outcome(path, tmp_path, False)
    assert _outcome(path, tmp_path, True, workers=1) == reference
    if rng.random() < 0.25:  # two workers, one line each (forking every example would be slow)
        assert _outcome(path, tmp_path, True, workers=2) == reference


def test_duplicate_attributes_the_last_counts_in_both(tmp_path):
    """A run marker repeated with another value last: not a run, in the fast scan as in the reference."""
    op = "gen_ai.operation.name"
    twice = [{"key": op, "value": {"stringValue": "invoke_agent"}}, {"key": op, "value": {"stringValue": "chat"}}]
    spans = [
        _span(1, parentSpanId="ab" * 8, attributes=twice),
        _span(2, parentSpanId="ab" * 8, attributes=twice[::-1]),
        _span(3),
    ]
    path = tmp_path / "dup.jsonl"
    path.write_text(_line(*spans) + "\n")
    fast = _outcome(path, tmp_path, True)
    assert fast == _outcome(path, tmp_path, False)
    assert {row[1]: row for row in fast}["cost-per-run"][5]["groups"] == 2  # span 2's trace and span 3's


# --- the parallel path: byte ranges scanned by forked workers, partial aggregates merged ----------------


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_scan_equals_one_pass_and_the_reference(tmp_path, workers):
    path = _mixed_file(tmp_path)
    assert len(parallel.plan(path, workers)) == workers
    one, many = {}, {}
    reference = _outcome(path, tmp_path, False)
    assert _outcome(path, tmp_path, True, workers=workers) == reference
    scan_file(path, SpanBatch([], AT), one, workers=1)
    scan_file(path, SpanBatch([], AT), many, workers=workers)
    assert many == one  # lines, bytes and the digest of the whole file
    assert one["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def _straddling_file(tmp_path: Path) -> tuple[Path, list[int]]:
    """One run whose calls are on every line, so the cut between two workers falls inside it."""
    path = tmp_path / "straddle.jsonl"
    rng = random.Random(7)
    outputs = []
    lines = []
    root = _span(0, traceId="ab" * 16, spanId="cd" * 8, name="invoke_agent a", attributes=[])
    for n in range(1, 61):
        output = rng.randrange(1, 10_000)
        outputs.append(output)
        call = _span(n, traceId="ab" * 16, parentSpanId="cd" * 8)
        call["attributes"][2] = {"key": "gen_ai.usage.output_tokens", "value": {"intValue": str(output)}}
        other = _span(1000 + n)  # a run of its own (a root call)
        lines.append(_line(call, other) + "\n" + ("\n" if n % 7 == 0 else ""))
    lines.insert(30, _line(root) + "\n")
    path.write_text("".join(lines))
    return path, outputs


def test_a_run_straddling_the_cut_costs_what_one_pass_says(tmp_path):
    path, outputs = _straddling_file(tmp_path)
    cuts = parallel.plan(path, 2)
    data = path.read_bytes()
    assert len(cuts) == 2 and data[: cuts[0][1]].count(b"ab" * 16) > 1 and data[cuts[1][0] :].count(b"ab" * 16) > 1
    rows = {row[1]: row for row in _outcome(path, tmp_path, True, workers=2)}
    assert list(rows.values()) == _outcome(path, tmp_path, False)
    # the generator's record priced with the table's per-token float rates, in exact arithmetic, rounded once
    rate_in, rate_out = Fraction(2.5 / 1_000_000), Fraction(10.0 / 1_000_000)
    straddling = 60 * 100 * rate_in + sum(outputs) * rate_out
    others = [100 * rate_in + (1000 + n) % 50 * rate_out for n in range(1, 61)]
    assert rows["cost-total"][3] == float(straddling + sum(others))
    assert rows["cost-per-run"][3] == float((straddling + sum(others)) / 61)
    assert rows["cost-per-run"][5]["groups"] == 61


def test_a_malformed_span_in_the_second_range_names_the_file_wide_line(tmp_path):
    path = tmp_path / "bad2.jsonl"
    lines = [_line(_span(n)) for n in range(40)]
    lines[33] = _line(_span(33, endTimeUnixNano="1"))  # ends before it starts
    lines[37] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    assert parallel.plan(path, 2)[1][0] < len("\n".join(lines[:33]))  # line 34 is in the second range
    fast, reference = _outcome(path, tmp_path, True, workers=2), _outcome(path, tmp_path, False)
    assert isinstance(fast, str) and fast == reference and f"{path}:34:" in fast


def test_gzip_and_small_files_are_read_by_one_process(tmp_path):
    path = _mixed_file(tmp_path)
    packed = tmp_path / "mixed.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert parallel.plan(packed, 2) == [] and parallel.plan(path) == []  # gzip cannot be cut; small: not worth it
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(_line(_span(1))), indent=2))
    assert parallel.plan(pretty, 2) == []  # one document, not lines
    assert _outcome(packed, tmp_path, True, workers=2) == _outcome(path, tmp_path, False)


@pytest.mark.parametrize("workers", [1, 2])
def test_packing_runs_changes_no_value(tmp_path, monkeypatch, workers):
    """Per-run costs packed every few runs (memory): the same packet as with every run in a dict."""
    path = _mixed_file(tmp_path)
    with path.open("a") as handle:  # runs that come back after they were packed
        handle.write(_straddling_file(tmp_path)[0].read_text())
    unpacked = _outcome(path, tmp_path, False)
    monkeypatch.setattr(CostAggregator, "PACK_LIMIT", 3)
    assert _outcome(path, tmp_path, True, workers=workers) == unpacked
    assert _outcome(path, tmp_path, False) == unpacked
