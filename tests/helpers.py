"""Helpers several test modules share, kept once: the in-process ``gatepack`` call, a small sealed packet,
key files, and the forger's reseal.

The ``gatepack`` fixture in ``conftest.py`` wraps :func:`invoke`; modules that take ``monkeypatch`` and
``capsys`` themselves call :func:`invoke` directly.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.signing import private_pem, public_pem
from slo.evaluate import result, summarize
from slo.evidence import (
    Collector,
    Evaluation,
    EvidencePacket,
    GateRef,
    SpecRef,
    Subject,
    compute_digest,
    seal,
    to_canonical_json,
)
from slo.results import CheckResult, QueryOutcome, Verdict
from slo.spec import ThresholdCheck

CLEARED_ENV = (
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "GATEPACK_PROMETHEUS_URL",
    "GATEPACK_STORE",
    "GATEPACK_SIGNING_KEY",
    "GATEPACK_SIGNING_KEY_FILE",
)
"""Variables a developer's or CI's shell may set that would change what a test's ``gatepack`` call does."""


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset :data:`CLEARED_ENV` for this test (before its body, which may then set any of them itself)."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


class Ran:
    """What one in-process ``gatepack`` call did."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"Ran(code={self.code}, err={self.err[-800:]!r})"

    @property
    def flat_err(self) -> str:
        """stderr with every run of whitespace as one space: a message reads the same wherever it was broken."""
        return " ".join(self.err.split())

    def flat(self) -> tuple[int, str]:
        """(exit code, :attr:`flat_err`), for ``code, err = invoke(...).flat()``."""
        return self.code, self.flat_err


def invoke(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: object,
    env: Mapping[str, str] | None = None,
) -> Ran:
    """Call the real ``gatepack`` entry point in-process (stdout and stderr are pipes, not terminals).

    ``env`` is set for this call only; :func:`clear_env` (the ``gatepack`` fixture calls it) unsets the rest.
    """
    from collector.cli import common
    from collector.cli.app import main

    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["gatepack", *map(str, args)])
    common.set_quiet(False)
    capsys.readouterr()
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    for key in env or {}:
        monkeypatch.delenv(key, raising=False)
    return Ran(code, captured.out, captured.err)


def make_packet(
    gate: str = "g", env: str = "prod", release: str = "v1", verdict: Verdict = Verdict.PASS, minute: int = 0,
    value: float = 1.0, response: bytes | None = None,
) -> bytes:  # fmt: skip
    """A sealed one-check packet in canonical form; ``response`` makes its query name that body's sha256."""
    check = ThresholdCheck(id="c", kind="threshold", query="up", op=">", target=0)
    queries = []
    if response is not None:
        sha = hashlib.sha256(response).hexdigest()
        queries = [QueryOutcome(role="value", query="up", status="ok", value=value, response_sha256=sha)]
    stamp = f"2026-01-01T00:{minute:02d}:00Z"
    results = [result(check, verdict, "because", stamp, value=value, queries=queries)]
    subject = Subject(environment=env, release=release, commit="c" * 40)
    return to_canonical_json(sealed_packet(results, gate=GateRef(id=gate, title=gate), subject=subject, time=stamp))


def sealed_packet(
    results: list[CheckResult],
    *,
    gate: GateRef | None = None,
    subject: Subject | None = None,
    time: str = "2026-01-01T00:00:00Z",
    finished_at: str | None = None,
    spec: SpecRef | None = None,
) -> EvidencePacket:
    """A sealed packet of ``results`` with the verdict and counts their summary gives (the tests' one builder)."""
    summary = summarize(results)
    return seal(
        EvidencePacket(
            gate=gate or GateRef(id="g", title="g"),
            subject=subject or Subject(),
            evaluation=Evaluation(time=time, started_at=time, finished_at=finished_at or time),
            collector=Collector(version="0.1.0"),
            spec=spec or SpecRef(path="g.yaml", sha256="0" * 64),
            checks=results,
            verdict=summary.verdict,
            counts=summary.counts,
        )
    )


def write_keys(directory: Path, name: str, key: Ed25519PrivateKey) -> tuple[Path, Path]:
    """``directory/name`` (private PEM) and ``directory/name.pub`` (public PEM), as ``gatepack keygen`` writes."""
    private = directory / name
    private.write_bytes(private_pem(key))
    public = directory / f"{name}.pub"
    public.write_bytes(public_pem(key.public_key()))
    return private, public


def reseal(packet: dict[str, Any]) -> dict[str, Any]:
    """What a careful forger does after an edit: recompute the digest, so the packet verifies on its own."""
    packet = {k: v for k, v in packet.items() if k != "digest"}
    packet["digest"] = {"algorithm": "sha256", "value": compute_digest(packet)}
    return packet
