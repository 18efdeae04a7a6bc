"""Schema 2.0.0 next to 1.0.0: old packets (and their signed envelopes) still verify, new ones fit the new
schema, both read back to the same checks, and a 2.0.0 packet's compact parts are checked.

``tests/fixtures/packets-1.0.0/`` holds the golden packet and signed envelope exactly as gatepack wrote them
before 2.0.0 (see its README); they must verify forever, byte for byte, with no regeneration.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.signing import load_public_key
from slo.diff import diff_packets
from slo.dsse import SignatureState, verify_file_bytes
from slo.evidence import (
    EvidencePacket,
    canonical_bytes,
    compute_digest,
    schema_problem,
    seal,
    to_canonical_json,
    verify_bytes,
)
from slo.results import AlertConditionResult, BurnRateRow, CheckResult, Effect, QueryOutcome, SloResult, Status, Verdict
from slo.wire import checks_of, outcomes_of, response_digests

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "tests" / "fixtures" / "packets-1.0.0"
SCHEMAS = ROOT / "slo" / "schemas"
GOLDEN = ROOT / "tests" / "golden" / "packet.json"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _golden_v2() -> bytes:
    return canonical_bytes(json.loads(GOLDEN.read_text()))


def _resealed(document: dict[str, Any]) -> bytes:
    document = {k: v for k, v in document.items() if k != "digest"}
    document["digest"] = {"algorithm": "sha256", "value": compute_digest(document)}
    return canonical_bytes(document)


def test_a_1_0_0_packet_still_verifies_fits_its_schema_and_re_serialises_byte_for_byte():
    data = (V1 / "golden-packet.json").read_bytes()
    assert verify_bytes(data).ok
    document = json.loads(data)
    assert document["schema_version"] == "1.0.0" and "queries" not in document
    assert not list(_validator("evidence-1.0.0.schema.json").iter_errors(document))
    assert to_canonical_json(EvidencePacket.model_validate(document)) == data  # read and written back: same digest


def test_a_1_0_0_signed_envelope_still_verifies_under_its_key():
    key = load_public_key(V1 / "signing-key.pub")
    result = verify_file_bytes((V1 / "signed-envelope.json").read_bytes(), [key])
    assert result.ok and result.signature.state is SignatureState.VALID
    assert result.packet is not None and result.packet["schema_version"] == "1.0.0"


def test_a_2_0_0_packet_fits_the_regenerated_schema_and_the_schema_is_no_rubber_stamp():
    validator = _validator("evidence.schema.json")
    document = json.loads(_golden_v2())
    assert document["schema_version"] == "2.0.0"
    assert not list(validator.iter_errors(document))
    full = checks_of(document)[0]["queries"][0]  # a 1.0.0-style outcome where a reference belongs
    for broken in (
        {**document, "schema_version": "1.0.0"},
        {k: v for k, v in document.items() if k != "queries"},
        {**document, "checks": [{**document["checks"][0], "queries": [full]}]},
        {**document, "checks": [{**document["checks"][0], "queries": [{"value": 1.0}]}]},
    ):
        assert list(validator.iter_errors(broken)), broken


def test_the_same_run_in_both_versions_reads_and_diffs_as_the_same():
    old, new = json.loads((V1 / "golden-packet.json").read_bytes()), json.loads(_golden_v2())
    assert [c["id"] for c in checks_of(old)] == [c["id"] for c in checks_of(new)]
    for before, after in zip(checks_of(old), checks_of(new), strict=True):
        assert CheckResult.model_validate(before) == CheckResult.model_validate(after)
    assert response_digests(old) == response_digests(new) and len(response_digests(new)) == 18
    diff = diff_packets(old, new)
    assert [c.change for c in diff.checks] == ["same"] * 3


def test_an_unknown_schema_version_is_refused_in_one_line():
    document = json.loads(_golden_v2())
    document["schema_version"] = "3.0.0"
    reason = verify_bytes(_resealed(document)).reason
    assert reason == "digest matches but schema_version '3.0.0' is not one this gatepack reads (1.x or 2.0.0)"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["checks"][0]["queries"].append({"ref": "feedfacefeedface"}), "check 'availability' query 17"),
        (lambda d: d["checks"][0]["slo"]["windows"]["burn_rate"].pop(), "columns are not lists of one length"),
        (lambda d: d["checks"][0]["slo"]["windows"]["window"].__setitem__(0, "7m"), "no short burn rate"),
        (lambda d: d["checks"][0]["queries"][0].update(window="5m"), "query 1 restates window"),
    ],
)
def test_a_broken_compact_form_is_named_in_one_line(edit, expected):
    document = json.loads(_golden_v2())
    edit(document)
    reason = verify_bytes(_resealed(document)).reason
    assert reason.startswith("digest matches but the packet's") and expected in reason and "\n" not in reason


# --- every 2.0.0 packet reads back to exactly the checks it was sealed from ------------------------------

_texts = st.sampled_from(["sum(a)", 'sum by (s) (a{s=~"x|y"})', "b", "c"])
_labels = st.none() | st.fixed_dictionaries({"s": st.sampled_from(["x", "y"])})
_numbers = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def outcomes(draw: st.DrawFn) -> QueryOutcome:
    return QueryOutcome(
        role=draw(st.sampled_from(["value", "good", "total"])),
        window=draw(st.sampled_from([None, "5m", "1h"])),
        query=draw(_texts),
        backend=draw(st.sampled_from([None, "http://a", "http://b"])),
        time=draw(st.sampled_from([None, "2026-01-01T00:00:00Z"])),
        status=draw(st.sampled_from(list(Status))),
        value=draw(_numbers),
        series=draw(st.integers(0, 3)),
        reason=draw(st.none() | st.sampled_from(["no data", "boom"])),
        response_sha256=draw(st.none() | st.sampled_from(["a" * 64, "b" * 64])),
        attempts=draw(st.integers(0, 2)),
        warnings=draw(st.lists(st.sampled_from(["w1", "w2"]), max_size=2)),
        selected=draw(_labels),
        empty_selectors=draw(st.lists(st.sampled_from(["a", "b"]), max_size=1)),
    )


@st.composite
def checks(draw: st.DrawFn) -> CheckResult:
    windows = draw(st.lists(st.sampled_from(["5m", "1h", "30d"]), unique=True, max_size=3))
    rows = [BurnRateRow(window=w, error_ratio=draw(_numbers), burn_rate=draw(_numbers)) for w in windows]
    rates = {r.window: r.burn_rate for r in rows}
    alerts = (
        [
            AlertConditionResult(
                severity="page",
                long=long,
                short=short,
                factor=14.4,
                # as collect computes them (the table's), or any other number (then written out)
                long_burn_rate=rates[long] if draw(st.booleans()) else draw(_numbers),
                short_burn_rate=rates[short] if draw(st.booleans()) else draw(_numbers),
                holds=draw(st.booleans()),
            )
            for long, short in draw(st.lists(st.tuples(st.sampled_from(windows), st.sampled_from(windows)), max_size=2))
        ]
        if windows
        else []
    )
    slo = SloResult(objective=99.9, period="30d", windows=rows, alerts=alerts) if draw(st.booleans()) else None
    return CheckResult(
        id=f"c{draw(st.integers(0, 10**6))}",
        title="t",
        kind="slo" if slo else "threshold",
        required=draw(st.booleans()),
        on_no_data="fail",
        verdict=draw(st.sampled_from(list(Verdict))),
        effect=draw(st.sampled_from(list(Effect))),
        reason="r",
        value=draw(_numbers),
        queries=draw(st.lists(outcomes(), max_size=4)),
        slo=slo,
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(checks(), max_size=5))
def test_any_checks_survive_the_2_0_0_form(generated: list[CheckResult]):
    template = EvidencePacket.model_validate(
        {k: v for k, v in json.loads(_golden_v2()).items() if k not in {"digest", "queries", "checks"}} | {"checks": []}
    )
    packet = seal(template.model_copy(update={"checks": generated}))
    data = to_canonical_json(packet)
    assert verify_bytes(data).ok, verify_bytes(data).reason
    document = json.loads(data)
    assert EvidencePacket.model_validate(copy.deepcopy(document)).checks == generated
    for check, written in zip(generated, document["checks"], strict=True):
        assert outcomes_of(written, document) == [q.model_dump(mode="json") for q in check.queries]
    assert schema_problem(document) is None
