"""Every shell command in README.md and docs/*.md runs as written against the demo Prometheus.

The fenced ``sh`` blocks are extracted and run one command at a time with bash in a scratch
directory that holds this checkout's ``examples/`` (so relative paths work as they do for a reader
of a fresh clone); only the host is replaced: ``https://prometheus.example`` becomes the demo world's
Prometheus (backfilled up to now, so ``--at now-1h`` and 30-day SLOs have data), and the stand-in
service's ``127.0.0.1:8080`` a free port. A command may exit 0, or 1 when it decides a gate that
fails; a usage error (2), no backend (3) or a traceback fails the test. A block preceded by
``<!-- doc-test: not run (reason) -->`` is skipped; the few that are (``make``, the long-running
``demo --serve``, importers that need the reader's own Sloth/OpenSLO files, trace backends) are asserted
to be only those, and are covered by their own tests.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from collector.demo.world import build_world
from slo.loader import load_gates
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- doc-test: (?P<note>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
NOT_RUN = {"make demo", "make test", "gatepack demo --serve"}
SERVICE = "127.0.0.1:8080"


def blocks(lang: str) -> list[tuple[Path, str | None, str]]:
    found = []
    for path in DOCS:
        for match in BLOCK.finditer(path.read_text(encoding="utf-8")):
            if match.group("lang") == lang:
                found.append((path, match.group("note"), match.group("body")))
    return found


def commands(body: str) -> list[str]:
    """One entry per command: continuation lines joined, blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def demo_now(prometheus_pool) -> str:
    end = int(time.time()) // 60 * 60
    return prometheus_pool.get("docs-healthy-now", lambda: list(build_world("healthy", end))).url


def test_only_the_known_blocks_are_not_run():
    skipped = [(path.name, note, body) for path, note, body in blocks("sh") if note and note.startswith("not run")]
    run = [body for _, note, body in blocks("sh") if not (note and note.startswith("not run"))]
    names = {c.split("#")[0].strip() for _, _, body in skipped for c in commands(body)}
    assert NOT_RUN <= names
    # reference pages whose synopses use placeholders; each block names the test that runs its commands
    synopses = {"evidence.md", "serve.md"}
    names -= {c.split("#")[0].strip() for f, _, body in skipped if f in synopses for c in commands(body)}
    others = names - NOT_RUN
    imported = ("gatepack import", "gatepack rules gates/myservice.yaml")  # the import block works on imported files
    assert all(c.startswith(imported) or re.search(r"--(otlp|tempo|jaeger)\b", c) for c in others), others
    assert all("(" in note for _, note, _ in skipped), "a skipped block says why"
    assert len(run) >= 6


def test_every_shell_command_in_the_docs_runs_as_written(demo_now, tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    port = free_port()
    summary = tmp_path / "step-summary.md"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "DURATION": "4s",  # the k6 example script's test length (15 s by default)
        "COLUMNS": "80",
    }
    env.pop("GATEPACK_PROMETHEUS_URL", None)
    background: list[subprocess.Popen[bytes]] = []
    ran: list[str] = []
    try:
        for path, note, body in blocks("sh"):
            if note and note.startswith("not run"):
                continue
            if note and "risk-register.pdf" in note:
                (work / "risk-register.pdf").write_bytes(b"%PDF-1.4 risk register\n")
            for command in commands(body):
                real = command.replace("https://prometheus.example", demo_now).replace(SERVICE, f"127.0.0.1:{port}")
                real = real.replace("--port 8080", f"--port {port}")
                if re.search(r"&\s*(#.*)?$", real):
                    background.append(subprocess.Popen(["bash", "-c", real], cwd=work, env=env, start_new_session=True))
                    wait_for_port(port)
                    continue
                done = subprocess.run(
                    ["bash", "-eo", "pipefail", "-c", real], cwd=work, env=env, capture_output=True, text=True,
                    timeout=240,
                )  # fmt: skip
                where = f"{path.name}: {command}\n{done.stderr[-1500:]}"
                assert "Traceback" not in done.stderr, where
                decides = re.search(r"gatepack (collect|ingest)\b", command) is not None
                assert done.returncode in ((0, 1) if decides else (0,)), where
                ran.append(command)
    finally:
        for process in background:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
    assert len(ran) >= 15
    assert list((work / "evidence").glob("checkout-*.json"))
    assert "checkout-perf" in summary.read_text()


def test_the_readme_gate_spec_is_the_example_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "examples/gates/checkout.yaml").read_text(encoding="utf-8")
    body = example[example.index("apiVersion") :]
    assert f"```yaml\n{body}```" in readme


def test_every_yaml_block_in_the_docs_is_valid():
    for path, _, body in blocks("yaml"):
        document = yaml.safe_load(body)  # every block is YAML; gate-shaped ones must load as gates
        if not isinstance(document, dict) or not ("checks" in document or document.get("kind") == "Gate"):
            continue
        if "apiVersion" in document:
            load_gates(body, path.name)
        else:
            wrapper = {"apiVersion": "gatepack/v1", "kind": "Gate", "id": "doc", "title": "doc", **document}
            load_gates(yaml.safe_dump(wrapper), path.name)
