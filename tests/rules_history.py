"""The closed-form history the rules tests share, and the `promtool test rules` run they both end with.

History (one sample per minute, 100 requests a minute): quiet, a page burst (half the requests fail), a
recovery, a ticket-level slow burn, then no traffic at all. Both counters start far from zero, so
Prometheus' extrapolation scales them alike and cancels in the ratio. tests/test_rules_promtool.py
checks the generated rules against the closed form; tests/test_rules_agree.py backfills the same
counters into a real Prometheus and checks the packet and the rules agree.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import yaml

from collector.testing.promserver import find_binary
from slo.durations import parse_duration
from slo.generate.rules import dump_yaml
from slo.promql.plan import conditions_for
from slo.spec import Gate, SloCheck

OBJECTIVE = 99.0  # budget 0.01
PHASES = [  # (minutes, requests per minute, error ratio)
    (60, 100, 0.0),  # quiet
    (30, 100, 0.5),  # page burst: burn rate 50
    (150, 100, 0.0),  # recovery
    (300, 100, 0.03),  # slow burn: burn rate 3, above the ticket factor, far below page
    (60, 0, 0.0),  # no traffic
]
START = 1_000_000.0


def closed_form_gate() -> Gate:
    """One ``slo`` check over ``errors_total``/``requests_total`` with a page and a ticket condition."""
    return Gate.model_validate(
        {
            "apiVersion": "gatepack/v1",
            "kind": "Gate",
            "id": "closed-form",
            "title": "closed form",
            "checks": [
                {
                    "id": "availability",
                    "kind": "slo",
                    "bad": "sum(rate(errors_total[{{ window }}]))",
                    "total": "sum(rate(requests_total[{{ window }}]))",
                    "objective": OBJECTIVE,
                    "period": "1d",
                    "alerting": [
                        {"long": "1h", "short": "5m", "factor": 14.4, "severity": "page"},
                        {"long": "6h", "short": "30m", "factor": 2, "severity": "ticket"},
                    ],
                }
            ],
        }
    )


def counters() -> tuple[list[float], list[float]]:
    """(requests_total, errors_total), one value a minute from minute 0, following :data:`PHASES`."""
    requests, errors = [START], [START]
    for minutes, rate, ratio in PHASES:
        for _ in range(minutes):
            requests.append(requests[-1] + rate)
            errors.append(errors[-1] + rate * ratio)
    return requests, errors


def ratio(requests: list[float], errors: list[float], t: int, window_minutes: int) -> float:
    """The error ratio over the window ending at minute ``t``; NaN without traffic."""
    first = max(0, t - window_minutes)
    total = requests[t] - requests[first]
    return math.nan if total == 0 or first == t else (errors[t] - errors[first]) / total


def holds(requests: list[float], errors: list[float], t: int, check: SloCheck, severity: str) -> bool:
    """Whether any of the check's multi-window conditions of ``severity`` holds at minute ``t``."""
    budget = 1 - OBJECTIVE / 100
    for c in conditions_for(check):
        if c.severity.value != severity:
            continue
        short = ratio(requests, errors, t, parse_duration(c.short) // 60)
        long = ratio(requests, errors, t, parse_duration(c.long) // 60)
        if short > c.factor * budget and long > c.factor * budget:  # NaN compares false: no traffic, no alert
            return True
    return False


def count_test(expr: str, t: int, value: int) -> dict[str, object]:
    """A ``promql_expr_test`` that ``expr`` selects ``value`` series at minute ``t``."""
    return {
        "expr": f"count({expr}) or vector(0)",
        "eval_time": f"{t}m",
        "exp_samples": [{"labels": "{}", "value": value}],
    }


def promtool_test_rules(
    where: Path, document: dict[str, Any], tests: list[dict[str, object]]
) -> subprocess.CompletedProcess[str]:
    """Write ``document`` and a test file over :func:`counters` into ``where``; run ``promtool test rules``."""
    requests, errors = counters()
    (where / "rules.yml").write_text(dump_yaml(document))
    test_file = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        # Recordings before alerts at each instant, as listed. Without an order promtool (like a real server)
        # evaluates groups independently, and an alert on recorded series may lag one interval (as Sloth's do).
        "group_eval_order": [g["name"] for g in document["groups"]],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": "requests_total", "values": " ".join(repr(v) for v in requests)},
                    {"series": "errors_total", "values": " ".join(repr(v) for v in errors)},
                ],
                "promql_expr_test": tests,
            }
        ],
    }
    (where / "test.yml").write_text(yaml.safe_dump(test_file, sort_keys=False))
    return subprocess.run(
        [find_binary("promtool"), "test", "rules", "test.yml"], cwd=where, capture_output=True, text=True, check=False
    )
