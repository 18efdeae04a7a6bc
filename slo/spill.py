"""Exact duration percentiles over more values than memory should hold: spill stores and radix selection. Pure.

Why: a percentile check keeps one float per matching span, so its memory grows with the file. Past a
fixed budget (:data:`DURATION_BUDGET`) a group's values move to a :class:`SpillStore` (the collector
passes temporary files; this core does no file I/O and only appends and reads back numpy chunks).
The percentile is then found without loading the values: the order statistics it needs are selected
by radix over the values' order-preserving ``uint64`` keys, 16 bits per counting pass over the
chunks, until the rank's bucket is small enough to sort in memory; the interpolation is numpy's own
``linear`` method, step by step, so the number is bit-identical to ``np.percentile`` of all values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

DURATION_BUDGET = 1 << 20
"""In-memory durations per group (float64: 8 MiB) before they move to the spill store; tests lower it.

Small on purpose: each worker process and the parent merging their parts may hold this much."""
SELECT_BUDGET = 1_000_000
"""Values a radix bucket may hold to be gathered and sorted in memory (8 MiB); tests lower it."""
CHUNK = 1 << 18
"""Values a store hands back at a time (2 MiB of float64)."""

_SIGN = np.uint64(1 << 63)
_DIGIT = np.uint64(0xFFFF)


class SpillStore(Protocol):
    """Append-only storage of one dtype read back in chunks of :data:`CHUNK` items; must pickle (workers pass it)."""

    def append(self, values: np.ndarray) -> None: ...

    def chunks(self) -> Iterator[np.ndarray]: ...

    def discard(self) -> None:
        """Drop the values (their storage is freed; the store is not used again)."""

    def __len__(self) -> int: ...


SpillFactory = Callable[[str], SpillStore]
"""A new empty store of the given dtype (``"f8"`` durations, ``"u8"`` packed runs)."""


@dataclass
class MemorySpill:
    """A :class:`SpillStore` in memory (this core's tests; the collector passes temporary files)."""

    dtype: str = "f8"
    parts: list[np.ndarray] = field(default_factory=list)

    def append(self, values: np.ndarray) -> None:
        self.parts.append(np.array(values, dtype=self.dtype).ravel())

    def chunks(self) -> Iterator[np.ndarray]:
        for part in self.parts:
            for at in range(0, len(part), CHUNK):
                yield part[at : at + CHUNK]

    def discard(self) -> None:
        self.parts = []

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)


Chunks = Callable[[], Iterable[np.ndarray]]
"""A fresh pass over every value, in chunks (called once per radix pass)."""


def _keys(values: np.ndarray) -> np.ndarray:
    """float64 → uint64 in the same order (negatives: all bits flipped; others: sign bit set)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _value(key: int) -> float:
    bits = key & ~(1 << 63) if key >> 63 else ~key & ((1 << 64) - 1)
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def order_statistic(chunks: Chunks, count: int, rank: int, budget: int | None = None) -> float:
    """The ``rank``-th smallest (0-based) of ``count`` values, in passes over ``chunks`` (bounded memory)."""
    budget = SELECT_BUDGET if budget is None else budget
    if not 0 <= rank < count:
        raise ValueError(f"rank {rank} outside 0..{count - 1}")
    prefix, fixed, inside = 0, 0, count  # the bucket: keys whose top `fixed` bits equal `prefix`
    while inside > budget and fixed < 64:
        shift = np.uint64(64 - fixed - 16)
        histogram = np.zeros(1 << 16, dtype=np.int64)
        for chunk in chunks():
            keys = _keys(chunk)
            if fixed:
                keys = keys[(keys >> np.uint64(64 - fixed)) == np.uint64(prefix)]
            histogram += np.bincount(((keys >> shift) & _DIGIT).astype(np.intp), minlength=1 << 16)
        below = np.cumsum(histogram)
        digit = int(np.searchsorted(below, rank, side="right"))
        rank -= int(below[digit - 1]) if digit else 0
        inside = int(histogram[digit])
        prefix, fixed = prefix << 16 | digit, fixed + 16
    if fixed == 64:
        return _value(prefix)  # every value in the bucket has this very key
    parts = []
    for chunk in chunks():
        keys = _keys(chunk)
        parts.append(keys if not fixed else keys[(keys >> np.uint64(64 - fixed)) == np.uint64(prefix)])
    bucket = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    del parts
    return _value(int(np.partition(bucket, rank)[rank]))


def percentile(chunks: Chunks, count: int, q: float, budget: int | None = None) -> float:
    """``np.percentile(values, q)`` (method ``linear``) of values read by :func:`order_statistic`, bit for bit."""
    virtual = np.float64(count - 1) * np.true_divide(q, 100)
    if virtual >= count - 1:
        return order_statistic(chunks, count, count - 1, budget)
    previous = int(np.floor(virtual))
    gamma = virtual - np.float64(previous)
    a = np.float64(order_statistic(chunks, count, previous, budget))
    b = np.float64(order_statistic(chunks, count, previous + 1, budget))
    diff = b - a
    found = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return float(found)
