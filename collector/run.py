"""Gates × sources → runs → sealed packets: the engine, with no printing of its own.

Each check kind is routed to the first source that names it (:func:`collector.sources.base.route`);
every source gets the whole batch of its checks for a gate at once and the sources of a gate run
concurrently. A fault in one check or one source never stops the others: it becomes that check's
``error`` or ``no_data``. Screens, progress bars and reports are the caller's (``collector.cli``,
``collector.report``): :func:`collect` only reports each decided check through ``on_result``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from collector.baseline import apply_baselines
from collector.sinks.files import NewFile, Placed, write_new
from collector.sources.base import RunContext, Source, missing_source_reason, route, route_kind
from collector.specs import LoadedGate
from collector.subject import build_subject
from collector.telemetry import GateSpan, run_span, setup_tracing
from collector.timeutil import compact, rfc3339
from slo import __version__
from slo.durations import parse_duration
from slo.evaluate import GateSummary, error_result, summarize
from slo.evidence import (
    Backend,
    Collector,
    Evaluation,
    EvidencePacket,
    GateRef,
    InputFile,
    Override,
    SpecRef,
    Subject,
    seal,
    seal_into,
    to_canonical_json,
)
from slo.results import CheckResult, Fault, Status, Verdict
from slo.spec import Check, Gate

UNREACHABLE_FAULTS = {Fault.CONNECT}
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

OnResult = Callable[[CheckResult], None]


@dataclass(repr=False)  # asyncio formats the run's result into a discarded message; a full repr costs seconds
class GateRun:
    gate: Gate
    at: float
    variables: dict[str, str]
    results: list[CheckResult]
    summary: GateSummary
    windows: list[str] = field(default_factory=list)
    backend_unreachable: bool = False
    requests_sent: int = 0

    def __repr__(self) -> str:
        return f"GateRun(gate={self.gate.id!r}, checks={len(self.results)}, verdict={self.summary.verdict.value!r})"


def gate_variables(gate: Gate, overrides: Mapping[str, str]) -> dict[str, str]:
    """Spec defaults overridden by ``--var k=v``."""
    return {**gate.vars, **overrides}


async def _drain(source: Source, checks: list[Check], context: RunContext, done: OnResult) -> None:
    """Every check of the batch gets a result, even when the source breaks half way."""
    answered: set[str] = set()
    try:
        async for result in source.evaluate(checks, context):
            answered.add(result.id)
            done(result)
    except Exception as exc:  # a source bug must not lose the rest of the gate
        for check in checks:
            if check.id not in answered:
                done(error_result(check, f"{source.name} evaluation failed: {exc}", context.evaluated_at))


async def evaluate_gate(
    gate: Gate,
    *,
    at: float,
    variables: Mapping[str, str] | None = None,
    sources: Sequence[Source] = (),
    on_result: OnResult | None = None,
) -> GateRun:
    """Every check of ``gate`` evaluated at ``at``; results keep the spec's check order."""
    context = RunContext(gate=gate, at=at, evaluated_at=rfc3339(at), variables=gate_variables(gate, variables or {}))
    results: dict[str, CheckResult] = {}
    traced = GateSpan(gate.id, len(gate.checks))  # gatepack's own spans (collector/telemetry.py)

    def done(result: CheckResult) -> None:
        results[result.id] = result
        traced.check(result)
        if on_result is not None:
            on_result(result)

    routed, unanswered = route(gate.checks, sources)
    for check in unanswered:
        done(error_result(check, missing_source_reason(route_kind(check)), context.evaluated_at))
    try:
        await asyncio.gather(*(_drain(sources[i], checks, context, done) for i, checks in routed.items()))
    finally:
        traced.end(str(summarize(list(results.values())).verdict) if len(results) == len(gate.checks) else None)

    ordered = [results[c.id] for c in gate.checks]
    queried = [q for r in ordered for q in r.queries]
    unreachable = bool(queried) and all(q.status == Status.ERROR and q.fault in UNREACHABLE_FAULTS for q in queried)
    windows = {q.window for q in queried if q.window}
    return GateRun(
        gate=gate,
        at=at,
        variables=dict(context.variables),
        results=ordered,
        summary=summarize(ordered),
        windows=sorted(windows, key=parse_duration),
        backend_unreachable=unreachable,
        requests_sent=sum(s.requests_sent for s in sources),
    )


def build_packet(
    run: GateRun,
    *,
    spec_path: str,
    spec_sha256: str,
    subject: Subject,
    started_at: float,
    finished_at: float,
    backends: list[Backend],
    inputs: list[InputFile] | None = None,
    overrides: list[Override] | None = None,
) -> EvidencePacket:
    """A sealed evidence packet for one gate run (its bytes kept in memory: :func:`slo.evidence.seal`)."""
    return seal(
        unsealed_packet(
            run,
            spec_path=spec_path,
            spec_sha256=spec_sha256,
            subject=subject,
            started_at=started_at,
            finished_at=finished_at,
            backends=backends,
            inputs=inputs,
            overrides=overrides,
        )
    )


def unsealed_packet(
    run: GateRun,
    *,
    spec_path: str,
    spec_sha256: str,
    subject: Subject,
    started_at: float,
    finished_at: float,
    backends: list[Backend],
    inputs: list[InputFile] | None = None,
    overrides: list[Override] | None = None,
) -> EvidencePacket:
    """The evidence packet for one gate run, before its digest is computed."""
    gate = run.gate
    return EvidencePacket(
        gate=GateRef(id=gate.id, title=gate.title, sprint=gate.sprint, owner=gate.owner, labels=dict(gate.labels)),
        subject=subject,
        evaluation=Evaluation(
            time=rfc3339(run.at),
            started_at=rfc3339(started_at),
            finished_at=rfc3339(finished_at),
            windows=run.windows,
            variables=run.variables,
        ),
        collector=Collector(version=__version__, python=platform.python_version()),
        spec=SpecRef(path=spec_path, sha256=spec_sha256),
        backends=backends,
        inputs=inputs or [],
        overrides=overrides or [],
        checks=run.results,
        verdict=run.summary.verdict,
        counts=run.summary.counts,
    )


class PacketFiles(Protocol):
    """Turns a sealed packet and its bytes into the files to write (signing wraps it in an envelope)."""

    def files(self, packet: EvidencePacket, path: Path, data: bytes) -> list[tuple[Path, bytes]]: ...


@dataclass
class CollectOptions:
    at: float
    variables: dict[str, str] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)
    out_dir: Path | None = Path("evidence")
    fail_on: str = "fail"
    environment: str | None = None
    service: str | None = None
    release: str | None = None
    commit: str | None = None
    overrides: dict[str, list[Override]] = field(default_factory=dict)
    """Per gate id, the spec fields changed with ``--set`` (the gates passed in already carry the new values)."""
    signer: PacketFiles | None = None  # e.g. collector.signing.PacketSigner: a sealed packet -> the files to write
    baseline_store: str | None = None
    """Where checks with a ``baseline`` look up their baseline packet (``--store``); None: they say there is none."""


@dataclass
class CollectOutcome:
    packets: list[EvidencePacket]
    written: list[Path]
    runs: list[GateRun]
    exit_code: int
    placed: list[Placed] = field(default_factory=list)
    """What happened to each packet file: written, already there (same digest), or renamed by digest."""


async def run_gates(
    gates: list[LoadedGate], options: CollectOptions, on_result: OnResult | None = None
) -> list[GateRun]:
    """Every gate in turn over the same sources, which are closed at the end whatever happens."""
    runs: list[GateRun] = []
    try:
        for loaded in gates:
            run = await evaluate_gate(
                loaded.gate, at=options.at, variables=options.variables, sources=options.sources, on_result=on_result
            )
            runs.append(run)
    finally:
        for source in options.sources:
            await source.aclose()
    return runs


def packet_path(out_dir: Path, packet: EvidencePacket, at: float) -> Path:
    return out_dir / f"{packet.gate.id}-{compact(at)}.json"


def packet_fallbacks(path: Path, packet: EvidencePacket) -> list[Path]:
    """Names for a packet whose usual name is taken by a different one: its digest's first characters.

    Longer prefixes follow in case two different packets ever share a short prefix; the full digest is
    unique to the bytes, so the last name can only be taken by this very packet.
    """
    digest = packet.digest.value if packet.digest else ""
    return [path.with_name(f"{path.stem}-{digest[:n]}{path.suffix}") for n in (12, 24, len(digest)) if digest]


def exit_code_for(packets: list[EvidencePacket], runs: list[GateRun], fail_on: str) -> int:
    if runs and all(run.backend_unreachable for run in runs):
        return EXIT_UNREACHABLE
    verdicts = {p.verdict for p in packets}
    if Verdict.FAIL in verdicts or Verdict.ERROR in verdicts:
        return EXIT_FAIL
    if fail_on == "warn" and Verdict.WARN in verdicts:
        return EXIT_FAIL
    return EXIT_PASS


YOUNG_COLLECTION_EVERY = 20_000
"""Allocations between collections of the youngest GC generation during a run (Python's default: 700)."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector tuned for one run, then restored.

    A gate of a thousand SLOs allocates hundreds of thousands of objects that live to the end of the run
    (plans, outcomes, results, the packet) and makes almost no reference cycles. With the default
    thresholds the collector ran about 700 times and rescanned every live object several times: 0.4 s of
    a 2.4 s run. Here what is alive when the run starts (modules, loaded specs) is frozen out of the scans
    and the youngest generation is collected every :data:`YOUNG_COLLECTION_EVERY` allocations; cycles are
    still collected, less often (peak memory did not change).
    """
    if _tuned:  # already inside a tuned run (the command wraps loading and the run): one tuning
        yield
        return
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], YOUNG_COLLECTION_EVERY), *old[1:])
    _tuned.append(True)
    try:
        yield
    finally:
        _tuned.clear()
        gc.set_threshold(*old)
        gc.unfreeze()


_tuned: list[bool] = []


def collect(
    gates: list[LoadedGate],
    options: CollectOptions,
    env: Mapping[str, str] | None = None,
    on_result: OnResult | None = None,
) -> CollectOutcome:
    """Evaluate ``gates`` and write one sealed packet per gate atomically; nothing is printed."""
    with fewer_collections():
        return _collect(gates, options, env, on_result)


def _collect(
    gates: list[LoadedGate],
    options: CollectOptions,
    env: Mapping[str, str] | None,
    on_result: OnResult | None,
) -> CollectOutcome:
    env = os.environ if env is None else env
    started = time.time()
    setup_tracing("gatepack", env)  # OTLP export only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    with run_span("collect", len(gates)):
        runs = asyncio.run(run_gates(gates, options, on_result))
    finished = time.time()
    subject = build_subject(env, options.environment, options.service, options.release, options.commit)
    apply_baselines(runs, options.baseline_store, subject.environment)  # before sealing: packets name the baseline
    # two sources on one backend (Prometheus checks and rules drift) record it once
    backends = list({b.model_dump_json(): b for s in options.sources for b in s.backends()}.values())
    inputs = [i for s in options.sources for i in s.inputs()]
    packets: list[EvidencePacket] = []
    written: list[Path] = []
    placed: list[Placed] = []
    for loaded, run in zip(gates, runs, strict=True):
        unsealed = unsealed_packet(
            run,
            spec_path=loaded.path,
            spec_sha256=loaded.sha256,
            subject=subject,
            started_at=started,
            finished_at=finished,
            backends=backends,
            inputs=inputs,
            overrides=options.overrides.get(loaded.gate.id),
        )
        if options.out_dir is None:
            packets.append(seal(unsealed))
            continue
        path = packet_path(options.out_dir, unsealed, options.at)
        if options.signer is None:
            # sealed straight into the file: the packet's bytes never exist whole in memory (issue 16)
            with NewFile(path) as new:
                packet = seal_into(unsealed, new.write)
                outcomes = [new.place(packet_fallbacks(path, packet))]  # never overwrite (see write_new)
        else:
            packet = seal(unsealed)
            data = to_canonical_json(packet)
            # never overwrite: a concurrent run of the same gate at the same --at keeps its own packet
            outcomes = [
                write_new(t, c, packet_fallbacks(t, packet)) for t, c in options.signer.files(packet, path, data)
            ]
        packets.append(packet)
        placed.extend(outcomes)
        written.extend(o.path for o in outcomes)
    return CollectOutcome(packets, written, runs, exit_code_for(packets, runs, options.fail_on), placed)
