"""A real, local single-node VictoriaMetrics for tests: start, import history, flush, query, stop.

It is the second engine behind gatepack's "Prometheus-compatible" claim (Debian's ``victoria-metrics``
package, 1.79). History with a known truth is loaded through ``/api/v1/import/prometheus`` (Prometheus
text with millisecond timestamps), the same :class:`~collector.testing.openmetrics.Family` objects the
Prometheus backfill uses. Two traps of the import path are handled here: samples stay invisible to
queries until ``/internal/force_flush``, and the response cache can keep an answer computed before the
import finished, so the cache is disabled (``-search.disableCache``) for test servers.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from collector.testing.openmetrics import Family, _format_values, _label_text
from collector.testing.processes import wait_until_ready
from collector.testing.promserver import free_port

IMPORT_CHUNK_LINES = 50_000


class VictoriaMetricsUnavailable(RuntimeError):
    """The victoria-metrics binary is missing or the server would not start or import."""


def find_victoriametrics() -> str:
    found = shutil.which("victoria-metrics") or shutil.which("victoria-metrics-prod")
    if not found:
        raise VictoriaMetricsUnavailable(
            "'victoria-metrics' not found: install Debian's 'victoria-metrics' package (apt-get install victoria-metrics)"
        )
    return found


@dataclass
class LocalVictoriaMetrics:
    """A running VictoriaMetrics on 127.0.0.1; :meth:`stop` ends only this process."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    owns_workdir: bool

    def import_families(self, families: Iterable[Family]) -> int:
        """Import every sample of ``families``; returns the number of samples sent. Flushes at the end."""
        sent = 0
        with httpx.Client(timeout=120.0) as client:
            chunk: list[str] = []
            for line in prometheus_text_lines(families):
                chunk.append(line)
                if len(chunk) >= IMPORT_CHUNK_LINES:
                    sent += self._post(client, chunk)
                    chunk = []
            if chunk:
                sent += self._post(client, chunk)
            self.flush(client)
        return sent

    def _post(self, client: httpx.Client, lines: list[str]) -> int:
        response = client.post(f"{self.url}/api/v1/import/prometheus", content="".join(lines).encode())
        if response.status_code not in (200, 204):
            raise VictoriaMetricsUnavailable(f"import failed: HTTP {response.status_code}: {response.text[:300]}")
        return len(lines)

    def flush(self, client: httpx.Client | None = None) -> None:
        """Make imported samples visible to queries (they sit in an in-memory buffer until then)."""
        own = client is None
        client = client or httpx.Client(timeout=60.0)
        try:
            response = client.get(f"{self.url}/internal/force_flush")
            if response.status_code != 200:
                raise VictoriaMetricsUnavailable(f"force_flush failed: HTTP {response.status_code}")
        finally:
            if own:
                client.close()

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


def prometheus_text_lines(families: Iterable[Family]) -> Iterator[str]:
    """``name{labels} value timestamp_ms`` lines (the import API wants milliseconds, unlike OpenMetrics)."""
    for family in families:
        for series in family.series:
            prefix = series.name + _label_text(series.labels) + " "
            stamps = (series.timestamps.astype(np.int64) * 1000).astype(str)
            for value, stamp in zip(_format_values(series.values), stamps, strict=True):
                yield f"{prefix}{value} {stamp}\n"


def start_victoriametrics(
    workdir: Path | None = None, port: int | None = None, ready_timeout: float = 60.0
) -> LocalVictoriaMetrics:
    """Start VictoriaMetrics on a free loopback port with its data in ``workdir`` and wait until healthy."""
    binary = find_victoriametrics()
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="gatepack-vm-")) if workdir is None else workdir
    port = port or free_port()
    log = (workdir / "victoria-metrics.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"-storageDataPath={workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-loggerLevel=WARN",
            "-memory.allowedPercent=10",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    log.close()
    server = LocalVictoriaMetrics(f"http://127.0.0.1:{port}", process, workdir, owns)
    wait_until_ready(
        server, process, f"{server.url}/health", workdir / "victoria-metrics.log", "victoria-metrics",
        ready_timeout, VictoriaMetricsUnavailable,
    )  # fmt: skip
    return server


@contextlib.contextmanager
def running_victoriametrics(families: Iterable[Family]) -> Iterator[LocalVictoriaMetrics]:
    """A fresh VictoriaMetrics holding ``families``; stopped and deleted afterwards."""
    server = start_victoriametrics()
    try:
        server.import_families(families)
        yield server
    finally:
        server.stop()
