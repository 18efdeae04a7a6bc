"""``gatepack verify`` is bounded whatever the file: size checked before reading, depth before recursion."""

from __future__ import annotations

import subprocess
import sys

from tests.reliability_limits import run_limited


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", "verify", *args], capture_output=True, text=True, timeout=120
    )


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:  # sparse: 2 GiB on paper, nothing on disk
        handle.truncate(2 * 1024**3)
    result = run_limited(["verify", str(big)], megabytes=600)
    assert result.returncode == 2, result.stderr
    assert "more than --max-bytes" in result.stderr and "Traceback" not in result.stderr


def test_devices_and_deep_nesting_are_refused_without_a_traceback(tmp_path):
    result = verify("/dev/zero")
    assert result.returncode == 2 and "not a regular file" in result.stderr
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    result = verify(str(deep))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "deeply" in result.stderr


def test_max_bytes_can_be_lowered_and_raised(tmp_path):
    packet = tmp_path / "p.json"
    packet.write_text('{"a": "' + "x" * 10_000 + '"}')
    lowered = verify(str(packet), "--max-bytes", "100")
    assert lowered.returncode == 2 and "more than --max-bytes" in lowered.stderr
    raised = verify(str(packet), "--max-bytes", "1000000")
    assert raised.returncode == 1 and "more than" not in raised.stderr  # read, and found not to be a packet
