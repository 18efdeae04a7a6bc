"""Every trace decoder on arbitrary input: a result or gatepack's own InputError, never another exception."""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.sources.traces.jaeger import decode_v1
from collector.sources.traces.otlp import decode_document
from collector.sources.traces.otlp_file import read_spans
from collector.sources.traces.tempo import decode_metrics, decode_search
from slo.errors import InputError
from slo.pricing import UsageError, detect_table, usage_of

KEYS = [
    "resourceSpans", "batches", "result", "trace", "resource", "attributes", "scopeSpans", "spans", "traceId",
    "spanId", "parentSpanId", "name", "kind", "status", "code", "startTimeUnixNano", "endTimeUnixNano", "key",
    "value", "stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue", "values", "data",
    "processes", "serviceName", "tags", "type", "operationName", "startTime", "duration", "references", "refType",
    "spanID", "traceID", "processID", "traces", "spanSets", "spanSet", "matched", "durationNanos", "series",
    "labels", "samples", "timestampMs", "metrics", "totalJobs", "completedJobs", "models", "model", "match",
    "input", "output", "modelName", "matchPattern", "pricingTiers", "isDefault", "prices", "input_cost_per_token",
    "output_cost_per_token", "message",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "SPAN_KIND_SERVER",
            "STATUS_CODE_ERROR",
            "ab" * 8,
            "ab" * 16,
            "nCLrd8tcFMc=",
            "12",
            "int64",
            "CHILD_OF",
            "PARTIAL",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(string.ascii_letters, max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=40,
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drain(decoder, document) -> None:
    try:
        result = decoder(document)
        if hasattr(result, "__iter__") and not isinstance(result, dict):
            list(result)
    except InputError:
        pass


@FAST
@given(JSON)
def test_otlp_decoder_never_crashes(document):
    drain(decode_document, document)


@FAST
@given(JSON)
def test_jaeger_v1_decoder_never_crashes(document):
    drain(decode_v1, document)


@FAST
@given(JSON)
def test_tempo_search_decoder_never_crashes(document):
    drain(decode_search, document)


@FAST
@given(JSON, st.lists(st.sampled_from(["gen_ai.tool.name", "service.name"]), max_size=2), st.booleans())
def test_tempo_metrics_decoder_never_crashes(document, by, instant):
    drain(lambda d: decode_metrics(d, by, instant), document)


@FAST
@given(JSON)
def test_price_table_importers_never_crash(document):
    drain(lambda d: detect_table(d, "prices.json"), document)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.prompt_tokens",
                "gen_ai.usage.cache_read.input_tokens",
            ]
        ),
        SCALARS,
    )
)
def test_usage_is_a_count_none_or_a_usage_error(attributes):
    try:
        usage = usage_of(attributes)
    except UsageError:
        return
    if usage is not None:
        assert usage.input >= 0 and usage.output >= 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(JSON.map(lambda d: json.dumps(d).encode()), st.binary(max_size=60)), max_size=4))
def test_otlp_file_reader_never_crashes(lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        path.write_bytes(b"\n".join(lines))
        try:
            list(read_spans(path))
        except InputError as exc:
            assert str(path) in str(exc)


LANGFUSE_ENTRY = st.fixed_dictionaries(
    {"modelName": st.text(max_size=10)},
    optional={
        "matchPattern": st.one_of(st.text(max_size=10), st.just("(?i)^(gpt-4o)$"), st.just("(")),
        "pricingTiers": st.one_of(
            JSON,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "isDefault": st.booleans(),
                        "prices": st.one_of(
                            JSON, st.dictionaries(st.sampled_from(["input", "output", "total"]), SCALARS)
                        ),
                        "conditions": st.one_of(
                            JSON,
                            st.lists(
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "operator": st.just("gt"),
                                        "value": SCALARS,
                                        "usageDetailPattern": st.sampled_from(["input", "(", "x"]),
                                    },
                                ),
                                max_size=2,
                            ),
                        ),
                    },
                ),
                max_size=3,
            ),
        ),
    },
)


@FAST
@given(st.lists(LANGFUSE_ENTRY, min_size=1, max_size=3))
def test_langfuse_shaped_tables_never_crash(document):
    drain(lambda d: detect_table(d, "langfuse.json"), document)


@FAST
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.dictionaries(
            st.sampled_from(
                [
                    "input_cost_per_token",
                    "output_cost_per_token",
                    "cache_read_input_token_cost",
                    "input_cost_per_token_above_200k_tokens",
                ]
            ),
            SCALARS,
        ),
        max_size=3,
    )
)
def test_litellm_shaped_tables_never_crash(document):
    drain(lambda d: detect_table(d, "litellm.json"), document)
