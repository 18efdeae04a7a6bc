"""The ``rules_drift`` source: does the Prometheus server run the rules the gate specs generate?

After a freeze, a recording rule deleted by hand or a burn-rate alert loosened on the server silently
changes what pages whom. This source makes that evidence: it reads ``/api/v1/rules`` once per run (every
``rules_drift`` check of every gate is answered from the same answer, whose sha256 goes into the packet),
generates the expected rules with :mod:`slo.generate.rules` from the run's gate specs, and compares them
semantically with :func:`slo.generate.drift.compare` — the same comparison as ``gatepack rules --check``.

Verdicts: ``pass`` no drift; ``fail`` missing, extra or changed rules, each named in the reason and in
``details``; ``error`` a backend fault or an answer that is not Prometheus rules JSON; ``no_data`` a
server without a rules API (HTTP 404: a remote-write receiver or an old Prometheus).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.sources.base import RunContext
from collector.sources.http import HttpResult, HttpTransport
from slo.evaluate import error_result, result
from slo.evidence import Backend, InputFile
from slo.generate.drift import Drift, compare
from slo.generate.rules import DEFAULT_RUNBOOK, RuleOptions, RulesError, rules_document
from slo.results import CheckResult, Fault, QueryOutcome, Status, Verdict
from slo.spec import Check, Gate, RulesDriftCheck

RULES_PATH = "/api/v1/rules"
SHOWN_DRIFTS = 5
"""How many drifted rules a reason names before ``(+N more)``; ``details`` lists them all."""
NO_RULES_API = frozenset({404, 405})


@dataclass(frozen=True)
class ServerRules:
    """The one ``/api/v1/rules`` answer of the run, reduced to its data or to why there is none."""

    outcome: QueryOutcome
    data: Mapping[str, Any] | None


class RulesDriftSource:
    """``rules_drift`` checks, answered from one read of the server's rules per run."""

    name = "rules_drift"
    kinds = frozenset({"rules_drift"})

    def __init__(self, transport: HttpTransport, gates: Sequence[Gate]) -> None:
        self.transport = transport
        self.gates = {gate.id: gate for gate in gates}
        self._lock = asyncio.Lock()
        self._rules: ServerRules | None = None

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    def backends(self) -> list[Backend]:
        return [Backend(kind="prometheus", url=self.transport.public_url, headers=self.transport.config.public_headers)]

    def inputs(self) -> list[InputFile]:
        return []

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def server_rules(self, evaluated_at: str) -> ServerRules:
        """The server's rules, fetched on first use and shared by every check of the run."""
        async with self._lock:
            if self._rules is None:
                reply = await self.transport.request("GET", RULES_PATH, accept=NO_RULES_API)
                self._rules = self._decode(reply, evaluated_at)
            return self._rules

    def _decode(self, reply: HttpResult, evaluated_at: str) -> ServerRules:
        common = {
            "role": "rules",
            "query": f"GET {RULES_PATH}",
            "backend": self.transport.public_url,
            "time": evaluated_at,
            "response_sha256": reply.sha256,
            "attempts": reply.attempts,
        }
        if not reply.ok or reply.body is None:
            reason = f"cannot read rules from {self.transport.public_url}: {reply.reason or 'no response'}"
            return ServerRules(QueryOutcome(status=Status.ERROR, reason=reason, fault=reply.fault, **common), None)
        if reply.status_code in NO_RULES_API:
            reason = f"{self.transport.public_url} has no rules API (HTTP {reply.status_code} on {RULES_PATH})"
            return ServerRules(QueryOutcome(status=Status.NO_DATA, reason=reason, **common), None)
        try:
            answer = json.loads(reply.body)
            data = answer["data"]
            if answer.get("status") != "success" or not isinstance(data, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            reason = f"{self.transport.public_url}{RULES_PATH} did not answer Prometheus rules JSON"
            outcome = QueryOutcome(status=Status.ERROR, reason=reason, fault=Fault.GARBAGE, **common)
            return ServerRules(outcome, None)
        count = sum(len(g.get("rules") or []) for g in data.get("groups") or [] if isinstance(g, dict))
        return ServerRules(QueryOutcome(status=Status.OK, value=float(count), **common), data)

    def expected(self, check: RulesDriftCheck, context: RunContext) -> dict[str, Any]:
        """The rules document ``gatepack rules`` would write for the check's gates (default: its own gate)."""
        ids = check.gates or [context.gate.id]
        unknown = [gate_id for gate_id in ids if gate_id not in self.gates and gate_id != context.gate.id]
        if unknown:
            raise RulesError(f"gate(s) {', '.join(unknown)} not among the gates of this run")
        gates = [context.gate if gate_id == context.gate.id else self.gates[gate_id] for gate_id in ids]
        runbook = check.runbook or DEFAULT_RUNBOOK
        groups: list[Any] = []
        for gate in gates:
            # the run's --var overrides reach the gate's own rules, as they reach its queries
            variables = {**context.variables, **check.vars} if gate.id == context.gate.id else dict(check.vars)
            groups.extend(rules_document([gate], RuleOptions(variables=variables, runbook=runbook))["groups"])
        return {"groups": groups}

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        for check in checks:
            if not isinstance(check, RulesDriftCheck):
                yield error_result(check, f"not a rules_drift check: {check.kind}", context.evaluated_at)
                continue
            yield await self._evaluate(check, context)

    async def _evaluate(self, check: RulesDriftCheck, context: RunContext) -> CheckResult:
        at = context.evaluated_at
        try:
            document = self.expected(check, context)
        except RulesError as exc:
            return error_result(check, f"cannot generate the expected rules: {exc}", at)
        expected = sum(len(g["rules"]) for g in document["groups"])
        server = await self.server_rules(at)
        common: dict[str, Any] = {"objective": "no drift", "queries": [server.outcome]}
        if server.data is None:
            verdict = Verdict.NO_DATA if server.outcome.status is Status.NO_DATA else Verdict.ERROR
            return result(check, verdict, server.outcome.reason or "no rules answer", at, **common)
        if expected == 0:
            return result(check, Verdict.NO_DATA, "the gates generate no rules to compare", at, **common)
        drifts = compare(document, server.data)
        common["details"] = {
            "expected_rules": expected,
            "groups": [g["name"] for g in document["groups"]],
            "drift": [_record(d) for d in drifts],
        }
        common["value"] = float(len(drifts))
        if not drifts:
            return result(
                check, Verdict.PASS, f"the server runs all {expected} generated rules unchanged", at, **common
            )
        return result(check, Verdict.FAIL, _reason(drifts, expected), at, **common)


def _record(drift: Drift) -> dict[str, Any]:
    return {"kind": drift.kind, "rule": str(drift.rule), "detail": drift.detail or None}


def _reason(drifts: Sequence[Drift], expected: int) -> str:
    counts = {kind: sum(d.kind == kind for d in drifts) for kind in ("missing", "extra", "changed")}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    shown = "; ".join(str(d) for d in drifts[:SHOWN_DRIFTS])
    more = f" (+{len(drifts) - SHOWN_DRIFTS} more)" if len(drifts) > SHOWN_DRIFTS else ""
    return f"rules drifted from the {expected} generated: {summary}: {shown}{more}"
