"""The ``tests`` source: JUnit XML reports from the CI run (pytest, gotestsum, Maven Surefire, jest-junit).

Every tool writes the same skeleton — ``<testsuites>`` (optional, may nest) → ``<testsuite>`` →
``<testcase>`` with an optional ``<failure>``, ``<error>`` or ``<skipped>`` child — but the suite
attributes (``tests=``, ``failures=``) are missing or stale in some writers (Surefire counts every
rerun attempt in them), so the counts here come from the test cases themselves. Traps, each seen in
a report the real tool wrote (tests/test_junit_real_tools.py):

- Surefire's ``<flakyFailure>``/``<rerunFailure>`` on a test that passed on a rerun is a pass (the
  rerun decided it), not a failure.
- gotestsum (1.8, and still upstream: gotestyourself/gotestsum#475) writes no test case for a Go
  package that failed to build — only ``errors="N"`` on the root ``<testsuites>``. Errors the root
  declares beyond what its suites declare become error cases named after the report file, or a
  broken build would pass the gate.
- jest-junit (16) writes the failure of an ``afterAll``/``beforeAll`` hook as a test case named
  "Test execution failure: …" with no ``<failure>`` child: it is counted as failed. With
  ``reportTestSuiteErrors`` a test file that failed to load is written twice (an ``<error>`` case
  and a ``<failure>{}</failure>`` case of the same name): counted once, as an error. Without that
  option such a file is absent from the report, and nothing here can see it. ``test.todo`` is written
  like a passing test and counts as one.
- jest-junit and gotestsum put the suite name in ``classname``; jest-junit pads names with a space
  when there is no ``describe``; pytest writes a ``<skipped>`` for xfail.

The XML is parsed with expat through ElementTree, which refuses external entities; files over
:data:`MAX_BYTES` are refused.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from collector.errors import UsageError
from collector.sinks.files import sha256_file
from collector.sources.base import LocalSource, RunContext
from slo.evaluate import result
from slo.evidence import InputFile
from slo.formatting import number
from slo.results import CheckResult, Verdict
from slo.spec import CiTestsCheck, TestMetric

MAX_BYTES = 256 * 1024 * 1024
SHOWN_FAILURES = 5
"""How many failing test names a reason lists before ``(+N more)``."""


@dataclass(frozen=True)
class Case:
    suite: str
    classname: str
    name: str
    outcome: str
    """passed, failed, error or skipped"""
    message: str = ""

    @property
    def display(self) -> str:
        """``classname::name``; the suite stands in when jest-junit repeats the name as classname."""
        prefix = self.classname if self.classname and self.classname != self.name else self.suite
        if not prefix or prefix == self.name or self.name.startswith(f"{prefix} "):
            return self.name
        return f"{prefix}::{self.name}"


@dataclass
class TestRun:
    cases: list[Case] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    __test__ = False  # not a pytest test class

    def select(self, pattern: str | None) -> list[Case]:
        if pattern is None:
            return self.cases
        return [
            c for c in self.cases if fnmatch.fnmatchcase(c.suite, pattern) or fnmatch.fnmatchcase(c.classname, pattern)
        ]


class JunitFormatError(UsageError):
    pass


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


JEST_HOOK_FAILURE = "Test execution failure:"
"""The title jest-junit gives the test case it writes for a failed ``beforeAll``/``afterAll`` hook."""


def _outcome(case: ET.Element, name: str) -> tuple[str, str]:
    children = {_local(child.tag): child for child in case}
    for tag, outcome in (("error", "error"), ("failure", "failed"), ("skipped", "skipped")):
        if tag in children:
            child = children[tag]
            lines = (child.text or "").strip().splitlines()
            return outcome, child.get("message") or (lines[0] if lines else "")
    if name.startswith(JEST_HOOK_FAILURE):
        return "failed", name
    return "passed", ""


def _declared(element: ET.Element, attribute: str) -> int:
    try:
        return max(0, int(element.get(attribute, "0")))
    except ValueError:
        return 0


def _walk(element: ET.Element, suite: str, out: list[Case]) -> None:
    tag = _local(element.tag)
    if tag == "testsuite":
        suite = element.get("name", suite).strip()
    if tag == "testcase":
        classname, name = element.get("classname", "").strip(), element.get("name", "").strip()
        outcome, message = _outcome(element, name)
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.outcome == "error"
            and outcome == "failed"
            and (previous.suite, previous.classname, previous.name) == (suite, classname, name)
        ):
            return  # jest-junit's second record of a test file that failed to load
        out.append(Case(suite, classname, name, outcome, message.strip()))
        return
    for child in element:
        _walk(child, suite, out)


def _undeclared_errors(root: ET.Element, path: Path, cases: list[Case]) -> list[Case]:
    """Error cases for the errors a root ``<testsuites>`` counts that no suite or test case accounts for."""
    if _local(root.tag) != "testsuites":
        return []
    suites = [child for child in root if _local(child.tag) in {"testsuite", "testsuites"}]
    accounted = max(sum(_declared(s, "errors") for s in suites), sum(c.outcome == "error" for c in cases))
    missing = _declared(root, "errors") - accounted
    message = f"{path.name} counts an error outside any test case (e.g. a Go package that failed to build)"
    return [Case("", "", f"{path.name}: error outside any test case", "error", message)] * max(0, missing)


def read_junit(path: Path) -> list[Case]:
    """Every test case in one JUnit XML file; a file that is not JUnit is a usage error naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise JunitFormatError(f"{path}: JUnit report is larger than {MAX_BYTES} bytes")
        root = ET.parse(path).getroot()  # noqa: S314 - a local CI report; expat >= 2.4 caps entity expansion
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise JunitFormatError(f"{path}:{line}: not valid XML: {exc}") from None
    except OSError as exc:
        raise JunitFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if _local(root.tag) not in {"testsuites", "testsuite"}:
        raise JunitFormatError(f"{path}: not a JUnit report (root element <{_local(root.tag)}>, expected <testsuites>)")
    cases: list[Case] = []
    _walk(root, "", cases)
    return cases + _undeclared_errors(root, path, cases)


def is_junit(path: Path) -> bool:
    """Whether ``path`` starts like a JUnit report (so ``ingest`` can take it among load-test files)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return False
    return "<testsuites" in text or "<testsuite" in text


def load_reports(paths: list[Path]) -> TestRun:
    run = TestRun()
    for path in paths:
        run.cases.extend(read_junit(path))
        run.files.append(path)
    return run


def counts(cases: Sequence[Case]) -> dict[str, float | None]:
    """The metrics a ``tests`` check can bound; ``failure_ratio`` is None when no test was executed."""
    by = {o: sum(c.outcome == o for c in cases) for o in ("passed", "failed", "error", "skipped")}
    executed = by["passed"] + by["failed"] + by["error"]
    return {
        "count": float(len(cases)),
        "passed": float(by["passed"]),
        "failed": float(by["failed"]),
        "errors": float(by["error"]),
        "skipped": float(by["skipped"]),
        "failure_ratio": (by["failed"] + by["error"]) / executed if executed else None,
    }


def _failing(cases: Sequence[Case]) -> str:
    bad = Counter(c.display for c in cases if c.outcome in ("failed", "error"))
    if not bad:
        return ""
    shown = list(bad.items())[:SHOWN_FAILURES]
    names = ", ".join(name if times == 1 else f"{name} (x{times})" for name, times in shown)
    more = f" (+{len(bad) - SHOWN_FAILURES} more)" if len(bad) > SHOWN_FAILURES else ""
    return f"; failing: {names}{more}"


def evaluate_tests(check: CiTestsCheck, run: TestRun, evaluated_at: str) -> CheckResult:
    cases = run.select(check.suite)
    numbers = counts(cases)
    value = numbers[check.metric.value]
    objective = f"{check.op.value} {number(check.target)}"
    summary = (
        f"{int(numbers['count'] or 0)} tests: {int(numbers['passed'] or 0)} passed, {int(numbers['failed'] or 0)} "
        f"failed, {int(numbers['errors'] or 0)} errors, {int(numbers['skipped'] or 0)} skipped"
    )
    details = {
        "counts": {k: v for k, v in numbers.items()},
        "failing": [c.display for c in cases if c.outcome in ("failed", "error")][:100],
        "reports": [str(p) for p in run.files],
    }
    common = {"objective": objective, "details": details}
    if not cases or value is None:
        where = f" matching suite {check.suite!r}" if check.suite else ""
        reason = f"no test cases{where} in {', '.join(map(str, run.files))}" if not cases else f"{summary}: none ran"
        return result(check, Verdict.NO_DATA, reason, evaluated_at, **common)
    shown = number(value)
    text = f"{check.metric.value} {shown}"
    failing = _failing(cases) if check.metric is not TestMetric.SKIPPED else ""
    if not check.op.holds(value, check.target):
        reason = f"{text} {check.op.negated} {number(check.target)} ({summary}){failing}"
        return result(check, Verdict.FAIL, reason, evaluated_at, value=value, **common)
    if check.warn is not None and not check.op.holds(value, check.warn):
        reason = f"{text} passes {objective} but crosses the warning bound {check.op.value} {number(check.warn)}"
        return result(check, Verdict.WARN, f"{reason} ({summary}){failing}", evaluated_at, value=value, **common)
    return result(
        check,
        Verdict.PASS,
        f"{text} {check.op.value} {number(check.target)} ({summary})",
        evaluated_at,
        value=value,
        **common,
    )


class TestsSource(LocalSource[CiTestsCheck]):
    """``tests`` checks decided from JUnit XML reports read once for the run."""

    __test__ = False  # not a pytest test class
    name = "tests"
    kinds = frozenset({"tests"})
    check_type = CiTestsCheck
    noun = "a tests"

    def __init__(self, run: TestRun) -> None:
        self.run = run
        self._inputs = []
        for path in run.files:
            digest, size = sha256_file(path)
            self._inputs.append(InputFile(path=str(path), sha256=digest, size=size, role="tests", format="junit"))

    def decide(self, check: CiTestsCheck, context: RunContext) -> CheckResult:
        return evaluate_tests(check, self.run, context.evaluated_at)
