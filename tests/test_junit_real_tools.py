"""Contract tests on JUnit XML written by the real tools: Jest + jest-junit, gotestsum, Maven Surefire.

Each test writes sample tests whose outcomes are known by construction, runs the real tool on them
(installed from npm or Debian, see tests/junit_tools.py), and checks gatepack's reading of the report
against that design: counts, failure ratio, failing test names, and the issue's gate shape decided by
``gatepack ingest``. The expected numbers come from the samples below, never from gatepack. Each
sample carries the trap its tool was seen to write (a Go package that does not build, a Jest hook
that fails, a Surefire test that passes on rerun); the module docstring of
collector/sources/tests_junit.py lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.sources.tests_junit import counts, is_junit, read_junit
from slo.evidence import EvidencePacket
from tests.conftest import Ran, unavailable
from tests.junit_tools import ToolUnavailable, run_gotestsum, run_jest, run_maven_tests
from tests.test_cli_tests_kind import ISSUE_GATE


def design(passed: int, failed: int, errors: int, skipped: int) -> dict[str, float | None]:
    """The metrics a report of that many outcomes must give: the ratio counts failures and errors over executed."""
    executed = passed + failed + errors
    return {
        "count": float(passed + failed + errors + skipped),
        "passed": float(passed),
        "failed": float(failed),
        "errors": float(errors),
        "skipped": float(skipped),
        "failure_ratio": (failed + errors) / executed if executed else None,
    }


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def decide(gatepack: Callable[..., Ran], reports: list[Path], where: Path) -> tuple[Ran, dict[str, object]]:
    """The issue's two checks decided by ``gatepack ingest`` on ``reports``: (the run, checks by id)."""
    spec = where / "ci.yaml"
    spec.write_text(ISSUE_GATE)
    ran = gatepack("ingest", *reports, "--spec", spec, "--output", "json", "-o", where / "ev")
    packet = EvidencePacket.model_validate_json(ran.out.splitlines()[0])
    assert {i.path for i in packet.inputs if i.format == "junit"} == {str(r) for r in reports}
    return ran, {c.id: c for c in packet.checks}


def assert_gate(gatepack: Callable[..., Ran], reports: list[Path], where: Path, expected: dict, failing: set[str]):
    ran, checks = decide(gatepack, reports, where)
    ratio, volume = checks["ci-tests"], checks["ci-volume"]
    assert ratio.value == pytest.approx(expected["failure_ratio"])
    assert volume.value == expected["count"]
    assert ratio.verdict.value == ("fail" if expected["failure_ratio"] else "pass"), ratio.reason
    assert volume.verdict.value == ("pass" if expected["count"] >= 3 else "fail"), volume.reason
    for name in failing:
        assert name in ratio.reason, (name, ratio.reason)
    assert ran.code == (1 if "fail" in {ratio.verdict.value, volume.verdict.value} else 0), ran


def failing_names(report: Path) -> set[str]:
    return {c.display for c in read_junit(report) if c.outcome in ("failed", "error")}


def real(run: Callable[[], object]) -> object:
    try:
        return run()
    except ToolUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() skips or fails


# --- gotestsum ---------------------------------------------------------------------------------------------

GO_MODULE = {
    "go.mod": "module example.com/shop\n\ngo 1.19\n",
    # TestPanic stays last: a panic ends the package's test binary, so no test after it would run
    "cart/cart_test.go": """package cart

import "testing"

func TestAdd(t *testing.T)    {}
func TestRemove(t *testing.T) { t.Errorf("got 2, want 1") }
func TestSlow(t *testing.T)   { t.Skip("short mode") }
func TestSub(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Fatal("nope") })
}
func TestPanic(t *testing.T) { panic("boom") }
""",
    "pay/pay_test.go": 'package pay\n\nimport "testing"\n\nfunc TestCharge(t *testing.T) {}\n',
    "broken/broken_test.go": 'package broken\n\nimport "testing"\n\nfunc TestNever(t *testing.T) { undefined() }\n',
}
# Go reports a parent test as failed when a subtest fails: TestSub and TestSub/bad both fail.
GO_PASSED = {"TestAdd", "TestSub/ok", "TestCharge"}
GO_FAILED = {"TestRemove", "TestSub", "TestSub/bad", "TestPanic"}
GO_SKIPPED = {"TestSlow"}


@pytest.fixture(scope="module")
def go_module(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("gomod"), GO_MODULE)


def test_gotestsum_report_of_every_outcome(go_module, gatepack, tmp_path):
    report = tmp_path / "go.xml"
    done = real(lambda: run_gotestsum(go_module, report, "./..."))
    assert done.returncode != 0 and report.exists(), done.stderr[-2000:]
    assert is_junit(report)
    cases = read_junit(report)
    by_outcome = {o: {c.name for c in cases if c.outcome == o} for o in ("passed", "failed", "skipped")}
    assert by_outcome == {"passed": GO_PASSED, "failed": GO_FAILED, "skipped": GO_SKIPPED}
    # the package that does not compile has no test case; the report only counts it on <testsuites errors=>
    expected = design(passed=len(GO_PASSED), failed=len(GO_FAILED), errors=1, skipped=len(GO_SKIPPED))
    assert counts(cases) == expected
    failing = {f"example.com/shop/cart::{name}" for name in GO_FAILED} | {"go.xml: error outside any test case"}
    assert failing_names(report) == failing
    assert_gate(gatepack, [report], tmp_path, expected, failing)


def test_gotestsum_a_build_failure_alone_fails_the_gate(go_module, gatepack, tmp_path):
    """Every test that ran passed; only the broken package tells the run failed."""
    report = tmp_path / "build.xml"
    done = real(lambda: run_gotestsum(go_module, report, "./pay/...", "./broken/..."))
    assert done.returncode != 0 and report.exists(), done.stderr[-2000:]
    expected = design(passed=1, failed=0, errors=1, skipped=0)
    assert counts(read_junit(report)) == expected
    assert_gate(gatepack, [report], tmp_path, expected, {"build.xml: error outside any test case"})


def test_gotestsum_a_clean_run_passes(go_module, gatepack, tmp_path):
    report = tmp_path / "clean.xml"
    done = real(lambda: run_gotestsum(go_module, report, "./pay/..."))
    assert done.returncode == 0, done.stdout[-2000:]
    assert counts(read_junit(report)) == design(passed=1, failed=0, errors=0, skipped=0)
    ran, checks = decide(gatepack, [report], tmp_path)
    assert checks["ci-tests"].verdict.value == "pass" and checks["ci-volume"].verdict.value == "fail", ran


# --- Jest + jest-junit -------------------------------------------------------------------------------------

JEST_PROJECT = {
    "cart.test.js": """describe("cart", () => {
  test("adds an item", () => { expect(1 + 1).toBe(2); });
  test("removes an item", () => { expect(2).toBe(1); });
  test.skip("waits for stock", () => {});
  test.todo("applies a coupon");
  test("throws", () => { throw new Error("boom"); });
});
""",
    "pay.test.js": 'test("charges", () => {});\ntest("refunds", () => {});\n',
    "hooks.test.js": """describe("hooks", () => {
  afterAll(() => { throw new Error("teardown broke"); });
  test("fine", () => {});
});
""",
    "broken.test.js": 'throw new Error("suite exploded");\ntest("never", () => {});\n',
}
HOOK_FAILURE = "Test execution failure: could be caused by test hooks like 'afterAll'."
JEST_FAILED = {"cart removes an item", "cart throws", HOOK_FAILURE}
# jest-junit writes test.todo like a passing test ("applies a coupon"): the report cannot tell them apart
JEST_PASSED = {"cart adds an item", "cart applies a coupon", "charges", "refunds", "hooks fine"}


@pytest.fixture(scope="module")
def jest_reports(tmp_path_factory) -> dict[str, Path]:
    """One Jest run, two jest-junit reports: default options, and ``reportTestSuiteErrors``."""
    project = write_tree(tmp_path_factory.mktemp("jest"), JEST_PROJECT)
    reports = {"default.xml": {}, "suite-errors.xml": {"reportTestSuiteErrors": "true"}}
    done = real(lambda: run_jest(project, reports))
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Tests:       2 failed, 1 skipped, 1 todo, 4 passed, 8 total" in done.stderr, done.stderr[-3000:]
    assert "Test Suites: 3 failed, 1 passed, 4 total" in done.stderr, done.stderr[-3000:]
    return {name: project / name for name in reports}


def test_jest_junit_report_with_suite_errors(jest_reports, gatepack, tmp_path):
    report = jest_reports["suite-errors.xml"]
    assert is_junit(report)
    cases = read_junit(report)
    assert {c.name for c in cases if c.outcome == "passed"} == JEST_PASSED
    assert {c.name for c in cases if c.outcome == "failed"} == JEST_FAILED
    assert [c.name for c in cases if c.outcome == "error"] == ["broken.test.js"]  # written twice, counted once
    assert [c.name for c in cases if c.outcome == "skipped"] == ["cart waits for stock"]
    expected = design(passed=len(JEST_PASSED), failed=len(JEST_FAILED), errors=1, skipped=1)
    assert counts(cases) == expected
    failing = {
        "cart removes an item",
        "cart throws",
        f"hooks::{HOOK_FAILURE}",
        "Test suite failed to run::broken.test.js",
    }
    assert failing_names(report) == failing
    assert_gate(gatepack, [report], tmp_path, expected, failing)


def test_jest_junit_default_report_omits_a_suite_that_failed_to_load(jest_reports, gatepack, tmp_path):
    """Without ``reportTestSuiteErrors`` the broken file leaves no trace; the failing hook still counts."""
    report = jest_reports["default.xml"]
    cases = read_junit(report)
    assert not [c for c in cases if "broken" in c.display]
    expected = design(passed=len(JEST_PASSED), failed=len(JEST_FAILED), errors=0, skipped=1)
    assert counts(cases) == expected
    assert_gate(gatepack, [report], tmp_path, expected, {"cart removes an item", "cart throws", "hooks::"})


# --- Maven Surefire ----------------------------------------------------------------------------------------

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>shop</artifactId>
  <version>1</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>
  <dependencies>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version><scope>test</scope></dependency>
  </dependencies>
  <build><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version>
      <configuration><testFailureIgnore>true</testFailureIgnore><rerunFailingTestsCount>2</rerunFailingTestsCount></configuration>
    </plugin>
  </plugins></build>
</project>
"""
MAVEN_PROJECT = {
    "pom.xml": POM,
    "src/test/java/com/example/OrderTest.java": """package com.example;

import static org.junit.Assert.assertEquals;
import org.junit.Ignore;
import org.junit.Test;

public class OrderTest {
    @Test public void creates() { assertEquals(2, 1 + 1); }
    @Test public void ships() { }
    @Test public void totals() { assertEquals("total", 10, 9); }
    @Test public void cancels() { Object o = null; o.toString(); }
    @Ignore("not today") @Test public void refunds() { }
}
""",
    # Surefire reruns failing tests in the same JVM: the static counter makes the first attempt fail only
    "src/test/java/com/example/RetryTest.java": """package com.example;

import static org.junit.Assert.assertTrue;
import org.junit.Test;

public class RetryTest {
    private static int calls = 0;
    @Test public void passesOnRerun() { calls++; assertTrue("first attempt fails", calls > 1); }
    @Test public void alwaysFails() { assertTrue("never", false); }
}
""",
}


@pytest.fixture(scope="module")
def surefire_reports(tmp_path_factory) -> list[Path]:
    project = write_tree(tmp_path_factory.mktemp("maven"), MAVEN_PROJECT)
    done = real(lambda: run_maven_tests(project))
    where = project / "target" / "surefire-reports"
    assert done.returncode == 0 and where.is_dir(), done.stdout[-3000:]
    assert "Tests run: 7, Failures: 2, Errors: 1, Skipped: 1, Flakes: 1" in done.stdout, done.stdout[-3000:]
    return sorted(where.glob("TEST-*.xml"))


def test_surefire_reports_with_a_rerun_and_a_flake(surefire_reports, gatepack, tmp_path):
    assert [p.name for p in surefire_reports] == ["TEST-com.example.OrderTest.xml", "TEST-com.example.RetryTest.xml"]
    cases = [c for report in surefire_reports for c in read_junit(report)]
    outcome = {c.name: c.outcome for c in cases}
    assert outcome == {
        "creates": "passed",
        "ships": "passed",
        "totals": "failed",
        "cancels": "error",
        "refunds": "skipped",
        "passesOnRerun": "passed",  # <flakyFailure>: failed once, passed on the rerun
        "alwaysFails": "failed",  # failed on every rerun: one test, not three
    }
    expected = design(passed=3, failed=2, errors=1, skipped=1)
    assert counts(cases) == expected
    failing = {"com.example.OrderTest::totals", "com.example.OrderTest::cancels", "com.example.RetryTest::alwaysFails"}
    assert set().union(*map(failing_names, surefire_reports)) == failing
    assert_gate(gatepack, surefire_reports, tmp_path, expected, failing)
