"""What every source of measurements is: the one interface the run engine talks to.

A *source* answers checks of the kinds it names (``threshold`` and ``slo`` from Prometheus,
``loadtest`` from result files, ``attestation`` from the attestations file, trace kinds from Tempo or
Jaeger…). The engine hands each source the whole batch of its checks for a gate at once, so a source
can plan before sending anything (Prometheus groups checks that differ only in one label value into
one query). A source yields results as they are decided, never raises for a faulty backend (that is a
check's ``error`` or ``no_data``), and says where its numbers came from (backends, input files) for
the packet.

Adding a backend: see docs/architecture.md ("Adding a backend").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from slo.evaluate import error_result
from slo.evidence import Backend, InputFile
from slo.results import CheckResult
from slo.spec import AiCostCheck, Check, Gate

PROMETHEUS_COST_KIND = "ai_cost:prometheus"
"""The routing key of ``ai_cost`` checks with ``source: prometheus`` (the kind of the others is ``ai_cost``)."""


@dataclass(frozen=True)
class RunContext:
    """What a source needs to know about the gate run it answers for."""

    gate: Gate
    at: float
    """The evaluation instant, Unix seconds: every query is pinned to it."""
    evaluated_at: str
    """``at`` in RFC 3339, as recorded in results."""
    variables: Mapping[str, str]
    """The gate's vars with ``--var`` overrides applied."""


@runtime_checkable
class Source(Protocol):
    """A provider of check results for some check kinds."""

    name: str
    """Short, stable name for messages and provenance: ``prometheus``, ``loadtest``, ``tempo``…"""
    kinds: frozenset[str]
    """The check kinds this source answers."""

    def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        """One result per check, in any order, as each is decided; faults become ``error`` results."""
        ...

    def backends(self) -> list[Backend]:
        """The backends this source queried (URLs redacted), for the packet."""
        ...

    def inputs(self) -> list[InputFile]:
        """The input files this source read (path, sha256, size, format), for the packet."""
        ...

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (0 for file sources): benchmarks and dedup tests read it."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...


C = TypeVar("C", bound=Check)


class LocalSource(Generic[C]):
    """What every source answered from inputs read before the run shares (load tests, JUnit, attestations):
    no backends, no requests, nothing to close, and a check of another kind is an error result.

    Subclasses set ``name``, ``kinds``, ``check_type`` and ``noun`` and implement :meth:`decide`.
    """

    name: str
    kinds: frozenset[str]
    check_type: type[C]
    noun: str
    """How the error names the expected kind: ``a tests``, ``an attestation``."""
    requests_sent = 0
    _inputs: list[InputFile]

    def backends(self) -> list[Backend]:
        return []

    def inputs(self) -> list[InputFile]:
        return list(self._inputs)

    async def aclose(self) -> None:
        return None

    def decide(self, check: C, context: RunContext) -> CheckResult:
        raise NotImplementedError

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        for check in checks:
            if not isinstance(check, self.check_type):
                yield error_result(check, f"not {self.noun} check: {check.kind}", context.evaluated_at)
                continue
            yield self.decide(check, context)


MISSING_SOURCE_HINTS: Mapping[str, str] = {
    "threshold": "no Prometheus backend given (--prometheus URL)",
    "slo": "no Prometheus backend given (--prometheus URL)",
    "loadtest": "no input for loadtest checks was given (--loadtest FILE or gatepack ingest)",
    "attestation": "no input for attestation checks was given (--attestations FILE)",
    "tests": "no JUnit XML report was given (--tests FILE, or pass it to gatepack ingest)",
    "trace": "no trace source given (--tempo URL, --jaeger URL or --otlp FILE)",
    "rules_drift": "no Prometheus backend given (--prometheus URL): its rules are compared",
    "ai_cost": "no trace source given (--tempo URL, --jaeger URL or --otlp FILE, with --pricing FILE)",
    PROMETHEUS_COST_KIND: "no Prometheus backend given (--prometheus URL, with --pricing FILE)",
}
"""Why a check has no answer when no source of its kind was configured: says what to pass."""


def route_kind(check: Check) -> str:
    """The kind a source must name to answer ``check``: ``ai_cost`` over Prometheus has its own key."""
    if isinstance(check, AiCostCheck) and check.source == "prometheus":
        return PROMETHEUS_COST_KIND
    return check.kind


def missing_source_reason(kind: str) -> str:
    return MISSING_SOURCE_HINTS.get(kind, f"no input for {kind} checks was given")


def route(checks: Sequence[Check], sources: Sequence[Source]) -> tuple[dict[int, list[Check]], list[Check]]:
    """Checks grouped by the index of the first source that answers their kind, and the unanswered ones."""
    by_kind: dict[str, int] = {}
    for index, source in enumerate(sources):
        for kind in source.kinds:
            by_kind.setdefault(kind, index)
    routed: dict[int, list[Check]] = {}
    unanswered: list[Check] = []
    for check in checks:
        chosen = by_kind.get(route_kind(check))
        if chosen is None:
            unanswered.append(check)
        else:
            routed.setdefault(chosen, []).append(check)
    return routed, unanswered
