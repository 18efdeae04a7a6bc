"""Temporary files behind :class:`slo.spill.SpillStore`: where exact aggregates go once past their memory budget.

Why here: :mod:`slo` is pure (no file I/O), so it appends numpy chunks to whatever store the collector
hands it. :class:`SpillDir` makes one private directory in the system temp dir per scan (created
before the worker processes fork, so their stores land in it too) and removes it with everything in
it when the scan ends, also on error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from slo import spill
from slo.spill import SpillStore


@dataclass
class FileSpill:
    """Values of one dtype appended raw to one file; pickles as its path (a worker's store read by the parent)."""

    path: str
    dtype: str = "f8"
    count: int = 0

    def append(self, values: np.ndarray) -> None:
        flat = np.ascontiguousarray(values, dtype=self.dtype).ravel()
        with open(self.path, "ab") as out:
            flat.tofile(out)
        self.count += len(flat)

    def chunks(self) -> Iterator[np.ndarray]:
        with open(self.path, "rb", buffering=0) as handle:
            while True:
                chunk = np.fromfile(handle, dtype=self.dtype, count=spill.CHUNK)
                if not len(chunk):
                    return
                yield chunk

    def discard(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.count = 0

    def __len__(self) -> int:
        return self.count


class SpillDir:
    """A private temporary directory for one scan's spill files; ``with`` removes it (only in its own process)."""

    def __init__(self) -> None:
        self.path: str | None = None
        self._owner = os.getpid()

    def __enter__(self) -> SpillDir:
        self.path = tempfile.mkdtemp(prefix="gatepack-spill-")
        self._owner = os.getpid()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.path is not None and os.getpid() == self._owner:  # a forked worker never removes it
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def store(self, dtype: str) -> SpillStore:
        """A new empty file in the directory (the :data:`slo.spill.SpillFactory` the aggregators call)."""
        if self.path is None:
            raise RuntimeError("spill directory used outside its with block")
        handle, name = tempfile.mkstemp(prefix="spill-", suffix=f".{dtype}", dir=self.path)
        os.close(handle)
        return FileSpill(name, dtype)
