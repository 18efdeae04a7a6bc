"""A packet is never overwritten: same bytes is a no-op, different bytes get a name with the digest.

Before: two ``collect`` runs of the same gate at the same ``--at`` into the same ``--out`` both exited 0
and the second packet silently replaced the first (``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from collector.sinks.files import Placement, write_new
from slo.evidence import verify_bytes
from tests.faulty_backend import FaultyBackend

GATE = """apiVersion: gatepack/v1
kind: Gate
id: race
title: Race
checks:
  - {id: slow, kind: threshold, query: 'sum(slow_metric)', op: '>', target: 0}
  - {id: ok, kind: threshold, query: 'sum(ok_metric)', op: '>', target: 0}
"""
AT = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def faulty():
    with FaultyBackend() as backend:
        yield backend


def test_same_bytes_is_a_no_op_and_other_bytes_get_another_name(tmp_path):
    target = tmp_path / "g-20260101T000000Z.json"
    first = write_new(target, b"packet one", [tmp_path / "alt-1.json", tmp_path / "alt-2.json"])
    assert first.placement is Placement.WRITTEN and first.path == target
    mtime = target.stat().st_mtime_ns
    again = write_new(target, b"packet one", [tmp_path / "alt-1.json"])
    assert again.placement is Placement.UNCHANGED and again.path == target
    assert target.stat().st_mtime_ns == mtime and "unchanged" in again.describe()
    other = write_new(target, b"packet two", [tmp_path / "alt-1.json", tmp_path / "alt-2.json"])
    assert other.placement is Placement.RENAMED and other.path == tmp_path / "alt-1.json"
    assert target.read_bytes() == b"packet one" and other.path.read_bytes() == b"packet two"
    assert target.name in other.describe() and str(other.path) in other.describe()
    third = write_new(target, b"packet three", [tmp_path / "alt-1.json", tmp_path / "alt-2.json"])
    assert third.path == tmp_path / "alt-2.json"
    with pytest.raises(FileExistsError):
        write_new(target, b"packet four", [tmp_path / "alt-1.json"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alt-1.json", "alt-2.json", target.name]  # no temp left


def test_racing_writers_all_keep_their_bytes(tmp_path):
    """Sixteen threads write different bytes to one name at the same instant: sixteen files survive."""
    target = tmp_path / "p.json"
    barrier = threading.Barrier(16)
    placed = []

    def write(i: int) -> None:
        data = f"packet {i}".encode() * 1000
        digest = hashlib.sha256(data).hexdigest()
        barrier.wait()
        placed.append(write_new(target, data, [tmp_path / f"p-{digest[:12]}.json"]))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = {p.read_bytes() for p in tmp_path.glob("*.json")}
    assert contents == {f"packet {i}".encode() * 1000 for i in range(16)}
    assert sum(p.placement is Placement.WRITTEN for p in placed) == 1


def collect_process(spec: Path, url: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector.cli",
            "collect",
            str(spec),
            "-p",
            url,
            "--at",
            AT,
            "--out",
            str(out),
            "--format",
            "json",
            "--timeout",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )


def test_two_concurrent_collect_runs_both_keep_their_packets(tmp_path, faulty):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    out = tmp_path / "ev"
    # both wait on the same 2 s query, so they finish and write within moments of each other
    runs = [collect_process(spec, faulty.url, out) for _ in range(2)]
    finished = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], finished
    files = sorted(out.glob("race-*.json"))
    assert len(files) == 2, [f.name for f in files]
    digests = {json.loads(stdout)["digest"]["value"] for stdout, _ in finished}
    on_disk = {json.loads(f.read_bytes())["digest"]["value"] for f in files}
    assert on_disk == digests and len(digests) == 2  # each run's own packet, both intact
    assert all(verify_bytes(f.read_bytes()).ok for f in files)
    plain = out / "race-20260101T000000Z.json"
    renamed = next(f for f in files if f != plain)
    assert json.loads(renamed.read_bytes())["digest"]["value"][:12] in renamed.name
    stderr = " ".join(" ".join(err.split()) for _, err in finished)
    assert f"{plain.name} holds a different packet" in stderr and str(renamed) in stderr


def test_rerun_with_the_same_packet_is_a_no_op(tmp_path):
    """The same sealed bytes collected again (a retried CI step re-uploading) leave the directory as it was."""
    from collector.run import packet_fallbacks, packet_path
    from tests.test_security_output import _packet

    packet = _packet("same")
    path = packet_path(tmp_path, packet, 1767225600)
    from slo.evidence import to_canonical_json

    data = to_canonical_json(packet)
    assert write_new(path, data, packet_fallbacks(path, packet)).placement is Placement.WRITTEN
    assert write_new(path, data, packet_fallbacks(path, packet)).placement is Placement.UNCHANGED
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    fallbacks = packet_fallbacks(path, packet)
    assert fallbacks[0].name == f"{path.stem}-{packet.digest.value[:12]}.json"
    assert fallbacks[-1].name == f"{path.stem}-{packet.digest.value}.json"
