"""The ``tests`` check kind over JUnit XML: a real pytest report, bad reports, a property test.

The pytest report is produced here by running pytest itself on a generated test file whose outcomes
are known by construction (3 pass, 2 fail, 1 error, 1 skip, 1 xfail), so the expected counts come
from the file's design, not from gatepack. Reports written by the other real tools (gotestsum, Maven
Surefire, Jest's jest-junit) are tested in tests/test_junit_real_tools.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sources.tests_junit import SHOWN_FAILURES, TestRun, counts, evaluate_tests, is_junit, read_junit
from slo.evidence import EvidencePacket
from slo.spec import CiTestsCheck

ISSUE_GATE = """\
apiVersion: gatepack/v1
kind: Gate
id: ci
title: CI results
checks:
  - {id: ci-tests, kind: tests, metric: failure_ratio, op: "<=", target: 0}
  - {id: ci-volume, kind: tests, metric: count, op: ">=", target: 3}
"""

SAMPLE_TESTS = """\
import pytest

@pytest.fixture()
def broken():
    raise RuntimeError("fixture exploded")

def test_ok_1(): assert True
def test_ok_2(): assert 1 + 1 == 2
def test_ok_3(): assert "a" in "abc"
def test_bad_a(): assert 1 == 2, "one is not two"
def test_bad_b(): raise ValueError("boom")
def test_error(broken): pass

@pytest.mark.skip(reason="not today")
def test_skipped(): pass

@pytest.mark.xfail(reason="known bug")
def test_xfail(): assert False
"""
DESIGN = {"count": 8, "passed": 3, "failed": 2, "errors": 1, "skipped": 2, "failure_ratio": 3 / 6}


@pytest.fixture(scope="module")
def pytest_report(tmp_path_factory) -> Path:
    """A JUnit XML report written by the real pytest on :data:`SAMPLE_TESTS`."""
    where = tmp_path_factory.mktemp("sample")
    (where / "test_sample.py").write_text(SAMPLE_TESTS)
    report = where / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", f"--junitxml={report}",
         "test_sample.py"],
        cwd=where, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:]
    return report


def test_pytest_report_counts_match_the_sample_design(pytest_report):
    cases = read_junit(pytest_report)
    assert counts(cases) == DESIGN
    failing = {c.name for c in cases if c.outcome in ("failed", "error")}
    assert failing == {"test_bad_a", "test_bad_b", "test_error"}
    assert is_junit(pytest_report)


def test_the_issue_yaml_works_as_written_in_ingest_and_collect(gatepack, pytest_report, tmp_path):
    spec = tmp_path / "ci.yaml"
    spec.write_text(ISSUE_GATE)
    for args in (
        ("ingest", pytest_report, "--spec", spec),
        ("ingest", "--tests", pytest_report, pytest_report, "--spec", spec),
        ("collect", spec, "--tests", pytest_report, "--attestations", tmp_path / "none.json"),
    ):
        ran = gatepack(*args, "--output", "json", "-o", tmp_path / "ev")
        assert ran.code == 1, ran
        packet = EvidencePacket.model_validate_json(ran.out.splitlines()[0])
        by_id = {c.id: c for c in packet.checks}
        ratio, volume = by_id["ci-tests"], by_id["ci-volume"]
        assert ratio.verdict.value == "fail" and ratio.value == pytest.approx(DESIGN["failure_ratio"])
        for name in ("test_bad_a", "test_bad_b", "test_error"):
            assert name in ratio.reason
        assert volume.verdict.value == "pass" and volume.value >= DESIGN["count"]
        assert [i.role for i in packet.inputs if i.format == "junit"]


def test_a_clean_run_passes(gatepack, tmp_path):
    where = tmp_path / "clean"
    where.mkdir()
    (where / "test_clean.py").write_text("def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n")
    report = where / "r.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                    f"--junitxml={report}", "test_clean.py"], cwd=where, capture_output=True, timeout=120, check=True)  # fmt: skip
    spec = tmp_path / "ci.yaml"
    spec.write_text(ISSUE_GATE)
    ran = gatepack("ingest", report, "--spec", spec, "-o", tmp_path / "ev")
    assert ran.code == 0, ran


def test_bad_reports_are_usage_errors_naming_the_file(gatepack, tmp_path):
    spec = tmp_path / "ci.yaml"
    spec.write_text(ISSUE_GATE)
    broken = tmp_path / "broken.xml"
    broken.write_text("<testsuites><testsuite>\n<testcase name='x'>")
    ran = gatepack("collect", spec, "--tests", broken, "-o", tmp_path / "ev")
    assert ran.code == 2 and f"{broken}:" in ran.err and "not valid XML" in ran.err, ran
    other = tmp_path / "other.xml"
    other.write_text("<html/>")
    ran = gatepack("collect", spec, "--tests", other, "-o", tmp_path / "ev")
    assert ran.code == 2 and "not a JUnit report" in ran.err, ran
    empty = tmp_path / "empty.xml"
    empty.write_text("<testsuites/>")
    ran = gatepack("collect", spec, "--tests", empty, "-o", tmp_path / "ev", "--output", "json")
    packet = json.loads(ran.out)
    assert ran.code == 1 and {c["verdict"] for c in packet["checks"]} == {"no_data"}


outcomes = st.sampled_from(["passed", "failure", "error", "skipped"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(outcomes, max_size=8), min_size=1, max_size=4), st.booleans())
def test_counts_follow_the_test_cases_whatever_the_nesting(tmp_path_factory, suites, wrap):
    root = ET.Element("testsuites") if wrap else None
    holder = root
    for index, outcomes_in_suite in enumerate(suites):
        suite = ET.Element("testsuite", name=f"s{index}", tests="999")  # stale attribute: must be ignored
        for number, outcome in enumerate(outcomes_in_suite):
            case = ET.SubElement(suite, "testcase", classname=f"s{index}", name=f"t{number}")
            if outcome != "passed":
                ET.SubElement(case, outcome, message="m")
        if holder is None:
            holder = suite
            root = suite
        else:
            holder.append(suite)
    path = tmp_path_factory.mktemp("prop") / "r.xml"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    flat = [o for s in suites for o in s]  # unwrapped: later suites nest inside the first
    found = counts(read_junit(path))
    assert found["count"] == len(flat)
    assert found["failed"] == flat.count("failure") and found["errors"] == flat.count("error")
    assert found["skipped"] == flat.count("skipped") and found["passed"] == flat.count("passed")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=0, max_size=4),
    st.integers(0, 12),
    st.sampled_from(["", "x", "-1"]),
)
def test_errors_the_root_counts_outside_any_suite_become_error_cases(tmp_path_factory, suites, root_errors, junk):
    """gotestsum's build failures live only in ``<testsuites errors=N>``: N beyond the suites' own count are errors.

    Each suite is (error cases it holds, errors it declares); a declared count above its cases (Surefire
    counts rerun attempts) is not invented into cases, and an unreadable attribute counts as zero.
    """
    root = ET.Element("testsuites", errors=str(root_errors))
    for index, (actual, declared) in enumerate(suites):
        suite = ET.SubElement(root, "testsuite", name=f"s{index}", errors=junk or str(declared))
        ET.SubElement(suite, "testcase", classname=f"s{index}", name="ok")
        for number in range(actual):
            ET.SubElement(ET.SubElement(suite, "testcase", classname=f"s{index}", name=f"e{number}"), "error")
    path = tmp_path_factory.mktemp("root") / "r.xml"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    actual_errors = sum(actual for actual, _ in suites)
    declared = 0 if junk else sum(declared for _, declared in suites)
    extra = max(0, root_errors - max(declared, actual_errors))
    cases = read_junit(path)
    found = counts(cases)
    assert found["errors"] == actual_errors + extra and found["passed"] == len(suites)
    assert sum(c.name == "r.xml: error outside any test case" for c in cases) == extra


def test_the_reason_names_each_failing_test_once_with_repeats_counted(tmp_path):
    """Three errors the root counts outside any case read as one name (x3); past the first few, ``+N more``."""
    cases = "".join(f'<testcase classname="pkg" name="T{i}"><failure/></testcase>' for i in range(SHOWN_FAILURES))
    path = tmp_path / "go.xml"
    path.write_text(f'<testsuites errors="3"><testsuite name="pkg">{cases}<testcase classname="pkg" name="ok"/>'
                    "</testsuite></testsuites>")  # fmt: skip
    check = CiTestsCheck.model_validate(
        {"id": "ci-tests", "kind": "tests", "metric": "failure_ratio", "op": "<=", "target": 0}
    )
    result = evaluate_tests(check, TestRun(read_junit(path), [path]), "2026-01-01T00:00:00Z")
    assert result.verdict.value == "fail" and result.value == pytest.approx((SHOWN_FAILURES + 3) / (SHOWN_FAILURES + 4))
    assert "+1 more" in result.reason and "go.xml" not in result.reason.split("failing:")[1]
    path.write_text('<testsuites errors="3"><testsuite name="pkg"><testcase classname="pkg" name="ok"/>'
                    "</testsuite></testsuites>")  # fmt: skip
    result = evaluate_tests(check, TestRun(read_junit(path), [path]), "2026-01-01T00:00:00Z")
    assert result.reason.endswith("; failing: go.xml: error outside any test case (x3)"), result.reason
