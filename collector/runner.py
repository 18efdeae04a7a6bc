"""The ``collect`` job end to end: specs in, verdicts on screen, sealed evidence on disk, an exit code."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collector.report.table import markdown, verdict_table
from collector.run import CheckEvaluator, GateRun, build_packet, evaluate_gate
from collector.sinks.files import write_atomic
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.specs import LoadedGate
from collector.subject import build_subject
from collector.timeutil import compact
from slo.evidence import Backend, EvidencePacket, InputFile, to_canonical_json
from slo.results import Verdict


class PacketFiles(Protocol):
    """Turns a sealed packet and its bytes into the files to write (signing wraps it in an envelope)."""

    def files(self, packet: EvidencePacket, path: Path, data: bytes) -> list[tuple[Path, bytes]]: ...


EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


@dataclass
class CollectOptions:
    at: float
    variables: dict[str, str] = field(default_factory=dict)
    prometheus: PrometheusConfig | None = None
    out_dir: Path | None = Path("evidence")
    output_format: str = "table"
    fail_on: str = "fail"
    environment: str | None = None
    service: str | None = None
    release: str | None = None
    commit: str | None = None
    evaluators: Mapping[str, CheckEvaluator] = field(default_factory=dict)
    inputs: list[InputFile] = field(default_factory=list)
    show_progress: bool = True
    signer: PacketFiles | None = None  # e.g. collector.signing.PacketSigner: a sealed packet -> the files to write
    on_body: Callable[[str, bytes], None] | None = None  # every raw backend response: (sha256, body)


@dataclass
class CollectOutcome:
    packets: list[EvidencePacket]
    written: list[Path]
    runs: list[GateRun]
    exit_code: int


async def _run_all(gates: list[LoadedGate], options: CollectOptions, console: Console) -> list[GateRun]:
    total = sum(len(g.gate.checks) for g in gates)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not options.show_progress or total < 2,
    )
    client = PrometheusClient(options.prometheus) if options.prometheus else None
    if client is not None:
        client.on_body = options.on_body
    runs: list[GateRun] = []
    try:
        with progress:
            task = progress.add_task("evaluating checks", total=total)
            for loaded in gates:
                run = await evaluate_gate(
                    loaded.gate,
                    at=options.at,
                    variables=options.variables,
                    client=client,
                    evaluators=options.evaluators,
                    on_result=lambda _r: progress.advance(task),
                )
                runs.append(run)
    finally:
        if client is not None:
            await client.aclose()
    return runs


def packet_path(out_dir: Path, packet: EvidencePacket, at: float) -> Path:
    return out_dir / f"{packet.gate.id}-{compact(at)}.json"


def exit_code_for(packets: list[EvidencePacket], runs: list[GateRun], fail_on: str) -> int:
    if runs and all(run.backend_unreachable for run in runs):
        return EXIT_UNREACHABLE
    verdicts = {p.verdict for p in packets}
    if Verdict.FAIL in verdicts or Verdict.ERROR in verdicts:
        return EXIT_FAIL
    if fail_on == "warn" and Verdict.WARN in verdicts:
        return EXIT_FAIL
    return EXIT_PASS


def collect(
    gates: list[LoadedGate],
    options: CollectOptions,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
) -> CollectOutcome:
    """Evaluate ``gates``, show them, write one sealed packet per gate atomically."""
    console = console or Console(stderr=True)
    env = os.environ if env is None else env
    started = time.time()
    runs = asyncio.run(_run_all(gates, options, console))
    finished = time.time()
    subject = build_subject(env, options.environment, options.service, options.release, options.commit)
    backends = [Backend(kind="prometheus", url=options.prometheus.public_url)] if options.prometheus else []
    packets: list[EvidencePacket] = []
    written: list[Path] = []
    for loaded, run in zip(gates, runs, strict=True):
        packet = build_packet(
            run,
            spec_path=loaded.path,
            spec_sha256=loaded.sha256,
            subject=subject,
            started_at=started,
            finished_at=finished,
            backends=backends,
            inputs=options.inputs,
        )
        packets.append(packet)
        if options.out_dir is not None:
            path = packet_path(options.out_dir, packet, options.at)
            data = to_canonical_json(packet)
            files = [(path, data)] if options.signer is None else options.signer.files(packet, path, data)
            for target, content in files:
                write_atomic(target, content)
                written.append(target)
    show(packets, written, options.output_format)
    return CollectOutcome(packets, written, runs, exit_code_for(packets, runs, options.fail_on))


def show(packets: list[EvidencePacket], written: list[Path], output_format: str) -> None:
    """Print the run in the chosen format on stdout; file locations go to stderr."""
    stdout = Console(soft_wrap=output_format != "table")
    if output_format == "json":
        for packet in packets:
            sys.stdout.write(to_canonical_json(packet).decode("utf-8") + "\n")
    elif output_format == "markdown":
        sys.stdout.write(markdown(packets))
    else:
        for packet in packets:
            stdout.print(verdict_table(packet))
    for path in written:
        Console(stderr=True).print(f"evidence written: {path}", highlight=False)
