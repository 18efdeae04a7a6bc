"""`promtool test rules` over a history with a known error ratio per minute, expectations from a closed form.

History (one sample per minute, 100 requests a minute): quiet, a page burst (half the requests fail), a
recovery, a ticket-level slow burn, then no traffic at all. For every recorded window the expected ratio
at minute t is (E[t] - E[t-W]) / (R[t] - R[t-W]) over the samples inside the window (Prometheus'
extrapolation scales both counters alike, so it cancels: both counters start far from zero on purpose).
Each alert's expected state at minute t is its multi-window condition evaluated on those ratios. The test
asserts the ratios at chosen minutes and each alert's state at every minute where the closed form says it
flips (and the minute before), so firing and resolving times are checked, not just "it fired".
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import yaml

from collector.testing.promserver import find_binary
from slo.durations import parse_duration
from slo.generate.rules import DEFAULT_ALERT_NAME, dump_yaml, prom_duration, rules_document
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


def _gate() -> Gate:
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


def _counters() -> tuple[list[float], list[float]]:
    requests, errors = [START], [START]
    for minutes, rate, ratio in PHASES:
        for _ in range(minutes):
            requests.append(requests[-1] + rate)
            errors.append(errors[-1] + rate * ratio)
    return requests, errors


def _ratio(requests: list[float], errors: list[float], t: int, window_minutes: int) -> float:
    first = max(0, t - window_minutes)
    total = requests[t] - requests[first]
    return math.nan if total == 0 or first == t else (errors[t] - errors[first]) / total


def _holds(requests: list[float], errors: list[float], t: int, check: SloCheck, severity: str) -> bool:
    budget = 1 - OBJECTIVE / 100
    for c in conditions_for(check):
        if c.severity.value != severity:
            continue
        short = _ratio(requests, errors, t, parse_duration(c.short) // 60)
        long = _ratio(requests, errors, t, parse_duration(c.long) // 60)
        if short > c.factor * budget and long > c.factor * budget:  # NaN compares false: no traffic, no alert
            return True
    return False


def _count(expr: str, t: int, value: int) -> dict[str, object]:
    return {
        "expr": f"count({expr}) or vector(0)",
        "eval_time": f"{t}m",
        "exp_samples": [{"labels": "{}", "value": value}],
    }


def test_recorded_ratios_and_alert_times_match_the_closed_form(prometheus_binaries: None, tmp_path: Path) -> None:
    gate = _gate()
    check = gate.checks[0]
    assert isinstance(check, SloCheck)
    requests, errors = _counters()
    last = len(requests) - 1
    document = rules_document([gate])
    (tmp_path / "rules.yml").write_text(dump_yaml(document))

    tests: list[dict[str, object]] = []
    windows = sorted({parse_duration(w) // 60 for c in conditions_for(check) for w in (c.long, c.short, check.period)})
    probe_minutes = [30, 62, 75, 90, 95, 120, 200, 260, 300, 400, 540, 560, 600, last]
    for t in probe_minutes:
        for minutes in windows:
            expected = _ratio(requests, errors, t, minutes)
            series = f'slo:sli_error:ratio_rate{prom_duration(minutes * 60)}{{gatepack_check="availability"}}'
            if math.isnan(expected):
                tests.append(_count(f"{series} == {series}", t, 0))  # NaN never equals itself: no ratio
            else:
                tests.append(_count(f"abs({series} - {expected!r}) < 1e-9", t, 1))

    flips: dict[str, list[tuple[int, bool]]] = {}
    for severity in ("page", "ticket"):
        states = [_holds(requests, errors, t, check, severity) for t in range(last + 1)]
        changes = [t for t in range(1, last + 1) if states[t] != states[t - 1]]
        flips[severity] = [(t, states[t]) for t in changes]
        for t in sorted({m for c in changes for m in (c - 1, c)} | {60, last}):
            alert = f'ALERTS{{alertname="{DEFAULT_ALERT_NAME}",alertstate="firing",sloth_severity="{severity}"}}'
            tests.append(_count(alert, t, int(states[t])))
    # The closed form itself must describe the scenario: the burst pages then resolves, the slow burn tickets.
    assert [s for _, s in flips["page"]] == [True, False]
    assert 75 < flips["page"][0][0] < 80 and 90 < flips["page"][1][0] < 100
    ticket_on = [t for t, s in flips["ticket"] if s]
    assert any(t > 240 for t in ticket_on)

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
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test_file, sort_keys=False))
    done = subprocess.run(
        [find_binary("promtool"), "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "SUCCESS" in done.stdout + done.stderr
    assert len(tests) > 60
