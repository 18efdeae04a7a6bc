"""``verify --deep`` accepts a recorded grouped query only as the grouped form of the planned one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.recheck import _text_matches, decode_body
from slo.promql.grouping import grouped_text, shapes

values = st.text(alphabet=st.characters(codec="ascii", exclude_characters='\\"\n\r\t'), min_size=1, max_size=8)


def planned(value: str) -> str:
    return f'sum(increase(http_requests_total{{service="{value}",code="500"}}[1h]))'


@settings(max_examples=150, deadline=None)
@given(values, st.lists(values, max_size=4))
def test_grouped_form_matches_only_for_its_own_series(value: str, others: list[str]):
    query = planned(value)
    [shape] = [s for s in shapes(query) if s.label == "service"]
    sent = grouped_text(shape, list(dict.fromkeys([value, *others])))
    assert _text_matches(query, sent, {"service": value, "code": "500"})
    assert not _text_matches(query, sent, None)  # a grouped text must say which series it read
    other = value + "x"
    assert not _text_matches(query, sent, {"service": other, "code": "500"})
    # the same grouped text does not stand in for a different metric or window
    assert not _text_matches(query.replace("[1h]", "[2h]"), sent, {"service": value, "code": "500"})
    assert not _text_matches(query.replace("http_requests_total", "other_total"), sent, {"service": value})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_decoding_any_kept_bytes_never_raises(body: bytes):
    response = decode_body(body, "q")
    assert response.status in ("ok", "error")
    assert (response.fault is None) == (response.status == "ok")
