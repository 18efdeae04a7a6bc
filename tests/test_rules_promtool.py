"""`promtool test rules` over a history with a known error ratio per minute, expectations from a closed form.

The history (tests/rules_history.py, one sample per minute): quiet, a page burst, a recovery, a
ticket-level slow burn, then no traffic at all. For every recorded window the expected ratio
at minute t is (E[t] - E[t-W]) / (R[t] - R[t-W]) over the samples inside the window (Prometheus'
extrapolation scales both counters alike, so it cancels: both counters start far from zero on purpose).
Each alert's expected state at minute t is its multi-window condition evaluated on those ratios. The test
asserts the ratios at chosen minutes and each alert's state at every minute where the closed form says it
flips (and the minute before), so firing and resolving times are checked, not just "it fired".
"""

from __future__ import annotations

import math
from pathlib import Path

from slo.durations import parse_duration
from slo.generate.rules import DEFAULT_ALERT_NAME, prom_duration, rules_document
from slo.promql.plan import conditions_for
from slo.spec import SloCheck
from tests.rules_history import closed_form_gate, count_test, counters, holds, promtool_test_rules, ratio


def test_recorded_ratios_and_alert_times_match_the_closed_form(prometheus_binaries: None, tmp_path: Path) -> None:
    gate = closed_form_gate()
    check = gate.checks[0]
    assert isinstance(check, SloCheck)
    requests, errors = counters()
    last = len(requests) - 1
    document = rules_document([gate])

    tests: list[dict[str, object]] = []
    windows = sorted({parse_duration(w) // 60 for c in conditions_for(check) for w in (c.long, c.short, check.period)})
    probe_minutes = [30, 62, 75, 90, 95, 120, 200, 260, 300, 400, 540, 560, 600, last]
    for t in probe_minutes:
        for minutes in windows:
            expected = ratio(requests, errors, t, minutes)
            series = f'slo:sli_error:ratio_rate{prom_duration(minutes * 60)}{{gatepack_check="availability"}}'
            if math.isnan(expected):
                tests.append(count_test(f"{series} == {series}", t, 0))  # NaN never equals itself: no ratio
            else:
                tests.append(count_test(f"abs({series} - {expected!r}) < 1e-9", t, 1))

    flips: dict[str, list[tuple[int, bool]]] = {}
    for severity in ("page", "ticket"):
        states = [holds(requests, errors, t, check, severity) for t in range(last + 1)]
        changes = [t for t in range(1, last + 1) if states[t] != states[t - 1]]
        flips[severity] = [(t, states[t]) for t in changes]
        for t in sorted({m for c in changes for m in (c - 1, c)} | {60, last}):
            alert = f'ALERTS{{alertname="{DEFAULT_ALERT_NAME}",alertstate="firing",sloth_severity="{severity}"}}'
            tests.append(count_test(alert, t, int(states[t])))
    # The closed form itself must describe the scenario: the burst pages then resolves, the slow burn tickets.
    assert [s for _, s in flips["page"]] == [True, False]
    assert 75 < flips["page"][0][0] < 80 and 90 < flips["page"][1][0] < 100
    ticket_on = [t for t, s in flips["ticket"] if s]
    assert any(t > 240 for t in ticket_on)

    done = promtool_test_rules(tmp_path, document, tests)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "SUCCESS" in done.stdout + done.stderr
    assert len(tests) > 60
