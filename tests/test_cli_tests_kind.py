"""The ``tests`` check kind over JUnit XML: a real pytest report, the shapes other tools write, a property test.

The pytest report is produced here by running pytest itself on a generated test file whose outcomes
are known by construction (3 pass, 2 fail, 1 error, 1 skip, 1 xfail), so the expected counts come
from the file's design, not from gatepack. The other tools (gotestsum, Maven Surefire, jest-junit)
cannot be installed here; their documents below are written by hand in the structure each tool
emits (including Surefire's ``<flakyFailure>`` on a test that passed on rerun).
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

from collector.sources.tests_junit import counts, is_junit, read_junit
from slo.evidence import EvidencePacket

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


GOTESTSUM = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" failures="1" errors="0" time="0.512">
  <testsuite tests="3" failures="1" time="0.300" name="example.com/shop/cart" timestamp="2026-01-01T00:00:00Z">
    <properties><property name="go.version" value="go1.22.0 linux/amd64"></property></properties>
    <testcase classname="example.com/shop/cart" name="TestAdd" time="0.010"></testcase>
    <testcase classname="example.com/shop/cart" name="TestRemove" time="0.020">
      <failure message="Failed" type="">=== RUN   TestRemove
    cart_test.go:31: got 2, want 1
--- FAIL: TestRemove (0.02s)</failure>
    </testcase>
    <testcase classname="example.com/shop/cart" name="TestSlow" time="0.000">
      <skipped message="=== RUN   TestSlow&#xA;    cart_test.go:40: short mode&#xA;--- SKIP: TestSlow (0.00s)&#xA;"></skipped>
    </testcase>
  </testsuite>
  <testsuite tests="1" failures="0" time="0.212" name="example.com/shop/pay" timestamp="2026-01-01T00:00:00Z">
    <testcase classname="example.com/shop/pay" name="TestCharge" time="0.200"></testcase>
  </testsuite>
</testsuites>
"""

SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report.xsd"
    version="3.0.2" name="com.example.OrderTest" time="0.09" tests="4" errors="1" skipped="0" failures="0">
  <properties><property name="java.version" value="21"/></properties>
  <testcase name="creates" classname="com.example.OrderTest" time="0.01"/>
  <testcase name="retriesThenPasses" classname="com.example.OrderTest" time="0.03">
    <flakyFailure message="timeout" type="java.util.concurrent.TimeoutException"><stackTrace>at x</stackTrace></flakyFailure>
    <system-out>first attempt timed out</system-out>
  </testcase>
  <testcase name="cancels" classname="com.example.OrderTest" time="0.02">
    <error message="NPE" type="java.lang.NullPointerException">java.lang.NullPointerException
	at com.example.Order.cancel(Order.java:12)</error>
  </testcase>
  <testcase name="ships" classname="com.example.OrderTest" time="0.03"/>
</testsuite>
"""

JEST_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.2">
  <testsuite name="cart.test.js" errors="0" failures="1" skipped="1" timestamp="2026-01-01T00:00:00" time="0.8" tests="3">
    <testcase classname="cart adds an item" name="cart adds an item" time="0.002"></testcase>
    <testcase classname="cart removes an item" name="cart removes an item" time="0.003">
      <failure>Error: expect(received).toBe(expected)</failure>
    </testcase>
    <testcase classname="cart todo" name="cart todo" time="0">
      <skipped/>
    </testcase>
  </testsuite>
</testsuites>
"""


@pytest.mark.parametrize(
    ("document", "expected", "failing"),
    [
        (
            GOTESTSUM,
            {"count": 4, "passed": 2, "failed": 1, "errors": 0, "skipped": 1},
            ["example.com/shop/cart::TestRemove"],
        ),
        (
            SUREFIRE,
            {"count": 4, "passed": 3, "failed": 0, "errors": 1, "skipped": 0},
            ["com.example.OrderTest::cancels"],
        ),
        (JEST_JUNIT, {"count": 3, "passed": 1, "failed": 1, "errors": 0, "skipped": 1}, ["cart removes an item"]),
    ],
    ids=["gotestsum", "surefire-flaky-rerun", "jest-junit"],
)
def test_other_tools_report_shapes(tmp_path, document, expected, failing):
    path = tmp_path / "report.xml"
    path.write_text(document)
    cases = read_junit(path)
    found = counts(cases)
    assert {k: found[k] for k in expected} == expected
    executed = expected["passed"] + expected["failed"] + expected["errors"]
    assert found["failure_ratio"] == (expected["failed"] + expected["errors"]) / executed
    assert [c.display for c in cases if c.outcome in ("failed", "error")] == failing


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
