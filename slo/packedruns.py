"""Per-run exact cost amounts kept in 32 bytes a run instead of a dict entry (~170 bytes). Pure.

Why: an ``ai_cost`` check ``per: run`` needs every run's own total until the end (its spans can be
anywhere in the file, and ``avg``/``max``/percentiles are over runs), so its memory grows with the
number of runs. :class:`~slo.aicost.CostAggregator` keeps recent runs in a dict; when the dict grows
past a limit, its entries move here: the 128-bit trace id as two ``uint64`` and the exact integer
amount as two ``uint64`` limbs. A run seen again after it moved gets a new dict entry; :meth:`finish`
sorts the ids and adds up the repeats exactly, so nothing depends on when entries moved. Entries
that do not fit (ids that are not 32 lowercase hex digits, Fractions, amounts of 2**128 units or
more) stay in the dict.

Past :data:`RUN_BUDGET` packed runs in memory, the chunks move to spill stores (temporary files the
collector passes; :mod:`slo.spill`), partitioned by a hash of the trace id into :data:`PARTITIONS`
stores: every row of a run lands in the same partition, so each partition is added up on its own,
one in memory at a time, and the totals, maximum and amounts are those of the whole, exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from slo.spill import SpillFactory, SpillStore

_MASK = (1 << 64) - 1
_LOW32 = np.uint64(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)
RUN_BUDGET = 1 << 18
"""Packed runs held in memory (32 bytes each: 8 MiB) before they move to the partition stores; tests lower it."""
PARTITION_BITS = 8
PARTITIONS = 1 << PARTITION_BITS
"""Spilled runs are summed one partition at a time: memory ~ runs / 256 × 32 bytes (a billion runs: 128 MiB)."""


@dataclass
class PackedRuns:
    """Moved runs, in chunks: ``ids`` (n×2 uint64), ``lo``/``hi`` (n uint64 limbs of the exact amount)."""

    ids: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    extra: dict[bytes, int] = field(default_factory=dict)
    """Runs (id bytes) whose repeats sum to 2**128 units or more (never in practice): exact, by Python."""
    finished: bool = False
    spill: SpillFactory | None = None
    """Where the chunks go past :data:`RUN_BUDGET` (None: they stay in memory)."""
    partitions: dict[int, list[SpillStore]] = field(default_factory=dict)
    """Partition number → its stores (``u8``: rows of id word, id word, lo, hi); after :meth:`finish` one each."""

    def __len__(self) -> int:
        spilled = sum(len(store) for stores in self.partitions.values() for store in stores) // 4
        return sum(len(chunk) for chunk in self.lo) + len(self.extra) + spilled

    def __getstate__(self) -> dict[str, object]:
        """Pickled without :attr:`spill` (a worker's part: the parent's own factory takes over)."""
        return {**self.__dict__, "spill": None}

    def _bound(self) -> None:
        if self.spill is not None and sum(len(chunk) for chunk in self.lo) >= RUN_BUDGET:
            self._spill_all()

    def _spill_all(self) -> None:
        """Every in-memory chunk appended to its runs' partitions (rows of a run always in the same one)."""
        assert self.spill is not None
        while self.lo:
            ids, lo, hi = self.ids.pop(), self.lo.pop(), self.hi.pop()
            rows = np.empty((len(lo), 4), dtype=np.uint64)
            rows[:, :2], rows[:, 2], rows[:, 3] = ids, lo, hi
            del ids, lo, hi
            part = _partition(rows[:, :2])
            order = np.argsort(part, kind="stable")
            numbers, starts = np.unique(part[order], return_index=True)
            ends = [*starts[1:].tolist(), len(order)]
            for number, start, end in zip(numbers.tolist(), starts.tolist(), ends, strict=True):
                self._store(number).append(rows[order[start:end]])
        self.finished = False

    def _store(self, number: int) -> SpillStore:
        assert self.spill is not None
        stores = self.partitions.setdefault(number, [])
        if not stores:
            stores.append(self.spill("u8"))
        return stores[-1]

    def _rows(self, number: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One partition's rows (ids, lo, hi), read from its stores."""
        parts = [chunk.reshape(-1, 4) for store in self.partitions[number] for chunk in store.chunks()]
        rows = np.concatenate(parts) if parts else np.empty((0, 4), dtype=np.uint64)
        del parts
        return rows[:, :2].copy(), rows[:, 2].copy(), rows[:, 3].copy()

    def _rewrite(self, number: int, ids: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        assert self.spill is not None
        rows = np.empty((len(lo), 4), dtype=np.uint64)
        rows[:, :2], rows[:, 2], rows[:, 3] = ids, lo, hi
        store = self.spill("u8")
        store.append(rows)
        for old in self.partitions.get(number, []):
            old.discard()
        self.partitions[number] = [store]

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(ids, lo, hi) of every packed run: the in-memory chunks, then one spilled partition at a time."""
        yield from zip(self.ids, self.lo, self.hi, strict=True)
        for number in sorted(self.partitions):
            yield self._rows(number)

    def pack(self, groups: dict[str, int | Fraction]) -> None:
        """Move every entry that fits out of ``groups`` (in place)."""
        keys = [k for k, v in groups.items() if len(k) == 32 and isinstance(v, int) and 0 <= v and not v >> 128]
        joined = "".join(keys)
        try:
            raw = bytes.fromhex(joined)
        except ValueError:
            raw = b""
        if len(raw) * 2 != len(joined) or joined != joined.lower():  # some key is not lowercase hex
            keys = [k for k in keys if _lower_hex(k)]
            raw = bytes.fromhex("".join(keys))
        if not keys:
            return
        amounts = [int(groups.pop(k)) for k in keys]  # ints (checked above)
        self.ids.append(np.frombuffer(raw, dtype=np.uint64).reshape(-1, 2).copy())
        self.lo.append(np.array([a & _MASK for a in amounts], dtype=np.uint64))
        self.hi.append(np.array([a >> 64 for a in amounts], dtype=np.uint64))
        self.finished = False
        self._bound()

    def extend(self, other: PackedRuns) -> None:
        self.ids += other.ids
        self.lo += other.lo
        self.hi += other.hi
        for key, amount in other.extra.items():
            self.extra[key] = self.extra.get(key, 0) + amount
        for number, stores in other.partitions.items():
            self.partitions.setdefault(number, []).extend(stores)
        self.spill = self.spill or other.spill
        self.finished = False
        self._bound()

    def settle(self, groups: dict[str, int | Fraction]) -> None:
        """Before reading: once anything moved, the dict's runs move too (a run back in the dict meets its part)."""
        if not self.lo and not self.partitions:
            return
        self.pack(groups)
        self.finish()
        keys = [k for k in groups if _lower_hex(k)]  # a Fraction or a huge amount: the part joins the dict
        if not self.partitions:
            self.ids[0], self.lo[0], self.hi[0] = self._join(groups, keys, self.ids[0], self.lo[0], self.hi[0])
            return
        by_partition: dict[int, list[str]] = {}
        for key in keys:
            number = int(_partition(np.frombuffer(bytes.fromhex(key), dtype=np.uint64).reshape(1, 2))[0])
            by_partition.setdefault(number, []).append(key)
        for number, names in by_partition.items():
            if number in self.partitions:
                self._rewrite(number, *self._join(groups, names, *self._rows(number)))
            else:
                for key in names:
                    groups[key] += self.extra.pop(bytes.fromhex(key), 0)

    def _join(
        self, groups: dict[str, int | Fraction], keys: list[str], ids: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The packed parts (row and extra) of the dict's ``keys`` added to the dict, their rows dropped."""
        for key in keys:
            a, b = np.frombuffer(bytes.fromhex(key), dtype=np.uint64)
            at = np.flatnonzero((ids[:, 0] == a) & (ids[:, 1] == b))
            groups[key] += self.extra.pop(bytes.fromhex(key), 0)
            if len(at):
                row = int(at[0])
                groups[key] += int(hi[row]) << 64 | int(lo[row])
                ids, lo, hi = np.delete(ids, row, axis=0), np.delete(lo, row), np.delete(hi, row)
        return ids, lo, hi

    def finish(self) -> None:
        """One chunk, each run once: repeats of a run (same id in two rows) added exactly into one row.

        Memory: the chunks are gathered one at a time into the final arrays (32 bytes a run), and
        repeats are found by sorting the first id word only (8 + 8 bytes a run, freed after).
        """
        if self.finished or not (self.lo or self.partitions):
            return
        if self.partitions:
            self._finish_partitions()
            return
        ids, lo, hi = _gather(self.ids), _gather(self.lo), _gather(self.hi)
        order = np.argsort(ids[:, 0])
        first = ids[order, 0]
        pairs = np.flatnonzero(first[1:] == first[:-1])
        del first
        candidates = np.unique(np.concatenate([order[pairs], order[pairs + 1]])).tolist()
        del order, pairs
        rows: dict[bytes, list[int]] = {}
        for row in candidates:
            rows.setdefault(ids[row].tobytes(), []).append(row)
        for name in self.extra:  # a run over 2**128 units: every row of it joins it
            a, b = np.frombuffer(name, dtype=np.uint64)
            rows.setdefault(name, []).extend(np.flatnonzero((ids[:, 0] == a) & (ids[:, 1] == b)).tolist())
        drop: list[int] = []
        for name, members in rows.items():
            if len(members) < 2 and name not in self.extra:
                continue
            total = sum(int(hi[r]) << 64 | int(lo[r]) for r in members)
            if name in self.extra or total >> 128:
                self.extra[name] = self.extra.get(name, 0) + total
                drop += members
            else:
                hi[members[0]], lo[members[0]] = total >> 64, total & _MASK
                drop += members[1:]
        if drop:
            ids, lo, hi = np.delete(ids, drop, axis=0), np.delete(lo, drop), np.delete(hi, drop)
        self.ids, self.lo, self.hi = [ids], [lo], [hi]
        self.finished = True

    def _finish_partitions(self) -> None:
        """:meth:`finish` of each partition on its own (its rows and the extra runs that hash to it), rewritten."""
        self._spill_all()
        for number in sorted(self.partitions):
            mine = {k: v for k, v in self.extra.items() if _partition_of(k) == number}
            for key in mine:
                del self.extra[key]
            ids, lo, hi = self._rows(number)
            part = PackedRuns(ids=[ids], lo=[lo], hi=[hi], extra=mine)
            del ids, lo, hi
            part.finish()
            self.extra.update(part.extra)
            self._rewrite(number, part.ids[0], part.lo[0], part.hi[0])
        self.finished = True

    def total(self) -> int | Fraction:
        """The exact sum of every packed amount (32-bit halves summed in uint64 cannot overflow below 2**32 runs)."""
        self.finish()
        found: int | Fraction = sum(self.extra.values())
        for _, lo, hi in self.chunks():
            parts = (lo & _LOW32, lo >> np.uint64(32), hi & _LOW32, hi >> np.uint64(32))
            found += sum(int(part.sum(dtype=np.uint64)) << (32 * i) for i, part in enumerate(parts))
        return found

    def maximum(self) -> int | Fraction | None:
        self.finish()
        found: list[int | Fraction] = list(self.extra.values())
        for _, lo, hi in self.chunks():
            if len(lo):
                top = np.lexsort((lo, hi))[-1]
                found.append(int(hi[top]) << 64 | int(lo[top]))
        return max(found) if found else None

    def amounts(self) -> Iterator[int | Fraction]:
        self.finish()
        yield from self.extra.values()
        for _, lo, hi in self.chunks():
            for low, high in zip(lo.tolist(), hi.tolist(), strict=True):
                yield high << 64 | low


def _partition(ids: np.ndarray) -> np.ndarray:
    """A run's partition from its two id words (mixed, so sequential or prefixed ids still spread)."""
    mixed: np.ndarray = ((ids[:, 0] ^ ids[:, 1]) * _MIX) >> np.uint64(64 - PARTITION_BITS)
    return mixed.astype(np.intp)


def _partition_of(name: bytes) -> int:
    return int(_partition(np.frombuffer(name, dtype=np.uint64).reshape(1, 2))[0])


def _gather(chunks: list[np.ndarray]) -> np.ndarray:
    """The chunks as one array, each released once copied (the list is emptied)."""
    out = np.empty((sum(len(c) for c in chunks), *chunks[0].shape[1:]), dtype=chunks[0].dtype)
    at = 0
    chunks.reverse()
    while chunks:
        chunk = chunks.pop()
        out[at : at + len(chunk)] = chunk
        at += len(chunk)
        del chunk
    return out


def _lower_hex(key: str) -> bool:
    """32 lowercase hex digits (the keys every decoder writes; anything else stays in the dict)."""
    try:
        return len(bytes.fromhex(key)) == 16 and key == key.lower()
    except ValueError:
        return False
