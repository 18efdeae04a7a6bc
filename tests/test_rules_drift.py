"""`gatepack rules --check -p URL`: the rules a real Prometheus runs against the rules the specs generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slo.generate.drift import compare
from slo.generate.rules import dump_yaml, rules_document
from tests.rules_history import closed_form_gate as _gate
from tests.rules_support import prometheus_with_rules

SPEC_GATE = _gate()


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(SPEC_GATE.model_dump(by_alias=True, exclude_none=True, mode="json")))
    return path


def _check(spec: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", "rules", str(spec), "--check", "-p", url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
def test_no_drift_when_the_server_runs_the_generated_rules(prometheus_binaries: None, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    generated = subprocess.run(
        [sys.executable, "-m", "collector.cli", "rules", str(spec)], capture_output=True, text=True, check=True
    ).stdout
    with prometheus_with_rules({"rules": generated}) as (url, rules):
        assert rules
        done = _check(spec, url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "" and "ok:" in done.stderr


@pytest.mark.integration
def test_missing_extra_and_changed_rules_are_reported(prometheus_binaries: None, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    document = rules_document([SPEC_GATE])
    sli, meta, alerts = document["groups"]
    removed = sli["rules"].pop(1)  # someone deleted the 30m recording rule
    alerts["rules"][0]["expr"] = alerts["rules"][0]["expr"].replace("14.4", "20")  # and loosened the page
    meta["rules"].append({"record": "slo:hand_written:ratio", "expr": "vector(1)"})  # and added one by hand
    with prometheus_with_rules({"rules": dump_yaml(document)}) as (url, _):
        done = _check(spec, url)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines == [
        f"missing: sloth-slo-sli-recordings-closed-form-availability/{removed['record']}"
        "{gatepack_check=availability,sloth_window=30m}",
        "extra: sloth-slo-meta-recordings-closed-form-availability/slo:hand_written:ratio",
        "changed: sloth-slo-alerts-closed-form-availability/GatepackSLOBurnRate"
        "{gatepack_check=availability,sloth_severity=page} (expression)",
    ]


def test_reformatting_is_not_drift() -> None:
    """The server prints queries its own way; only a change of meaning counts."""
    document = rules_document([SPEC_GATE])
    rule = document["groups"][0]["rules"][0]
    server = {
        "groups": [
            {
                "name": document["groups"][0]["name"],
                "rules": [
                    {
                        "name": rule["record"],
                        "query": " ".join(rule["expr"].split()).replace("(sum", "( sum"),
                        "labels": rule["labels"],
                        "type": "recording",
                    }
                ],
            }
        ]
    }
    drifts = compare({"groups": [{**document["groups"][0], "rules": [rule]}]}, server)
    assert drifts == []


def test_unreachable_server_is_exit_3(tmp_path: Path) -> None:
    from collector.testing.promserver import free_port

    done = _check(_spec(tmp_path), f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 3 and "Traceback" not in done.stderr
