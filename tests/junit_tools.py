"""The real test runners whose JUnit XML gatepack reads: Jest + jest-junit, gotestsum + Go, Maven Surefire.

Each helper runs the real tool on sample tests written by the caller and returns the report path.
Installs come only from the registries this project may use: jest and jest-junit from npm (pinned,
installed once into a per-user cache under the temp dir and shared by every pytest worker through a
file lock), Go, gotestsum, Maven, Surefire and JUnit 4 from Debian (``make test`` installs them).
Maven runs with Debian's packaged repository ``/usr/share/maven-repo`` as its only mirror, so it
never reaches Maven Central. A missing tool raises :class:`ToolUnavailable` with the install hint;
the tests turn that into a skip, or a failure under ``CI=true``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JEST = "jest@29.7.0"
JEST_JUNIT = "jest-junit@16.0.0"
DEBIAN_MAVEN_REPO = Path("/usr/share/maven-repo")
SUREFIRE_VERSION = "2.22.3"
MAVEN_PLUGINS = {
    "maven-surefire-plugin": SUREFIRE_VERSION,
    "maven-compiler-plugin": "3.10.1",
    "maven-resources-plugin": "3.3.0",
}
MAVEN_HINT = "apt-get install maven openjdk-17-jdk-headless libsurefire-java libmaven-compiler-plugin-java "
MAVEN_HINT += "libmaven-resources-plugin-java junit4"


class ToolUnavailable(RuntimeError):
    """The tool cannot be installed or run here; the message says what to install."""


def cache_dir(name: str) -> Path:
    """A per-user cache directory that outlives one pytest session (installs are slow, inputs are pinned)."""
    path = Path(tempfile.gettempdir()) / f"gatepack-tool-cache-{os.getuid()}" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path/.lock`` so two pytest workers do not install into one dir at once."""
    with (path / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("CI", None)  # jest and friends change behaviour under CI; the sample runs are not our CI
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)


def jest_home() -> Path:
    """A directory whose node_modules holds the pinned jest and jest-junit, installed from npm on first use."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise ToolUnavailable("node/npm not installed: apt-get install nodejs npm")
    home = cache_dir(f"{JEST}-{JEST_JUNIT}".replace("@", "-"))
    done_mark = home / ".installed"
    with locked(home):
        if not done_mark.exists():
            (home / "package.json").write_text('{"name": "gatepack-jest-cache", "private": true}\n')
            done = _run([npm, "install", "--no-audit", "--no-fund", "--silent", JEST, JEST_JUNIT], home)
            if done.returncode != 0:
                raise ToolUnavailable(f"npm install {JEST} {JEST_JUNIT} failed: {done.stderr[-500:]}")
            done_mark.touch()
    return home


def run_jest(project: Path, reports: dict[str, dict[str, str]]) -> subprocess.CompletedProcess[str]:
    """Run the real Jest in ``project`` with one jest-junit reporter per ``{file name: its options}``."""
    home = jest_home()
    reporter = json.dumps(str(home / "node_modules" / "jest-junit"))
    entries = [
        f"[{reporter}, {json.dumps({'outputDirectory': str(project), 'outputName': name, **options})}]"
        for name, options in reports.items()
    ]
    config = (
        f"module.exports = {{ rootDir: {json.dumps(str(project))}, reporters: ['default', {', '.join(entries)}] }};\n"
    )
    (project / "jest.config.js").write_text(config)
    return _run(["node", str(home / "node_modules" / "jest" / "bin" / "jest.js"), "--ci"], project)


def run_gotestsum(module: Path, junit: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    """``gotestsum --junitfile JUNIT -- PACKAGES`` in the Go module ``module``, offline (no module proxy)."""
    for tool in ("go", "gotestsum"):
        if shutil.which(tool) is None:
            raise ToolUnavailable(f"{tool} not installed: apt-get install golang-go gotestsum")
    cache = cache_dir("go")
    env = {
        "GOCACHE": str(cache / "build"),
        "GOPATH": str(cache / "path"),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GO111MODULE": "on",
    }
    return _run(["gotestsum", f"--junitfile={junit}", "--format=standard-quiet", "--", *packages], module, env)


def maven_settings(where: Path) -> Path:
    """A settings.xml whose only repository is Debian's packaged one; the local repository is cached."""
    for tool in ("mvn", "javac"):
        if shutil.which(tool) is None:
            raise ToolUnavailable(f"{tool} not installed: {MAVEN_HINT}")
    plugins = DEBIAN_MAVEN_REPO / "org" / "apache" / "maven" / "plugins"
    for plugin, version in MAVEN_PLUGINS.items():
        if not (plugins / plugin / version).is_dir():
            raise ToolUnavailable(f"{plugin} {version} not in {DEBIAN_MAVEN_REPO}: {MAVEN_HINT}")
    if not (DEBIAN_MAVEN_REPO / "junit" / "junit" / "4.13.2").is_dir():
        raise ToolUnavailable(f"JUnit 4.13.2 not in {DEBIAN_MAVEN_REPO}: {MAVEN_HINT}")
    settings = where / "settings.xml"
    settings.write_text(
        "<settings>\n"
        f"  <localRepository>{cache_dir('m2')}</localRepository>\n"
        "  <mirrors><mirror><id>debian</id><mirrorOf>*</mirrorOf>"
        f"<url>file://{DEBIAN_MAVEN_REPO}</url></mirror></mirrors>\n"
        "</settings>\n"
    )
    return settings


def run_maven_tests(project: Path, *properties: str) -> subprocess.CompletedProcess[str]:
    """``mvn test`` on ``project`` with Debian's Maven repository; ``properties`` are ``-Dname=value`` pairs."""
    settings = maven_settings(project)
    with locked(cache_dir("m2")):  # Maven's local repository is not safe for two writers at once
        return _run(["mvn", "-B", "-q", "-s", str(settings), *properties, "test"], project, timeout=600)
