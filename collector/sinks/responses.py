"""Raw backend responses and spec copies kept beside evidence packets, addressed by their sha256.

``--keep-responses`` stores every response body the backend sent as ``<out>/responses/<sha256>.json.gz``
and the spec each packet was computed from as ``<out>/specs/<sha256>.yaml``, where each sha256 is the one
the packet already records (``queries[].response_sha256``, ``spec.sha256``). The packet's digest, and its
signature when signed, therefore cover these files without listing them: a reviewer recomputes each
file's sha256 and re-derives every value offline (``gatepack verify --deep``). Same content, same name:
a body seen twice (two runs, two processes) is written once, and writes are atomic.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources
from pathlib import Path

from collector.sinks.files import write_atomic

RESPONSES_DIR = "responses"
SPECS_DIR = "specs"


def response_path(root: Path, sha256: str) -> Path:
    return root / RESPONSES_DIR / f"{sha256}.json.gz"


def spec_copy_path(root: Path, sha256: str) -> Path:
    return root / SPECS_DIR / f"{sha256}.yaml"


class ResponseKeeper:
    """The ``on_body`` callback of :class:`~collector.sources.prometheus.client.PrometheusClient`: gzip each new body to disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shas: set[str] = set()

    def __call__(self, sha256: str, body: bytes) -> None:
        if sha256 in self.shas:
            return
        self.shas.add(sha256)
        path = response_path(self.root, sha256)
        if not path.exists():
            write_atomic(path, gzip.compress(body, compresslevel=6, mtime=0))  # mtime=0: same body, same bytes


def spec_bytes(path: str) -> bytes | None:
    """The bytes of a spec as a packet names it: a file path, or ``catalog:FILE`` inside the package."""
    try:
        if path.startswith("catalog:"):
            return (resources.files("slo.catalog") / path.removeprefix("catalog:")).read_bytes()
        return Path(path).read_bytes()
    except OSError:
        return None


def keep_spec(root: Path, path: str, sha256: str) -> bool:
    """Copy the spec beside the packets; False when it changed since it was loaded (then nothing is kept)."""
    target = spec_copy_path(root, sha256)
    if target.exists():
        return True
    data = spec_bytes(path)
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        return False
    write_atomic(target, data)
    return True
