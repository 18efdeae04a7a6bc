"""Helpers shared by the rules tests: import + generate, collect rules, compare PromQL semantically."""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import yaml

from collector.testing.promserver import find_binary, free_port
from slo.generate.rules import rules_document
from slo.imports.sloth import import_sloth
from slo.spec import Gate

_NUMBER = re.compile(r"(?<![A-Za-z_:\d.])(\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+)(?![\w.])")


def load_yaml_all(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def sloth_template(path: Path, version: str = "dev") -> list[Any]:
    """A Sloth golden ``.tpl`` rendered the way Sloth's own integration test renders it."""
    text = path.read_text(encoding="utf-8").replace("{{ .version }}", version)
    text = re.sub(r'\{\{"(\{\{[^"]*\}\})"\}\}', r"\1", text)
    return [d for d in yaml.safe_load_all(text) if d is not None]


def gates_from_sloth(docs: list[Any], source: str, **kwargs: Any) -> list[Gate]:
    return [Gate.model_validate(g) for g in import_sloth(docs, source, **kwargs)]


def all_rules(documents: list[Any]) -> list[dict[str, Any]]:
    """Rules of plain rule files and of PrometheusRule resources alike."""
    rules: list[dict[str, Any]] = []
    for doc in documents:
        groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
        for group in groups:
            rules.extend(group["rules"])
    return rules


def rule_key(rule: dict[str, Any]) -> tuple[str, str, str]:
    labels = rule.get("labels", {})
    name = rule.get("record") or rule["alert"]
    if "alert" in rule and "sloth_severity" in labels:  # Sloth's alerts take their identity from the expression
        found = re.search(r'sloth_id="([^"]+)"', rule["expr"])
        return name, found.group(1) if found else "", labels["sloth_severity"]
    return (
        name,
        labels.get("sloth_id", labels.get("gatepack_gate", "")),
        labels.get("sloth_window", labels.get("sloth_severity", "")),
    )


def generated_rules(gates: list[Gate]) -> list[dict[str, Any]]:
    return all_rules([rules_document(gates)])


def canonical(expr: str) -> str:
    return promql_parser.parse(expr).prettify()


def same_promql(left: str, right: str, rel_tol: float = 1e-9) -> bool:
    """Equal parse trees (printed canonically), numbers equal within ``rel_tol`` (float noise in Sloth)."""
    a, b = canonical(left), canonical(right)
    if _NUMBER.sub("N", a) != _NUMBER.sub("N", b):
        return False
    numbers_a = [float(x) for x in _NUMBER.findall(a)]
    numbers_b = [float(x) for x in _NUMBER.findall(b)]
    return len(numbers_a) == len(numbers_b) and all(
        math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-15) for x, y in zip(numbers_a, numbers_b, strict=True)
    )


@contextlib.contextmanager
def prometheus_with_rules(files: dict[str, str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real Prometheus on 127.0.0.1 loading ``files`` (name → YAML text) as rule_files, evaluating every
    second; yields (URL, rules from /api/v1/rules once every rule has been evaluated). Stopped by PID."""
    workdir = Path(tempfile.mkdtemp(prefix="gatepack-rules-"))
    for name, text in files.items():
        (workdir / f"{name}.yml").write_text(text)
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1m", "evaluation_interval": "1s"},
                "rule_files": [str(workdir / f"{n}.yml") for n in files],
                "scrape_configs": [],
            }
        )
    )
    port = free_port()
    log = (workdir / "log").open("wb")
    process = subprocess.Popen(
        [
            find_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 150
        rules: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            assert process.poll() is None, (workdir / "log").read_text()[-2000:]
            try:
                body = httpx.get(f"{url}/api/v1/rules", timeout=2).json()
            except (httpx.HTTPError, ValueError):  # not ready yet (503 text)
                time.sleep(0.2)
                continue
            rules = [r for g in body["data"]["groups"] for r in g["rules"]]
            if rules and all(r["health"] != "unknown" for r in rules):
                break
            time.sleep(0.5)
        yield url, rules
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
