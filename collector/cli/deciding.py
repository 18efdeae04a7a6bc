"""What every command that decides gates from inputs shares (``collect``, ``ingest``): one place, one meaning.

Both take ``--tests`` the same way, and both build their run the same way from the shared option groups:
the evaluation time, subject, output directory and fail-on level, signing and response keeping, and the
baseline store (``--store`` or ``GATEPACK_STORE``) that relative checks (``baseline: previous_pass``,
``release:NAME``) look their baseline packet up in. Before this module, ``ingest`` had its own copy and
never looked baselines up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collector.cli.options import ReportOptions, RunOptions, SubjectOptions
    from collector.cli.packet_options import EvidenceOptions
    from collector.run import CollectOptions
    from collector.specs import LoadedGate
    from slo.evidence import Override as OverrideRecord

TestsFiles = Annotated[
    list[Path], typer.Option("--tests", metavar="FILE", help="JUnit XML test report for tests checks")
]
STORE_VARIABLE = "GATEPACK_STORE"


def run_options(
    loaded: list[LoadedGate],
    sources: list[Any],
    variables: dict[str, str],
    overrides: dict[str, list[OverrideRecord]],
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    evidence: EvidenceOptions,
) -> CollectOptions:
    """The run's options from the shared groups, with signing set up and the baseline store named."""
    from collector.run import CollectOptions

    options = CollectOptions(
        at=run.time(),
        variables=variables,
        sources=sources,
        out_dir=report.out,
        fail_on=report.fail_on.value,
        environment=subject.environment,
        service=subject.service,
        release=subject.release,
        commit=subject.commit,
        overrides=overrides,
    )
    evidence.apply(options, loaded)
    options.baseline_store = evidence.store or os.environ.get(STORE_VARIABLE)
    return options
