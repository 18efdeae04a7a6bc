"""Per-run exact cost amounts kept in 32 bytes a run instead of a dict entry (~170 bytes). Pure.

Why: an ``ai_cost`` check ``per: run`` needs every run's own total until the end (its spans can be
anywhere in the file, and ``avg``/``max``/percentiles are over runs), so its memory grows with the
number of runs. :class:`~slo.aicost.CostAggregator` keeps recent runs in a dict; when the dict grows
past a limit, its entries move here: the 128-bit trace id as two ``uint64`` and the exact integer
amount as two ``uint64`` limbs. A run seen again after it moved gets a new dict entry; :meth:`finish`
sorts the ids and adds up the repeats exactly, so nothing depends on when entries moved. Entries
that do not fit (ids that are not 32 lowercase hex digits, Fractions, amounts of 2**128 units or
more) stay in the dict.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

_MASK = (1 << 64) - 1
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass
class PackedRuns:
    """Moved runs, in chunks: ``ids`` (n×2 uint64), ``lo``/``hi`` (n uint64 limbs of the exact amount)."""

    ids: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    extra: dict[bytes, int] = field(default_factory=dict)
    """Runs (id bytes) whose repeats sum to 2**128 units or more (never in practice): exact, by Python."""
    finished: bool = False

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.lo) + len(self.extra)

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

    def extend(self, other: PackedRuns) -> None:
        self.ids += other.ids
        self.lo += other.lo
        self.hi += other.hi
        for key, amount in other.extra.items():
            self.extra[key] = self.extra.get(key, 0) + amount
        self.finished = False

    def settle(self, groups: dict[str, int | Fraction]) -> None:
        """Before reading: once anything moved, the dict's runs move too (a run back in the dict meets its part)."""
        if not self.lo:
            return
        self.pack(groups)
        self.finish()
        ids, lo, hi = self.ids[0], self.lo[0], self.hi[0]
        for key in [k for k in groups if _lower_hex(k)]:  # a Fraction or a huge amount: the part joins the dict
            a, b = np.frombuffer(bytes.fromhex(key), dtype=np.uint64)
            at = np.flatnonzero((ids[:, 0] == a) & (ids[:, 1] == b))
            groups[key] += self.extra.pop(bytes.fromhex(key), 0)
            if len(at):
                row = int(at[0])
                groups[key] += int(hi[row]) << 64 | int(lo[row])
                ids, lo, hi = np.delete(ids, row, axis=0), np.delete(lo, row), np.delete(hi, row)
        self.ids, self.lo, self.hi = [ids], [lo], [hi]

    def finish(self) -> None:
        """One chunk, each run once: repeats of a run (same id in two rows) added exactly into one row.

        Memory: the chunks are gathered one at a time into the final arrays (32 bytes a run), and
        repeats are found by sorting the first id word only (8 + 8 bytes a run, freed after).
        """
        if self.finished or not self.lo:
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

    def total(self) -> int | Fraction:
        """The exact sum of every packed amount (32-bit halves summed in uint64 cannot overflow below 2**32 runs)."""
        self.finish()
        found: int | Fraction = sum(self.extra.values())
        for lo, hi in zip(self.lo, self.hi, strict=True):
            parts = (lo & _LOW32, lo >> np.uint64(32), hi & _LOW32, hi >> np.uint64(32))
            found += sum(int(part.sum(dtype=np.uint64)) << (32 * i) for i, part in enumerate(parts))
        return found

    def maximum(self) -> int | Fraction | None:
        self.finish()
        found: list[int | Fraction] = list(self.extra.values())
        for lo, hi in zip(self.lo, self.hi, strict=True):
            if len(lo):
                top = np.lexsort((lo, hi))[-1]
                found.append(int(hi[top]) << 64 | int(lo[top]))
        return max(found) if found else None

    def amounts(self) -> Iterator[int | Fraction]:
        self.finish()
        yield from self.extra.values()
        for lo, hi in zip(self.lo, self.hi, strict=True):
            for low, high in zip(lo.tolist(), hi.tolist(), strict=True):
                yield high << 64 | low


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
