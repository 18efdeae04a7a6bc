"""A real, local Prometheus for tests, the demo and benchmarks: backfill history, serve, stop.

History is loaded with ``promtool tsdb create-blocks-from openmetrics``. promtool re-reads its whole
input once for every 2-hour block it writes, so a month in one file costs hundreds of passes; the
samples are therefore split into one file per 2-hour block window and the files are converted in
parallel, which makes a 30-day backfill take seconds instead of minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collector.testing.openmetrics import Family, Series, write_openmetrics
from collector.testing.processes import wait_until_ready

BLOCK_SECONDS = 2 * 3600
BLOCKS_PER_FILE = 4


class PrometheusUnavailable(RuntimeError):
    """The prometheus/promtool binaries are missing or the server would not start."""


def find_binary(name: str) -> str:
    """``prometheus``/``promtool`` from ``$PROMETHEUS_BIN``'s directory or PATH."""
    override = os.environ.get("PROMETHEUS_BIN")
    if override:
        candidate = Path(override).parent / name if name != "prometheus" else Path(override)
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise PrometheusUnavailable(
            f"'{name}' not found: install Debian's 'prometheus' package (apt-get install prometheus) "
            "or set PROMETHEUS_BIN"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _split_by_block(families: Iterable[Family], blocks_per_file: int) -> dict[int, list[Family]]:
    """Families cut into windows of ``blocks_per_file`` 2-hour blocks (aligned like Prometheus' blocks)."""
    windows: dict[int, dict[str, Family]] = {}
    span = BLOCK_SECONDS * blocks_per_file
    for family in families:
        for series in family.series:
            block = (series.timestamps // span).astype(np.int64)
            if len(block) == 0:
                continue
            edges = np.flatnonzero(np.diff(block)) + 1
            for chunk in np.split(np.arange(len(block)), edges):
                key = int(block[chunk[0]])
                part = windows.setdefault(key, {}).setdefault(
                    family.name, Family(family.name, family.type, family.help)
                )
                part.series.append(Series(series.name, series.labels, series.timestamps[chunk], series.values[chunk]))
    return {key: list(parts.values()) for key, parts in windows.items()}


def backfill(
    families: Iterable[Family], data_dir: Path, workers: int = 2, blocks_per_file: int = BLOCKS_PER_FILE
) -> int:
    """Write TSDB blocks for ``families`` into ``data_dir``; returns the number of blocks."""
    promtool = find_binary("promtool")
    data_dir.mkdir(parents=True, exist_ok=True)
    windows = _split_by_block(families, blocks_per_file)
    with tempfile.TemporaryDirectory(prefix="gatepack-om-") as scratch:
        files = []
        for key, parts in sorted(windows.items()):
            path = Path(scratch) / f"{key}.om"
            with path.open("w", encoding="utf-8") as handle:
                write_openmetrics(parts, handle)
            files.append(path)

        def convert(path: Path) -> None:
            result = subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(data_dir)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise PrometheusUnavailable(f"promtool backfill failed: {result.stderr.strip()[-500:]}")

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(convert, files))
    return len(files)


@dataclass
class LocalPrometheus:
    """A running Prometheus on 127.0.0.1; stop it with :meth:`stop` (only this process is ended)."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    owns_workdir: bool

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _config_text(rule_files: Sequence[Path], evaluation_interval: str, query_log: Path | None = None) -> str:
    """The server's config: no scrapes; with rules, evaluated often so their series appear within seconds.

    ``query_log`` makes the server log every query with its own timings (benchmarks read them).
    """
    lines = ["global:", "  scrape_interval: 1m"]
    if query_log is not None:
        lines.append(f"  query_log_file: {json.dumps(str(Path(query_log).resolve()))}")
    if rule_files:
        lines.append(f"  evaluation_interval: {evaluation_interval}")
        lines.append("rule_files:")
        lines.extend(f"  - {json.dumps(str(Path(path).resolve()))}" for path in rule_files)
    lines.append("scrape_configs: []")
    return "\n".join(lines) + "\n"


def start_prometheus(
    data_dir: Path,
    workdir: Path | None = None,
    port: int | None = None,
    ready_timeout: float = 60.0,
    rule_files: Sequence[Path] = (),
    evaluation_interval: str = "5s",
    query_log: Path | None = None,
) -> LocalPrometheus:
    """Start Prometheus on a free loopback port over ``data_dir`` and wait until it is ready.

    ``rule_files`` are loaded as the server's recording/alerting rules (``promtool check rules`` them first:
    Prometheus refuses to start on a bad file, which surfaces here as :class:`PrometheusUnavailable`).
    """
    binary = find_binary("prometheus")
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="gatepack-prom-")) if workdir is None else workdir
    config = workdir / "prometheus.yml"
    config.write_text(_config_text(rule_files, evaluation_interval, query_log), encoding="utf-8")
    port = port or free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
            "--query.lookback-delta=5m",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    log.close()
    server = LocalPrometheus(f"http://127.0.0.1:{port}", process, workdir, owns)
    wait_until_ready(
        server, process, f"{server.url}/-/ready", workdir / "prometheus.log", "prometheus", ready_timeout,
        PrometheusUnavailable,
    )  # fmt: skip
    return server


@contextlib.contextmanager
def running_prometheus(
    families: Iterable[Family], workers: int = 2, rule_files: Sequence[Path] = (), query_log: Path | None = None
) -> Iterator[LocalPrometheus]:
    """Backfill ``families`` into a fresh TSDB, serve it (with ``rule_files``), and stop and delete everything."""
    workdir = Path(tempfile.mkdtemp(prefix="gatepack-prom-"))
    try:
        backfill(families, workdir / "data", workers=workers)
        server = start_prometheus(workdir / "data", workdir=workdir, rule_files=rule_files, query_log=query_log)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
