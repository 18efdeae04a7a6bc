"""A run tunes Python's garbage collector for its many long-lived objects and puts it back afterwards.

Without the tuning a gate of a thousand SLOs spent 0.4 s of its 2.4 s CPU in about 700 collections
(``bench/collect.py``); the values are unaffected, so what is tested is that the tuning is in force while
checks are decided and that the process gets its own settings back, also when the run fails.
"""

from __future__ import annotations

import gc

import pytest

from collector.run import YOUNG_COLLECTION_EVERY, CollectOptions, collect, fewer_collections
from collector.specs import LoadedGate
from slo.loader import load_gates

GATE = """apiVersion: gatepack/v1
kind: Gate
id: gc
title: GC
checks:
  - {id: a, kind: threshold, query: 'sum(up)', op: '>', target: 0}
"""


def test_collect_runs_with_fewer_collections_and_restores_the_settings() -> None:
    before = gc.get_threshold()
    seen: list[tuple[tuple[int, int, int], int]] = []
    gate = LoadedGate(load_gates(GATE)[0], "gc.yaml", "0" * 64)
    outcome = collect([gate], CollectOptions(at=0, out_dir=None), env={}, on_result=lambda r: seen.append(
        (gc.get_threshold(), gc.get_freeze_count())
    ))  # fmt: skip
    assert len(outcome.packets) == 1  # no source for the check: it is an error, and the run completes
    [(during, frozen)] = seen
    assert during[0] == max(before[0], YOUNG_COLLECTION_EVERY) and during[1:] == before[1:]
    assert frozen > 0  # what was alive at the start is left out of the scans
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_settings_come_back_when_the_run_raises_and_nesting_tunes_once() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        with fewer_collections():
            assert gc.get_threshold()[0] == max(before[0], YOUNG_COLLECTION_EVERY)
        assert gc.get_freeze_count() > 0  # the inner block did not undo the outer one
        raise RuntimeError("boom")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
