"""Property tests for the Sloth importer: any input gives gates or one ImportError_, valid specs round-trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.generate.rules import rules_document
from slo.imports.sloth import ImportError_, import_sloth, parse_alert_windows
from slo.spec import Gate
from tests.rules_support import all_rules

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=15,
)
_sloth_shaped = st.fixed_dictionaries(
    {"version": st.just("prometheus/v1"), "service": st.text(max_size=6), "slos": st.lists(_json, max_size=2)}
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_json | _sloth_shaped, max_size=3))
def test_arbitrary_documents_import_or_fail_cleanly(documents: list[Any]) -> None:
    try:
        gates = import_sloth(documents, "fuzz.yml")
    except ImportError_ as exc:
        assert str(exc).startswith("fuzz.yml") or str(exc).startswith("period") or "fuzz.yml" in str(exc)
        return
    for gate in gates:
        Gate.model_validate(gate)


_name = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(
    service=_name,
    names=st.lists(_name, min_size=1, max_size=3, unique=True),
    objective=st.floats(min_value=90, max_value=99.999),
    period=st.sampled_from(["30d", "28d"]),
    cr=st.booleans(),
)
def test_valid_specs_round_trip_into_sloth_identities(
    service: str, names: list[str], objective: float, period: str, cr: bool
) -> None:
    events = {"error_query": 'sum(rate(x{code="5"}[{{.window}}]))', "total_query": "sum(rate(x[{{.window}}]))"}
    if cr:
        events = {"errorQuery": events["error_query"], "totalQuery": events["total_query"]}
    slos = [{"name": n, "objective": objective, "sli": {"events": events}} for n in names]
    spec: dict[str, Any] = {"service": service, "slos": slos}
    doc = (
        {"apiVersion": "sloth.slok.dev/v1", "kind": "PrometheusServiceLevel", "metadata": {"name": "x"}, "spec": spec}
        if cr
        else {"version": "prometheus/v1", **spec}
    )
    gates = [Gate.model_validate(g) for g in import_sloth([doc], "f.yml", period=period)]
    assert [g.checks[0].id for g in gates] == names
    rules = all_rules([rules_document(gates)])
    ids = {r["labels"]["sloth_id"] for r in rules if "record" in r}
    assert ids == {f"{service}-{n}" for n in names}
    assert sum(1 for r in rules if "alert" in r) == 2 * len(names)


def test_alert_windows_file_canonicalises_windows() -> None:
    """Sloth's 7d windows file writes 24h/72h; the packet and the rules both call them 1d/3d."""
    doc = {
        "apiVersion": "sloth.slok.dev/v1",
        "kind": "AlertWindows",
        "spec": {
            "sloPeriod": "7d",
            "page": {
                "quick": {"errorBudgetPercent": 8, "shortWindow": "5m", "longWindow": "1h"},
                "slow": {"errorBudgetPercent": 12.5, "shortWindow": "30m", "longWindow": "6h"},
            },
            "ticket": {
                "quick": {"errorBudgetPercent": 20, "shortWindow": "2h", "longWindow": "24h"},
                "slow": {"errorBudgetPercent": 42, "shortWindow": "6h", "longWindow": "72h"},
            },
        },
    }
    period, windows = parse_alert_windows(doc)
    assert period == "7d"
    assert [w.long for w in windows] == ["1h", "6h", "1d", "3d"]
    with pytest.raises(ImportError_, match=r"spec\.page\.quick"):
        parse_alert_windows({**doc, "spec": {**doc["spec"], "page": {"quick": {}}}})
