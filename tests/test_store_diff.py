"""slo.diff on hand-built packets: added and removed checks, moved objectives, grouped query texts."""

from __future__ import annotations

import copy

from slo.diff import describe, diff_packets


def packet(checks: list[dict]) -> dict:
    return {"gate": {"id": "g"}, "verdict": "pass", "digest": {"value": "a" * 64}, "evaluation": {}, "checks": checks}


def check(id_: str, value: float | None, verdict: str = "pass", objective: str = "< 1", query: str = "up", **q) -> dict:
    return {
        "id": id_,
        "value": value,
        "verdict": verdict,
        "objective": objective,
        "queries": [{"role": "value", "window": None, "query": query, **q}],
    }


def test_added_removed_same_and_changed():
    before = packet([check("a", 0.5), check("b", 2.0), check("gone", 1.0)])
    after = packet([check("a", 0.5), check("b", 2.5, objective="< 3"), check("new", 4.0, "fail")])
    by_id = {c.id: c for c in diff_packets(before, after).checks}
    assert by_id["a"].change == "same" and describe(by_id["a"]) == "unchanged"
    assert by_id["b"].change == "changed" and by_id["b"].delta == 0.5 and by_id["b"].relative == 0.25
    assert describe(by_id["b"]) == "value 2 → 2.5 (+0.5, +25.0%); objective < 1 → < 3"
    assert by_id["new"].change == "added" and by_id["gone"].change == "removed"
    assert [c.id for c in diff_packets(before, after).checks] == ["a", "b", "new", "gone"]


def test_query_text_of_grouped_queries_is_not_a_change_but_a_new_query_is():
    before = packet([check("a", 1.0, query='sum by (s) (x{s=~"a|b"})', selected={"s": "a"})])
    regrouped = copy.deepcopy(before)
    regrouped["checks"][0]["queries"][0]["query"] = 'sum by (s) (x{s=~"a|b|c"})'
    assert diff_packets(before, regrouped).checks[0].change == "same"
    edited = packet([check("a", 1.0, query="y")])
    plain = packet([check("a", 1.0, query="x")])
    assert diff_packets(plain, edited).checks[0].queries_changed


def test_value_from_zero_has_no_relative_change_and_flip_direction():
    before = packet([check("a", 0.0, "pass")])
    after = packet([check("a", 3.0, "fail")])
    [change] = diff_packets(before, after).checks
    assert change.delta == 3.0 and change.relative is None and change.worse
    [back] = diff_packets(after, before).checks
    assert back.flipped and not back.worse
