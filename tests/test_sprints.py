"""The sprint calendar (slo/sprints.py): due dates and states at pinned instants, and the file's problems.

Expected dates are written out by hand from the calendar (month lengths, leap years), or computed with
ordinal day numbers, never with the module's own ``timedelta`` arithmetic.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo.loader import SpecError
from slo.sprints import Calendar, Sprint, due_date, evidence_due, load_calendar
from tests.serverproc import ROOT


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2026-01-05", "2026-01-13"),  # within a month
        ("2026-01-28", "2026-02-05"),  # across January's 31st
        ("2026-04-25", "2026-05-03"),  # across April's 30th
        ("2027-02-25", "2027-03-05"),  # February of a common year: 28 days
        ("2028-02-25", "2028-03-04"),  # February of a leap year: 29 days
        ("2026-12-28", "2027-01-05"),  # across the year
    ],
)
def test_due_by_day_nine(start: str, due: str) -> None:
    assert due_date(date.fromisoformat(start)) == date.fromisoformat(due)


SPRINT = Sprint(id="2026.02", start=date(2026, 1, 28))  # day 9 is 2026-02-05


@pytest.mark.parametrize(
    ("now", "evidence", "state", "days_left"),
    [
        ("2026-01-27T23:59:59", None, "upcoming", None),
        ("2026-01-28T00:00:00", None, "due", 8),  # day 1
        ("2026-01-31T12:00:00", None, "due", 5),
        ("2026-02-05T00:00:00", None, "due", 0),  # day 9 itself
        ("2026-02-05T23:59:59", None, "due", 0),
        ("2026-02-06T00:00:00", None, "overdue", None),  # day 10
        ("2026-02-06T00:00:00", "2026-01-27T23:59:59", "overdue", None),  # last sprint's evidence does not count
        ("2026-02-06T00:00:00", "2026-01-28T00:00:00", "on_time", None),
        ("2026-02-20T00:00:00", "2026-02-05T23:59:59", "on_time", None),  # by the end of day 9
        ("2026-02-20T00:00:00", "2026-02-06T00:00:00", "late", None),
        ("2026-02-06T01:30:00+02:00", None, "due", 0),  # 23:30 UTC on day 9: the calendar is UTC
    ],
)
def test_states_at_the_boundaries(now: str, evidence: str | None, state: str, days_left: int | None) -> None:
    found = evidence_due(SPRINT, 9, at(now), at(evidence) if evidence else None)
    assert (found.state, found.days_left, found.due) == (state, days_left, date(2026, 2, 5))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        evidence_due(SPRINT, 9, datetime(2026, 2, 1), None)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=-5 * 86400, max_value=60 * 86400),
)
def test_states_agree_with_ordinal_arithmetic(start: date, due_day: int, offset: int) -> None:
    now = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(seconds=offset)
    due_ordinal = start.toordinal() + due_day - 1
    found = evidence_due(Sprint(id="s", start=start), due_day, now, None)
    assert found.due.toordinal() == due_ordinal
    today = now.date().toordinal()
    if today < start.toordinal():
        assert found.state == "upcoming"
    elif today <= due_ordinal:
        assert found.state == "due" and found.days_left == due_ordinal - today
    else:
        assert found.state == "overdue"


CALENDAR = """\
apiVersion: gatepack/v1
kind: Sprints
sprints:
  - id: "2026.01"
    start: 2026-01-05
    gates: [02-auth-shell]
  - id: "2026.02"
    start: 2026-01-19
"""


def test_a_calendar_and_which_sprint_a_gate_is_in() -> None:
    calendar = load_calendar(CALENDAR, "sprints.yaml")
    assert calendar.due_day == 9 and [s.start for s in calendar.sprints] == [date(2026, 1, 5), date(2026, 1, 19)]
    assert calendar.sprint_for("02-auth-shell", None).id == "2026.01"  # listed
    assert calendar.sprint_for("other", "2026.02").id == "2026.02"  # its own sprint field
    assert calendar.sprint_for("02-auth-shell", "2026.02").id == "2026.02"  # the gate's own field wins
    assert calendar.sprint_for("other", "2099.01") is None and calendar.sprint_for("other", None) is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (CALENDAR.replace("2026-01-19", "2026-02-30"), "sprints.yaml:8: sprints[1].start"),
        (
            CALENDAR.replace("    start: 2026-01-19\n", "    start: 2026-01-19\n    colour: red\n"),
            "sprints.yaml:9: sprints[1].colour",
        ),
        (CALENDAR.replace("kind: Sprints", "kind: Gate"), "sprints.yaml:2: kind"),
        (CALENDAR.replace('"2026.02"', '"2026.01"'), "sprints.yaml:1"),  # twice
        (CALENDAR + "    gates: [02-auth-shell]\n", "sprints.yaml:1"),  # one gate in two sprints
        (CALENDAR.replace("sprints:\n", "due_day: 0\nsprints:\n"), "sprints.yaml:3: due_day"),
        ("a: &x [1]\nb: *x\n", "sprints.yaml:2"),  # aliases refused
        ("- just a list\n", "sprints.yaml:1"),
        ("key: [unclosed\n", "sprints.yaml:2"),
    ],
)
def test_problems_name_the_file_and_line(text: str, where: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_calendar(text, "sprints.yaml")
    assert str(caught.value).startswith(where), str(caught.value)


@given(st.text(max_size=300))
def test_any_text_is_a_calendar_or_a_spec_error(text: str) -> None:
    try:
        assert isinstance(load_calendar(text, "f.yaml"), Calendar)
    except SpecError as exc:
        assert all(str(p).startswith("f.yaml:") for p in exc.problems)


def test_serve_exits_2_on_a_bad_calendar(tmp_path: Path) -> None:
    bad = tmp_path / "sprints.yaml"
    bad.write_text(CALENDAR.replace("2026-01-19", "2026-13-01"), encoding="utf-8")
    command = [sys.executable, "-m", "collector.cli", "serve", "--store", str(tmp_path / "e.db"), "--sprints", str(bad)]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2
    first = ran.stderr.splitlines()[0]
    assert first.startswith(f"{bad}:8: sprints[1].start: ") and "Traceback" not in ran.stderr


def test_non_utc_offsets_compare_as_instants() -> None:
    east = timezone(timedelta(hours=9))
    found = evidence_due(SPRINT, 9, datetime(2026, 2, 6, 8, 59, tzinfo=east), None)  # 23:59 UTC on day 9
    assert found.state == "due"


def test_the_documented_calendar_loads() -> None:
    import re

    text = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "kind: Sprints" in b]
    calendar = load_calendar(block, "docs/serve.md")
    assert calendar.sprint_for("02-auth-shell", None).start == date(2026, 1, 19)
