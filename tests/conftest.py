"""Shared fixtures: a real Prometheus backfilled with generated history, and the contract fixtures.

Integration tests need the ``prometheus`` and ``promtool`` binaries. Under ``CI=true`` a missing
binary or fixture fails the test; elsewhere it skips with the install hint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.testing.openmetrics import Family
from collector.testing.promserver import LocalPrometheus, PrometheusUnavailable, find_binary, running_prometheus
from tests.helpers import Ran, clear_env, invoke

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail under CI=true, skip elsewhere."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def contract_fixtures() -> Path:
    """``../shared/fixtures`` (or ``$GATEPACK_CONTRACT_FIXTURES``): real files from public projects."""
    path = Path(os.environ.get("GATEPACK_CONTRACT_FIXTURES", ROOT.parent / "shared" / "fixtures"))
    if not path.is_dir():
        unavailable(f"contract fixtures not found at {path} (set GATEPACK_CONTRACT_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def prometheus_binaries() -> None:
    try:
        find_binary("prometheus")
        find_binary("promtool")
    except PrometheusUnavailable as exc:
        unavailable(str(exc))


class PrometheusPool:
    """Starts one real Prometheus per named data set and keeps it for the session."""

    def __init__(self) -> None:
        self._servers: dict[str, LocalPrometheus] = {}
        self._contexts: list[object] = []

    def get(self, name: str, build: Callable[[], list[Family]]) -> LocalPrometheus:
        if name not in self._servers:
            context = running_prometheus(build())
            self._servers[name] = context.__enter__()
            self._contexts.append(context)
        return self._servers[name]

    def close(self) -> None:
        for context in reversed(self._contexts):
            context.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def prometheus_pool(prometheus_binaries: None) -> Iterator[PrometheusPool]:
    """``prometheus_pool.get("name", build_families)`` → a running, backfilled Prometheus."""
    pool = PrometheusPool()
    try:
        yield pool
    finally:
        pool.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the current output")


GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden("name.ext", text)``: compare with tests/golden/name.ext (``--update-golden`` rewrites it)."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"no golden file {path}: run pytest --update-golden and review the diff")
        assert text == path.read_text(encoding="utf-8"), f"{name} drifted: review, then pytest --update-golden"

    return check


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --update-golden``: tests write their golden files instead of comparing."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture()
def gatepack(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Call the real ``gatepack`` entry point in-process; stdout/stderr are pipes (not terminals)."""
    clear_env(monkeypatch)

    def call(*args: object, env: dict[str, str] | None = None) -> Ran:
        return invoke(monkeypatch, capsys, *args, env=env)

    return call
