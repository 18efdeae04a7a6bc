"""``POST /api/v1/gates/{id}/evaluate``: a gate evaluated now, its packet sealed and stored, the verdict answered.

Progressive delivery asks this endpoint whether to go on. The gate runs through :func:`collector.run.collect`,
the engine ``gatepack collect`` runs, over sources built afresh for every evaluation from the server's
configuration (the sources are closed at the end of each run). The answer has one body for both consumers:

- Argo Rollouts' ``web`` metric provider reads it with ``jsonPath: "{$.decision}"`` and
  ``successCondition: result == "pass"`` (always HTTP 200 once the gate was evaluated; a string is compared,
  which holds whether the controller hands ``result`` over as text or as parsed JSON);
- Flagger's webhooks only look at the status code (anything above 202 is a failed check), so with
  ``?format=flagger`` a ``fail`` decision is 412 and an ``error`` decision 424, still with the same body.

A backend fault never passes: any check whose verdict is ``error`` makes the decision ``error``, whatever
the check's ``required`` says. One evaluation of a gate runs at a time and at most ``max_concurrent`` in all;
more are refused at once with 429 and ``Retry-After`` instead of queueing behind a slow backend.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.errors import UsageError

if TYPE_CHECKING:
    from collector.run import PacketFiles
    from collector.sources.base import Source
    from collector.specs import LoadedGate
    from collector.store import EvidenceStore
    from slo.evidence import EvidencePacket

SUBJECT_FIELDS = ("environment", "service", "release", "commit")
SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+@-]{0,199}$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VARS = 64
MAX_VAR_VALUE = 1024
FORMATS = frozenset({"argo", "flagger"})
RETRY_AFTER_SECONDS = 5

SourceFactory = Callable[[list["LoadedGate"]], list["Source"]]


class EvaluationRefused(Exception):
    """A request that is not evaluated: ``status`` is the HTTP answer, the message one line for the caller."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class EvaluationRequest:
    """What the caller may choose: gate variables and the packet's subject. Nothing else (no time, no sources)."""

    variables: dict[str, str] = field(default_factory=dict)
    subject: dict[str, str] = field(default_factory=dict)
    token: bytes | None = field(default=None, repr=False)
    """Flagger cannot send headers: its webhook's ``metadata.token`` carries the token instead."""


def _subject(values: Any, where: str) -> dict[str, str]:
    if not isinstance(values, dict):
        raise EvaluationRefused(400, f"{where} must be an object")
    unknown = sorted(set(values) - set(SUBJECT_FIELDS))
    if unknown:
        raise EvaluationRefused(400, f"{where}: unknown field {unknown[0]!r} (have: {', '.join(SUBJECT_FIELDS)})")
    chosen: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str) or not SUBJECT_RE.fullmatch(value):
            raise EvaluationRefused(400, f"{where}.{name}: 1 to 200 letters, digits or ._:/+@- (not starting with one)")
        chosen[name] = value
    return chosen


def _variables(values: Any, where: str) -> dict[str, str]:
    if not isinstance(values, dict):
        raise EvaluationRefused(400, f"{where} must be an object of strings")
    if len(values) > MAX_VARS:
        raise EvaluationRefused(400, f"{where}: at most {MAX_VARS} variables")
    chosen: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not VAR_NAME_RE.fullmatch(name):
            raise EvaluationRefused(400, f"{where}: a variable name is letters, digits and _ (at most 64)")
        if not isinstance(value, str) or len(value) > MAX_VAR_VALUE or any(ord(c) < 32 for c in value):
            raise EvaluationRefused(400, f"{where}.{name}: a string of at most {MAX_VAR_VALUE} printable characters")
        chosen[name] = value
    return chosen


def parse_request(body: Any, flavour: str) -> EvaluationRequest:
    """The request from an optional JSON body: ``{"vars": {...}, "subject": {...}}``, or Flagger's payload.

    Flagger posts ``{"name", "namespace", "phase", "checksum", "metadata": {string: string}}``; only
    ``metadata`` is read (``environment``, ``service``, ``release``, ``commit``, ``token`` and ``var.NAME``),
    so fields Flagger adds later do no harm. Unknown keys elsewhere are refused: a misspelt ``var`` must
    not evaluate the gate with its defaults and answer ``pass``.
    """
    if body is None:
        return EvaluationRequest()
    if not isinstance(body, dict):
        raise EvaluationRefused(400, "the body must be a JSON object")
    if flavour == "flagger":
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise EvaluationRefused(400, "metadata must be an object of strings")
        token = metadata.get("token")
        if token is not None and not isinstance(token, str):
            raise EvaluationRefused(400, "metadata.token must be a string")
        variables = {k.removeprefix("var."): v for k, v in metadata.items() if k.startswith("var.")}
        subject = {k: v for k, v in metadata.items() if k != "token" and not k.startswith("var.")}
        return EvaluationRequest(
            variables=_variables(variables, "metadata"),
            subject=_subject(subject, "metadata"),
            token=token.encode("utf-8", "surrogateescape") if token else None,
        )
    unknown = sorted(set(body) - {"vars", "subject"})
    if unknown:
        raise EvaluationRefused(400, f"unknown field {unknown[0]!r} in the body (have: vars, subject)")
    return EvaluationRequest(
        variables=_variables(body.get("vars") or {}, "vars"), subject=_subject(body.get("subject") or {}, "subject")
    )


def decision_for(packet: EvidencePacket, fail_on: str = "fail") -> str:
    """``pass``, ``fail`` or ``error`` (a check the backend could not answer: never a pass)."""
    from slo.results import Verdict

    if any(check.verdict is Verdict.ERROR for check in packet.checks):
        return "error"
    if packet.verdict is Verdict.PASS or (packet.verdict is Verdict.WARN and fail_on != "warn"):
        return "pass"
    return "fail"


def answer_body(packet: EvidencePacket, decision: str, new: bool) -> dict[str, Any]:
    """The JSON both Argo Rollouts and Flagger get; ``failing`` lists every check that did not pass."""
    digest = packet.digest.value if packet.digest else ""
    return {
        "gate": packet.gate.id,
        "decision": decision,
        "pass": decision == "pass",
        "verdict": packet.verdict.value,
        "digest": digest,
        "new": new,
        "evaluated_at": packet.evaluation.time,
        "environment": packet.subject.environment,
        "release": packet.subject.release,
        "counts": dict(packet.counts),
        "failing": [
            {"check": c.id, "verdict": c.verdict.value, "reason": c.reason}
            for c in packet.checks
            if c.verdict.value != "pass"
        ],
        "packet": f"/api/v1/packets/{digest}",
        "board": f"/packets/{digest}",
    }


def status_for(decision: str, flavour: str) -> int:
    """Argo reads the body (200); Flagger reads the status (only 200-202 pass; 4xx so a fault is not a 5xx)."""
    if flavour != "flagger" or decision == "pass":
        return 200
    return 412 if decision == "fail" else 424


class _Bodies:
    """Response bodies the Prometheus client read, gzipped in memory for the store (``--keep-responses``)."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def __call__(self, sha256: str, body: bytes) -> None:
        if sha256 not in self.kept:
            self.kept[sha256] = gzip.compress(body, compresslevel=6, mtime=0)  # same bytes as the files on disk


@dataclass
class Evaluator:
    """The gates the server can evaluate and how: sources, signing, response keeping, concurrency."""

    gates: dict[str, LoadedGate]
    sources: SourceFactory
    signer: PacketFiles | None = None
    keep_responses: bool = False
    max_concurrent: int = 2
    _running: set[str] = field(default_factory=set)

    def gate(self, gate_id: str) -> LoadedGate:
        found = self.gates.get(gate_id)
        if found is None:
            raise EvaluationRefused(404, f"no gate {gate_id!r} is configured on this server")
        return found

    async def evaluate(self, loaded: LoadedGate, request: EvaluationRequest, store: EvidenceStore) -> tuple[Any, bool]:
        """Run the gate (one at a time per gate, ``max_concurrent`` in all) and store its packet."""
        from starlette.concurrency import run_in_threadpool

        gate_id = loaded.gate.id
        # no await between the test and the add: on the one event loop this is atomic without a lock
        if gate_id in self._running:
            raise EvaluationRefused(
                429, f"gate {gate_id} is being evaluated already", {"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        if len(self._running) >= self.max_concurrent:
            raise EvaluationRefused(429, "too many evaluations at once", {"Retry-After": str(RETRY_AFTER_SECONDS)})
        self._running.add(gate_id)
        try:
            return await run_in_threadpool(self._run, loaded, request, store)
        finally:
            self._running.discard(gate_id)

    def _run(self, loaded: LoadedGate, request: EvaluationRequest, store: EvidenceStore) -> tuple[Any, bool]:
        import time

        from collector.cli.common import check_variables
        from collector.run import CollectOptions, collect
        from slo.evidence import to_canonical_json

        try:
            check_variables([loaded], request.variables)
        except UsageError as exc:
            raise EvaluationRefused(400, str(exc)) from None
        sources = self.sources([loaded])
        bodies = _Bodies()
        if self.keep_responses:
            for source in sources:
                client = getattr(source, "client", None)
                if client is not None and hasattr(client, "on_body"):
                    client.on_body = bodies
        subject = request.subject
        options = CollectOptions(
            at=time.time(),
            variables=dict(request.variables),
            sources=sources,
            out_dir=None,
            environment=subject.get("environment"),
            service=subject.get("service"),
            release=subject.get("release"),
            commit=subject.get("commit"),
        )
        outcome = collect([loaded], options, env={})  # the server's own environment (CI variables) is not the subject
        packet = outcome.packets[0]
        data = to_canonical_json(packet)
        if self.signer is not None:
            data = self.signer.files(packet, Path(f"{loaded.gate.id}.json"), data)[0][1]
        recorded = store.record(data, bodies.kept)
        return packet, recorded.new
