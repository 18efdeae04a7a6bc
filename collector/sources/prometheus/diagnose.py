"""Second looks at query outcomes, so a wrong selector can never read as a clean number.

Two faults look harmless in PromQL and are not: a bucket matcher such as ``le="0.30"`` on a histogram
whose boundary is written ``0.3`` selects nothing (and an ``or vector(0)`` turns that into a perfect
zero), and a typo in a label value makes a selector empty, which ``or vector(0)`` (or any arithmetic
with a constant) hides as a clean number. For the first, every ``le="X"`` matcher on a ``_bucket``
series is checked against the boundaries the histogram really has. For the second, every selector of
every query is checked for series over the range the query reads from it, whatever the query returned:
one that has none makes the outcome ``no_data`` naming it, unless the check lists it in ``allow_empty``.

Presence is asked in bulk (:class:`PresenceCheck`): a selector whose own single-selector query already
returned a series is present without asking, the rest are deduplicated and grouped like the value
queries, so a gate of a thousand SLOs sends a handful of presence queries, not thousands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from collector.sources.prometheus.grouping import Presence, presence
from slo.durations import DurationError, parse_duration
from slo.promql.facts import QueryFacts, query_facts
from slo.promql.parse import PromqlSyntaxError
from slo.promql.selectors import Selector, find_selectors
from slo.results import Fault, QueryOutcome, Status
from slo.spec import SloCheck, ThresholdCheck


def _lookup_range(selector: Selector) -> str:
    return selector.lookup_range or "5m"


def _selectors(query: str) -> list[Selector]:
    """The query's selectors; none when our parser rejects a query the server accepted (nothing to name)."""
    try:
        return find_selectors(query)
    except PromqlSyntaxError:
        return []


def _labels(response: QueryResponse, label: str) -> list[str] | None:
    if response.status != "ok" or response.result_type != "vector" or not isinstance(response.result, list):
        return None
    return [str(s.get("metric", {}).get(label)) for s in response.result if s.get("metric", {}).get(label)]


def _boundary_order(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.inf


async def bucket_problem(client: PrometheusClient, query: str, at: float) -> str | None:
    """Why an ``le="X"`` matcher in ``query`` is not a real bucket boundary, or None when all are."""
    if "_bucket" not in query:  # no bucket selector possible; skips lexing every outcome of a large gate
        return None
    for selector in _selectors(query):
        if not selector.metric or not selector.metric.endswith("_bucket"):
            continue
        for matcher in selector.matchers:
            if matcher.label != "le" or matcher.op != "=":
                continue
            lookup = f"count by (le) (last_over_time({selector.without('le')}[{_lookup_range(selector)}]))"
            boundaries = _labels(await client.instant(lookup, at), "le")
            if not boundaries or matcher.value in boundaries:
                continue  # an empty histogram is reported as no data by the query itself
            ordered = sorted(set(boundaries), key=_boundary_order)
            same = [b for b in ordered if _boundary_order(b) == _boundary_order(matcher.value)]
            hint = f' (the histogram writes this boundary as le="{same[0]}")' if same else ""
            return (
                f'le="{matcher.value}" is not a bucket boundary of {selector.without("le")}{hint}; '
                f"its boundaries are {', '.join(ordered)}"
            )
    return None


def presence_query(selector: Selector) -> str:
    """One series when ``selector`` has any sample in the span the query reads from it, none otherwise.

    The span is the selector's own range plus enclosing subquery ranges, with its ``offset`` and ``@``;
    an instant selector is read over the server's lookback window, as the query itself reads it.
    """
    window = selector.lookup_range
    inner = f"last_over_time({selector.over(window)})" if window else selector.instant
    return f"count({inner})"


def checked_selectors(query: str, facts: QueryFacts | None = None) -> list[Selector]:
    """The selectors of ``query`` that must match something: all but those inside ``absent(…)``.

    ``facts`` are the query's own (a plan carries them); without them the query is analysed here.
    """
    return list((facts or query_facts(query)).checked)


def proves_presence(query: str, response: QueryResponse, facts: QueryFacts | None = None) -> Selector | None:
    """The selector a non-empty answer proves present: only for one-selector ``agg(f(m[…]))`` queries.

    Those are exactly the groupable shapes: an aggregation over label-preserving range functions of one
    selector has a series only when the selector has one, so no presence query is needed for it.
    """
    if response.status != "ok" or response.result_type != "vector" or not response.result:
        return None
    facts = facts or query_facts(query)
    if not facts.shapes:
        return None
    return facts.selectors[0] if len(facts.selectors) == 1 else None


def _seconds(selector: Selector) -> float | None:
    return _span_seconds(selector.range, selector.within)


@lru_cache(maxsize=1024)
def _span_seconds(own: str | None, within: str | None) -> float | None:
    """Seconds of a selector's lookup range; cached: a gate's selectors share a handful of ranges."""
    lookup = Selector("", None, (), range=own, within=within).lookup_range
    try:
        return parse_duration(lookup) if lookup else None
    except DurationError:  # sub-second ranges: compared as written only
        return None


@dataclass
class PresenceCheck:
    """Which selectors of a whole batch of queries match series, asked once for all of them.

    :meth:`prove` records selectors that answers already showed present (over a span, which covers
    every longer span with the same modifiers); :meth:`want` the rest; :meth:`run` asks grouped.
    """

    client: PrometheusClient
    at: float
    _proven: dict[str, float | None] = field(default_factory=dict)  # instant text -> shortest proven span
    _wanted: dict[tuple[str, str | None, str | None], Selector] = field(default_factory=dict)
    answers: dict[str, Presence] = field(default_factory=dict)

    def prove(self, selector: Selector) -> None:
        span = _seconds(selector)
        key = selector.instant
        if key not in self._proven:
            self._proven[key] = span
            return
        known = self._proven[key]
        if known is not None and span is not None and span < known:
            self._proven[key] = span

    def is_proven(self, selector: Selector) -> bool:
        key = selector.instant
        if key not in self._proven:
            return False
        known, span = self._proven[key], _seconds(selector)
        return known == span or (known is not None and span is not None and span >= known)

    def want(self, selectors: Iterable[Selector]) -> None:
        # keyed by what the presence query is made of: its text is built only for selectors still unproven
        for selector in selectors:
            self._wanted.setdefault((selector.instant, selector.range, selector.within), selector)

    @property
    def pending(self) -> list[str]:
        queries = (presence_query(s) for s in self._wanted.values() if not self.is_proven(s))
        return list(dict.fromkeys(queries))

    async def run(self) -> None:
        """Ask the shortest span of each selector first: present there means present over every longer one.

        An SLO reads each selector over eight windows; for the usual case (the series exists) that is
        one grouped question instead of eight, and only selectors empty over their shortest span are
        asked again over the longer ones.
        """
        first: dict[str, tuple[float, str]] = {}
        rest: list[str] = []
        by_query = {presence_query(s): s for s in self._wanted.values() if not self.is_proven(s)}
        for query, selector in by_query.items():
            span = _seconds(selector)
            if span is None:
                rest.append(query)
                continue
            known = first.get(selector.instant)
            if known is None or span < known[0]:
                if known is not None:
                    rest.append(known[1])
                first[selector.instant] = (span, query)
            else:
                rest.append(query)
        self.answers = await presence(self.client, self.at, [query for _, query in first.values()])
        for query, found in self.answers.items():
            if found:
                self.prove(by_query[query])
        still = [query for query in rest if not self.is_proven(by_query[query])]
        self.answers.update(await presence(self.client, self.at, still))

    def is_empty(self, selector: Selector) -> bool:
        """True only when a presence query answered cleanly with no series (unknown is not empty)."""
        if self.is_proven(selector):
            return False
        return self.answers.get(presence_query(selector)) is False


def _span_text(selector: Selector) -> str:
    return f"over {selector.lookup_range}" if selector.lookup_range else "in the lookback window"


def _named(selectors: list[Selector]) -> str:
    return ", ".join(f"{s.instant} {_span_text(s)}" for s in selectors)


def selectors_leave_alone(outcome: QueryOutcome, found: PresenceCheck, facts: QueryFacts) -> bool:
    """True exactly when :func:`check_selectors` would return ``outcome`` itself, decided without building
    what it needs only for a change (the check's variables per query, the list of empty selectors): a
    failed query, or one with every selector present and a result that is not an empty vector."""
    if outcome.status == Status.ERROR:
        return True
    if outcome.status == Status.NO_DATA and outcome.series == 0:
        return False
    return not any(found.is_empty(s) for s in facts.checked)


def check_selectors(
    outcome: QueryOutcome,
    query: str,
    check: ThresholdCheck | SloCheck,
    variables: Mapping[str, str],
    found: PresenceCheck,
    facts: QueryFacts | None = None,
) -> QueryOutcome:
    """``outcome`` with its empty selectors recorded, ``no_data`` when one is not allowed to be empty.

    ``query`` is the check's own query (``outcome.query`` may be the grouped text that answered it);
    ``facts`` its analysis when the caller has it.
    """
    if outcome.status == Status.ERROR:
        return outcome
    empty = [s for s in checked_selectors(query, facts) if found.is_empty(s)]
    empty_result = outcome.status == Status.NO_DATA and outcome.series == 0
    if not empty:
        if empty_result:
            reason = "no series matched: every selector has series, but label filters or joins in the query left none"
            return outcome.model_copy(update={"reason": reason})
        return outcome
    update: dict[str, object] = {"empty_selectors": [s.instant for s in empty]}
    refused = [s for s in empty if not check.allows_empty(s, variables)]
    if refused:
        word = "selector" if len(refused) == 1 else "selectors"
        masked = ""
        if outcome.status == Status.OK and outcome.value is not None:
            masked = f"; the value {outcome.value:g} came from the rest of the query (such as `or vector(0)`), not data"
        update.update(
            status=Status.NO_DATA,
            value=None,
            reason=f"no series matched {word} {_named(refused)}{masked} "
            "(check metric and label names, or list it in allow_empty if it may legitimately not exist yet)",
        )
    elif empty_result:
        update["reason"] = f"no series matched: {_named(empty)} (allowed empty by allow_empty)"
    return outcome.model_copy(update=update)


def may_name_a_bucket(outcome: QueryOutcome, own_query: str | None = None) -> bool:
    """Whether :func:`diagnose` could find anything in ``outcome``: it looks only at ``le`` on ``_bucket`` series.

    ``own_query`` is the check's own query when ``outcome.query`` is a grouped text answering it: that text
    has the same selectors with one label's values joined (a thousand of them, ten kilobytes to search), so
    it can name a ``_bucket`` series only when the query does. Another member's label value holding
    ``_bucket`` is no bucket selector: :func:`diagnose` leaves such an outcome as it is.
    """
    return outcome.status != Status.ERROR and "_bucket" in (outcome.query if own_query is None else own_query)


async def diagnose(client: PrometheusClient, outcome: QueryOutcome, at: float) -> QueryOutcome:
    """``outcome`` with a bucket-boundary error when an ``le="X"`` matcher names no real boundary."""
    if outcome.status == Status.ERROR:
        return outcome
    problem = await bucket_problem(client, outcome.query, at)
    if problem is not None:
        return outcome.model_copy(
            update={"status": Status.ERROR, "value": None, "reason": problem, "fault": Fault.BAD_DATA}
        )
    return outcome
