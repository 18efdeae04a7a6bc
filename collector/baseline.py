"""Find each check's baseline packet in the store and apply the relative criteria (:mod:`slo.baseline`).

Runs after a gate's results are known and before its packet is sealed, so the packet records the
baseline's digest. ``previous_pass``: the newest passing packet of the same gate and environment
evaluated before this run. ``release:NAME``: the newest packet of the same gate whose subject.release
is NAME. No store, or no matching packet: the check keeps its absolute verdict and says so.
"""

from __future__ import annotations

from typing import Any

from collector.timeutil import rfc3339
from slo.baseline import apply_baseline
from slo.evaluate import summarize
from slo.spec import Baseline

NO_STORE = "no --store given to look it up in"


def _find(store: Any, gate: str, spec: Baseline, environment: str | None, before: str) -> Any:
    if spec.release is not None:
        found = store.find(gate=gate, release=spec.release, limit=1)
    else:
        found = [
            row
            for row in store.find(gate=gate, environment=environment, verdict="pass", limit=50)
            if row.evaluated_at < before and (environment is not None or row.environment is None)
        ][:1]
    return found[0] if found else None


def apply_baselines(runs: list[Any], store_target: str | None, environment: str | None) -> None:
    """Rewrite each run's results (and summary) with its checks' baseline comparisons, in place."""
    wanted = [run for run in runs if any(getattr(c, "baseline", None) is not None for c in run.gate.checks)]
    if not wanted:
        return
    store = None
    if store_target:
        from collector.store import open_store

        store = open_store(store_target)
    try:
        for run in wanted:
            by_id = {c.id: c for c in run.gate.checks}
            results = []
            for result in run.results:
                check = by_id[result.id]
                spec: Baseline | None = getattr(check, "baseline", None)
                if spec is None:
                    results.append(result)
                    continue
                if store is None:
                    results.append(apply_baseline(check, result, None, None, NO_STORE))
                    continue
                row = _find(store, run.gate.id, spec, environment, rfc3339(run.at))
                if row is None:
                    where = (
                        f"release {spec.release}"
                        if spec.release
                        else f"a passing run in environment {environment or '(none)'}"
                    )
                    missing = f"no packet of gate {run.gate.id} for {where} in the store"
                    results.append(apply_baseline(check, result, None, None, missing))
                else:
                    results.append(apply_baseline(check, result, row.document(), row.digest))
            run.results = results
            run.summary = summarize(results)
    finally:
        if store is not None:
            store.close()
