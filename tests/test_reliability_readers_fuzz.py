"""Property tests: every load-test reader, given any bytes, returns a result or raises gatepack's own error.

Inputs are real tool output (``contract_fixtures``) cut, spliced and overwritten at random places, plus
arbitrary bytes behind each format's own header so the sniffer and the parser's deeper paths are reached.
Anything but a :class:`~slo.errors.GatepackError` (a KeyError, a pandas or pyarrow error, a RecursionError,
a struct.error …) fails the test.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.sources.loadtest import gatling, hey, jmeter, k6_csv, k6_ndjson, k6_summary, locust
from collector.sources.loadtest.detect import read_file
from collector.sources.loadtest.model import LoadtestResult
from slo.errors import GatepackError

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "loadtest"

SAMPLES: dict[str, tuple[str, Callable[[Path], LoadtestResult]]] = {
    "k6-ndjson": ("k6/generated-v1.1.0/metrics.ndjson", k6_ndjson.read),
    "k6-ndjson-aggregate": ("k6/generated-v1.1.0/metrics.ndjson", k6_ndjson.aggregate),  # type: ignore[dict-item]
    "k6-csv": ("k6/generated-v1.1.0/metrics.csv", k6_csv.read),
    "k6-summary": ("k6/generated-v1.1.0/summary_export.json", k6_summary.read),
    "k6-handle-summary": ("k6/generated-v1.1.0/handle_summary.json", k6_summary.read),
    "jmeter-csv": ("jmeter/generated-2.13/results.jtl", jmeter.read),
    "jmeter-xml": ("jmeter/generated-2.13/results.xml", jmeter.read),
    "gatling-text": ("gatling/taurus-3.5.1-text/simulation.log", gatling.read),
    "gatling-binary": ("gatling/taurus-3.14.3-binary/simulation.log", gatling.read),
    "gatling-stats": ("gatling/gatling-check-plugin/js/stats.json", gatling.read),
    "hey": ("hey/generated-0.1.4/hey.csv", hey.read),
    "locust-json": ("locust/generated-2.47.0/report.json", locust.read),
    "locust-stats": ("locust/generated-2.47.0/run_stats.csv", locust.read),
    "locust-history": ("locust/generated-2.47.0/run_stats_history.csv", locust.read),
    "locust-failures": ("locust/generated-2.47.0/run_failures.csv", locust.read),
    "auto": ("k6/generated-v1.1.0/summary_export.json", read_file),
}
HEAD_BYTES = 6000  # the start of each real file: mutations stay fast, every parser path is still reached


def _sample(name: str) -> bytes:
    path = FIXTURES / SAMPLES[name][0]
    if not path.exists():
        pytest.skip(f"contract fixture {path} not found")
    data = path.read_bytes()
    if name.startswith("gatling-binary"):
        return data  # binary records: cutting at an arbitrary byte is one of the mutations anyway
    cut = data[:HEAD_BYTES]
    return cut[: cut.rfind(b"\n") + 1] or cut


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = original
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "duplicate", "junk-tail"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "replace":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at + 8 :]
        elif kind == "insert":
            piece = draw(
                st.one_of(
                    st.binary(max_size=16),
                    st.sampled_from([b"-1", b"NaN", b"inf", b"1e400", b'"', b",", b"\t", b"\n", b"\x00", b"{", b"<"]),
                )
            )
            data = data[:at] + piece + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "duplicate":
            end = data.find(b"\n", at)
            line = data[at : end + 1] if end >= 0 else data[at:]
            data = data[:at] + line * draw(st.integers(2, 5)) + data[at:]
        else:
            data = data + draw(st.binary(max_size=64))
    return data


def _read(reader: Callable[[Path], object], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        try:
            reader(path)
        except GatepackError as exc:
            message = str(exc)
            assert message and "\n" not in message.strip(), message  # one line, whatever the file held


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@FUZZ
@given(data=st.data())
def test_mutated_real_files_give_a_result_or_a_gatepack_error(name: str, data: st.DataObject) -> None:
    original = _sample(name)
    _read(SAMPLES[name][1], data.draw(mutated(original)))


@pytest.mark.parametrize("name", sorted(SAMPLES))
@FUZZ
@given(tail=st.binary(max_size=400))
def test_arbitrary_bytes_after_a_real_header_give_a_result_or_a_gatepack_error(name: str, tail: bytes) -> None:
    original = _sample(name)
    header = original[: original.find(b"\n") + 1] if not name.startswith("gatling-binary") else original[:64]
    _read(SAMPLES[name][1], header + tail)


@FUZZ
@given(content=st.binary(max_size=600))
def test_arbitrary_bytes_through_detection_give_a_result_or_a_gatepack_error(content: bytes) -> None:
    _read(read_file, content)


# ------------------------------------------------------------------- right keys, wrong types (JSON formats)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _json_bytes(document: object) -> bytes:
    import json

    return json.dumps(document, allow_nan=True).encode()


def _locust_entry() -> st.SearchStrategy[dict]:
    counts = st.one_of(st.integers(-5, 50), st.integers(-5, 50), ANY_JSON)
    histogram = st.one_of(
        st.dictionaries(
            st.one_of(st.sampled_from(["10", "-5", "1e400", "nan", "x"]), st.text(max_size=4)), counts, max_size=4
        ),
        ANY_JSON,
    )
    return st.fixed_dictionaries(
        {
            "name": ANY_JSON,
            "method": ANY_JSON,
            "num_requests": counts,
            "num_failures": counts,
            "response_times": histogram,
        },
        optional={"num_none_requests": counts, "start_time": ANY_JSON, "last_request_timestamp": ANY_JSON},
    )


def _k6_summary() -> st.SearchStrategy[dict]:
    metric = st.one_of(
        st.dictionaries(st.sampled_from(["avg", "min", "p(95)", "count", "rate", "passes", "fails", "value"]), SCALARS),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["trend", "rate", "counter", "gauge", "x"]), "values": ANY_JSON},
            optional={"contains": st.sampled_from(["time", "data", "default"]), "thresholds": ANY_JSON},
        ),
        ANY_JSON,
    )
    return st.fixed_dictionaries(
        {
            "metrics": st.dictionaries(
                st.sampled_from(["http_req_duration", "http_reqs", "http_req_failed", "x"]), metric
            )
        },
        optional={"state": ANY_JSON},
    )


def _gatling_stats() -> st.SearchStrategy[dict]:
    """Valid stats blocks where a few members are replaced by anything: the deeper paths are reached."""
    keys = [
        "numberOfRequests",
        "minResponseTime",
        "maxResponseTime",
        "meanResponseTime",
        "standardDeviation",
        "percentiles1",
        "percentiles2",
        "percentiles3",
        "percentiles4",
        "meanNumberOfRequestsPerSecond",
    ]

    @st.composite
    def stats(draw: st.DrawFn) -> dict:
        block: dict = {k: {"total": 10, "ok": 9, "ko": 1} for k in keys}
        for key in draw(st.lists(st.sampled_from(keys), max_size=2)):
            block[key] = draw(st.one_of(ANY_JSON, st.fixed_dictionaries({"total": SCALARS, "ko": SCALARS})))
        return block

    child = st.fixed_dictionaries(
        {"type": st.sampled_from(["REQUEST", "GROUP"]), "stats": st.one_of(stats(), ANY_JSON)},
        optional={"name": ANY_JSON, "path": ANY_JSON, "contents": ANY_JSON},
    )
    return st.fixed_dictionaries(
        {"stats": stats(), "numberOfRequests": st.just(1), "percentiles1": st.just(1)},
        optional={
            "contents": st.one_of(
                st.dictionaries(st.text(max_size=4), st.one_of(child, ANY_JSON), max_size=2), ANY_JSON
            )
        },
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_locust_entry(), ANY_JSON), max_size=3))
def test_locust_json_with_wrong_types_gives_a_result_or_a_gatepack_error(report: list) -> None:
    _read(locust.read, _json_bytes(report))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_k6_summary())
def test_k6_summary_with_wrong_types_gives_a_result_or_a_gatepack_error(summary: dict) -> None:
    _read(k6_summary.read, _json_bytes(summary))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_gatling_stats())
def test_gatling_stats_with_wrong_types_gives_a_result_or_a_gatepack_error(stats: dict) -> None:
    _read(gatling.read, _json_bytes(stats))


@pytest.mark.parametrize("encoding", ["TF-8", "no-such-codec", "utf-32", "utf-16"])
def test_jmeter_xml_with_an_odd_encoding_declaration_is_a_gatepack_error(encoding: str) -> None:
    # found by the property test above: expat raised LookupError for an unknown encoding
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n<testResults version="1.2">\n</testResults>\n'.encode()
    _read(jmeter.read, data)
