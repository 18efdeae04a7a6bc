"""The recheck's body decoder agrees with the live client's on any bytes (it must: --deep relies on it)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.recheck import decode_body
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig, reduce_to_number

CLIENT = PrometheusClient(PrometheusConfig(url="http://127.0.0.1:9"))  # never sends: only its decoder is used

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["NaN", "+Inf", "-Inf", "1e3", "x"])
)
series = st.fixed_dictionaries(
    {"metric": st.dictionaries(st.sampled_from(["service", "code", "le"]), st.text(max_size=5), max_size=2)},
    optional={"value": st.tuples(st.floats(0, 2e9), numbers).map(list)},
)
documents = st.one_of(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["success", "error"]),
            "data": st.fixed_dictionaries(
                {"resultType": st.sampled_from(["vector", "scalar", "matrix", "string"]), "result": st.lists(series)}
            ),
        },
        optional={"errorType": st.text(max_size=8), "error": st.text(max_size=20)},
    ),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
)
bodies = st.one_of(documents.map(lambda d: json.dumps(d).encode()), st.binary(max_size=64))


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_decode_body_matches_the_live_client(body: bytes):
    ours = decode_body(body, "q", 5.0)
    live = CLIENT._decode(body, "q", 5.0, 1)
    assert (ours.status, ours.fault, ours.result_type, ours.result) == (
        live.status,
        live.fault,
        live.result_type,
        live.result,
    )
    mine, theirs = reduce_to_number(ours), reduce_to_number(live)
    assert (mine.status, mine.value, mine.series) == (theirs.status, theirs.value, theirs.series)
