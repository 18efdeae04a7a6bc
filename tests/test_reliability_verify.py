"""``verify`` on hostile packets: huge, deep, duplicate keys, non-canonical bytes, arbitrary input."""

from __future__ import annotations

import json
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from slo.evidence import MAX_PACKET_BYTES, MAX_PACKET_DEPTH, compute_digest, to_canonical_json, verify_bytes
from tests.reliability_limits import python_limited
from tests.test_evidence import packet


def sealed() -> bytes:
    return to_canonical_json(packet())


def reseal(document: dict) -> dict:
    document["digest"]["value"] = compute_digest(document)
    return document


def test_a_second_verdict_key_is_refused_even_when_the_digest_matches():
    data = sealed()
    assert b'"verdict":"pass"' in data
    # the sealed verdict comes first; a second "verdict" member follows it. A last-wins parser reads the
    # document the digest was computed over, a first-wins one reads "fail": the file must not verify.
    forged = data.replace(b'"verdict":"pass"', b'"verdict":"fail","verdict":"pass"', 1)
    assert json.loads(forged)["verdict"] == "pass" and compute_digest(json.loads(forged)) == compute_digest(
        json.loads(data)
    )
    outcome = verify_bytes(forged)
    assert not outcome.ok
    assert "duplicate key 'verdict'" in outcome.reason


def test_duplicate_keys_deep_inside_are_refused_too():
    data = sealed()
    forged = data.replace(b'"reason":"because"', b'"reason":"other","reason":"because"', 1)
    assert forged != data
    assert "duplicate key 'reason'" in verify_bytes(forged).reason


def test_equivalent_but_different_bytes_do_not_verify():
    data = sealed()
    assert b'"value":1.5' in data
    for old, new in ((b'"value":1.5', b'"value":1.50'), (b'"value":1.5', b'"value":15e-1'), (b"\xc3\xbc", b"\\u00fc")):
        variant = data.replace(old, new, 1)
        assert variant != data and json.loads(variant) == json.loads(data)  # same document to a parser
        outcome = verify_bytes(variant)
        assert not outcome.ok and "canonical form" in outcome.reason, (new, outcome.reason)


def test_resealed_non_canonical_packet_does_not_verify():
    # someone edits the verdict, recomputes the digest, and writes it pretty-printed
    document = reseal({**json.loads(sealed()), "verdict": "fail"})
    pretty = json.dumps(document, indent=1).encode()
    assert not verify_bytes(pretty).ok


def test_nesting_is_bounded_without_recursion_errors():
    for depth in (MAX_PACKET_DEPTH + 1, 10_000, 100_000):
        data = b"[" * depth + b"]" * depth
        outcome = verify_bytes(data)
        assert not outcome.ok and f"nested deeper than {MAX_PACKET_DEPTH}" in outcome.reason
    deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert "nested deeper" in verify_bytes(deep_object).reason


def test_size_is_capped_and_the_cap_can_be_raised():
    data = sealed()
    small = verify_bytes(data, max_bytes=len(data) - 1)
    assert not small.ok and f"more than the {len(data) - 1}-byte limit" in small.reason
    assert verify_bytes(data, max_bytes=len(data)).ok
    big = b" " * (MAX_PACKET_BYTES + 1)
    assert "limit" in verify_bytes(big).reason


def test_oversized_packet_is_refused_within_bounded_memory():
    # 200 MB of a valid array (100 M numbers, several GB once parsed): refused from its length
    code = (
        "from slo.evidence import verify_bytes\n"
        "data = bytearray(b'[') + b'1,' * (100_000_000) + b'1]'\n"
        "r = verify_bytes(bytes(data)); print(r.ok, r.reason)\n"
    )
    result = python_limited(code, megabytes=1000, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.startswith("False ") and "limit" in result.stdout


def test_nan_and_infinity_are_not_packets():
    data = sealed()
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        outcome = verify_bytes(data.replace(b'"value":1.5', b'"value":' + literal, 1))
        assert not outcome.ok, literal


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_arbitrary_input_gives_a_result_never_an_exception(data):
    outcome = verify_bytes(data)
    assert not outcome.ok and outcome.reason


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_packets_give_a_result_never_an_exception(data):
    original = sealed()
    at = data.draw(st.integers(0, len(original) - 1))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.binary(max_size=10))
    mutated = original[:at] + insert + original[at + cut :]
    outcome = verify_bytes(mutated)
    assert outcome.ok == (mutated == original)


def test_recursion_limit_is_not_what_saves_us():
    # below the interpreter's recursion limit the explicit depth bound still applies
    depth = min(sys.getrecursionlimit() // 4, 200)
    assert depth > MAX_PACKET_DEPTH
    assert "nested deeper" in verify_bytes(b"[" * depth + b"]" * depth).reason
