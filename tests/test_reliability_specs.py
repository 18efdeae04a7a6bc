"""Spec files that try to exhaust gatepack: alias bombs, devices, huge or deep documents, arbitrary text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.specs import MAX_SPEC_BYTES, load_spec_files
from slo.errors import GatepackError
from slo.loader import MAX_DEPTH, SpecError, load_gates
from tests.reliability_limits import run_limited

HEAD = "apiVersion: gatepack/v1\nkind: Gate\nid: bomb\ntitle: bomb\n"
MEMORY_MB = 512


def alias_bomb(levels: int = 9) -> str:
    lines = [HEAD, 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]\n")
    lines.append("checks: []\n")
    return "".join(lines)


def test_alias_bomb_is_refused_quickly_within_bounded_memory(tmp_path):
    spec = tmp_path / "bomb.yaml"
    spec.write_text(alias_bomb())
    assert spec.stat().st_size < 1000  # the 718-byte class of file
    result = run_limited(["validate", str(spec)], MEMORY_MB, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{spec}:6: YAML alias *l0 is not allowed" in result.stderr
    assert "Traceback" not in result.stderr


def test_merge_keys_are_aliases_too():
    text = HEAD + "base: &base {a: 1}\nchecks:\n  - <<: *base\n    id: x\n"
    with pytest.raises(SpecError, match=r"alias \*base is not allowed"):
        load_gates(text, "merge.yaml")


def test_deep_nesting_is_refused_before_walking_it():
    text = HEAD + "checks:\n" + "".join("  " * i + "- \n" for i in range(1, 2000)) + "  " * 2000 + "- x\n"
    with pytest.raises(SpecError) as caught:
        load_gates(text, "deep.yaml")
    assert f"nested deeper than {MAX_DEPTH} levels" in str(caught.value)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_before_reading(device):
    result = run_limited(["validate", device], MEMORY_MB, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{device}:0: not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_fifo_and_directory_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)  # nobody writes: reading it would block forever
    result = run_limited(["validate", str(fifo), str(tmp_path)], MEMORY_MB, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{fifo}:0: not a regular file" in result.stderr
    assert f"{tmp_path}:0: not a regular file" in result.stderr


def test_oversized_spec_is_refused_from_its_size(tmp_path):
    spec = tmp_path / "huge.yaml"
    with spec.open("wb") as fh:
        fh.truncate(8 * 1024**3)  # sparse: 8 GiB "file" that costs nothing on disk
    result = run_limited(["validate", str(spec)], MEMORY_MB, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"larger than {MAX_SPEC_BYTES} bytes" in result.stderr


def test_anchors_without_aliases_still_load():
    text = HEAD + "checks:\n  - &one\n    id: a\n    kind: threshold\n    query: up\n    op: '>'\n    target: 0\n"
    assert load_gates(text, "anchor.yaml")[0].checks[0].id == "a"


YAML_PIECES = st.sampled_from(
    [
        "apiVersion: gatepack/v1\n",
        "kind: Gate\n",
        "id: g\n",
        "title: t\n",
        "checks:\n",
        "  - id: c\n",
        "    kind: threshold\n",
        "    kind: slo\n",
        "    query: up\n",
        "    op: '>'\n",
        "    target: 1\n",
        "    objective: 99.9\n",
        "    period: 1d\n",
        "    total: x[{{ window }}]\n",
        "    good: y[{{ window }}]\n",
        "---\n",
        "&a [1, 2]\n",
        "*a\n",
        "- *a\n",
        "{",
        "[",
        "]",
        ": :\n",
        "!!binary aGk=\n",
        "!!python/name:os.system\n",
        "\t",
        "'",
        '"\\x',
        "%YAML 1.1\n",
        "vars: {a: 1}\n",
        "<<: {}\n",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(YAML_PIECES, max_size=30).map("".join), st.text(max_size=300)))
def test_arbitrary_text_gives_gates_or_a_spec_error(text):
    try:
        gates = load_gates(text, "fuzz.yaml")
    except GatepackError as exc:
        assert str(exc)
    else:
        assert gates


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_on_disk_give_gates_or_a_spec_error(tmp_path: Path, data: bytes):
    spec = tmp_path / "fuzz.yaml"
    spec.write_bytes(data)
    try:
        load_spec_files([spec])
    except GatepackError as exc:
        assert str(exc)


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "2026-02-28"])
def test_date_like_text_is_text_not_a_traceback(value):
    """PyYAML's date constructor raised a bare ValueError on ``2026-02-30``; a spec has no date fields, so
    date-like scalars stay strings and an impossible date is just a title."""
    text = (
        "apiVersion: gatepack/v1\nkind: Gate\nid: dated\n"
        f"title: {value}\nchecks:\n  - {{id: c, kind: threshold, query: up, op: '>=', target: 1}}\n"
    )
    (gate,) = load_gates(text, "dated.yaml")
    assert gate.title == value
