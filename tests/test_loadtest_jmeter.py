"""JMeter JTL reader against real JTL files; expectations are recomputed here with csv/ElementTree/numpy."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from collector.sources.loadtest import jmeter
from collector.sources.loadtest.model import LoadtestFormatError

TC = re.compile(r"^Number of samples in transaction")


@pytest.fixture(scope="module")
def jtl(contract_fixtures: Path) -> Path:
    return contract_fixtures / "loadtest" / "jmeter"


def csv_truth(path: Path, delimiter: str = ",") -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(request rows, Transaction Controller rows) straight from the csv module."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=delimiter))
    tc = [r for r in rows if TC.match(r.get("responseMessage") or "")]
    return [r for r in rows if r not in tc], tc


CSV_FILES = [
    ("apache-jmeter/HTMLReportTestFile.csv", ","),
    ("apache-jmeter/HTMLReportFalseTestFile.csv", ","),
    ("taurus/simple.kpi.jtl", ","),
    ("taurus/kpi1.jtl", ","),
    ("taurus/kpi-pair1.jtl", ","),
    ("taurus/500-success-kpi.jtl", ","),
    ("taurus/embedded-resources-kpi.jtl", ","),
    ("taurus/tabs.jtl", "\t"),
    ("taurus/unicode.jtl", ","),
    ("taurus/doublequoting.jtl", ","),
    ("generated-2.13/results.jtl", ","),
]


@pytest.mark.parametrize(("name", "delimiter"), CSV_FILES)
def test_csv_matches_csv_module(jtl: Path, name: str, delimiter: str) -> None:
    path = jtl / name
    assert jmeter.sniff(path.read_bytes()[:4096], path)
    rows, _ = csv_truth(path, delimiter)
    result = jmeter.read(path)
    req = result.requests
    assert result.tool == "jmeter" and result.format == "jmeter-csv"
    assert len(req) == len(rows)
    assert int((~req["ok"]).sum()) == sum(r["success"] == "false" for r in rows)
    np.testing.assert_array_equal(
        np.sort(req["duration"].to_numpy()), np.sort([int(r["elapsed"]) / 1000 for r in rows])
    )
    assert Counter(req["label"]) == Counter(r["label"] for r in rows)
    np.testing.assert_allclose(req["timestamp"].min(), min(int(r["timeStamp"]) for r in rows) / 1000)
    durations = np.array([int(r["elapsed"]) for r in rows], dtype=float) / 1000
    assert np.percentile(req["duration"], 95) == pytest.approx(np.percentile(durations, 95))


def test_success_decides_failure_not_status(jtl: Path) -> None:
    ok_500 = jmeter.read(jtl / "taurus/500-success-kpi.jtl").requests
    assert list(ok_500["status"]) == ["500"] and bool(ok_500["ok"].iloc[0])
    failed_200 = jmeter.read(jtl / "taurus/embedded-resources-kpi.jtl").requests
    assert list(failed_200["status"]) == ["200"] and not bool(failed_200["ok"].iloc[0])
    # non-HTTP response code text is kept as status, the row is a failure
    pair = jmeter.read(jtl / "taurus/kpi-pair1.jtl").requests
    unknown_host = pair[pair["label"] == "not exist url"]
    assert unknown_host["status"].iloc[0].startswith("Non HTTP response code") and not unknown_host["ok"].iloc[0]


def test_transaction_controller_rows_not_counted(jtl: Path) -> None:
    path = jtl / "generated-2.13/results.jtl"
    rows, tc = csv_truth(path)
    result = jmeter.read(path)
    assert len(tc) == 61 and len(result.requests) == len(rows) == 373
    assert not result.requests["label"].str.startswith("TX ").any()
    assert any("61 Transaction Controller" in n for n in result.notes)
    # JMeter's summariser double-counts: its "summary = 434 … Err: 135" includes the 61 TC rows
    summary = (jtl / "generated-2.13/jmeter_stdout.txt").read_text()
    total, errors = map(int, re.search(r"summary =\s+(\d+) in .*Err:\s+(\d+)", summary).groups())
    tc_failed = sum(r["success"] == "false" for r in tc)
    assert len(result.requests) == total - len(tc)
    assert int((~result.requests["ok"]).sum()) == errors - tc_failed


def test_generated_run_agrees_with_server_log(jtl: Path) -> None:
    """Server-side truth: each JMeter request the server saw once (redirect hops aside)."""
    req = jmeter.read(jtl / "generated-2.13/results.jtl").requests
    with (jtl / "generated-2.13/server_access_log.csv").open() as fh:
        server = Counter((r["path"], r["status"]) for r in csv.DictReader(fh))
    assert (req["label"] == "GET /flaky").sum() == server["/flaky", "200"] + server["/flaky", "500"]
    flaky = req[req["label"] == "GET /flaky"]
    assert (flaky["status"] == "500").sum() == server["/flaky", "500"]
    assert (req["label"] == "GET /missing").sum() == server["/missing", "404"]
    assert (req["label"] == "POST /api/items").sum() == server["/api/items", "201"]
    # duration assertion failures on 200s (GET /slow > 150 ms) count as failures
    slow = req[req["label"] == "GET /slow"]
    assert ((slow["status"] == "200") & ~slow["ok"]).sum() == 5


def test_only_tc_rows_kept_as_transactions(jtl: Path) -> None:
    rows, tc = csv_truth(jtl / "taurus/tranctl.jtl")
    result = jmeter.read(jtl / "taurus/tranctl.jtl")
    assert not rows and len(result.requests) == len(tc) == 2
    assert int((~result.requests["ok"]).sum()) == 1
    assert any("only Transaction Controller" in n for n in result.notes)


def xml_truth(path: Path) -> list[ET.Element]:
    """Requests per JMeter semantics: TC samples unwrapped (recursively), sub-results not counted."""
    out: list[ET.Element] = []

    def visit(el: ET.Element) -> None:
        kids = [c for c in el if c.tag in ("httpSample", "sample")]
        if TC.match(el.get("rm", "")) or (el.tag == "sample" and kids):
            for kid in kids:
                visit(kid)
        else:
            out.append(el)

    for el in ET.parse(path).getroot():
        if el.tag in ("httpSample", "sample"):
            visit(el)
    return out


@pytest.mark.parametrize(
    "name",
    [
        "apache-jmeter/sample_log1c.jtl",
        "generated-2.13/results.xml",
        "taurus/error-tc-generate-parent.jtl",
        "taurus/resource_tc.jtl",
        "taurus/simple.error.jtl",
    ],
)
def test_xml_matches_elementtree(jtl: Path, name: str) -> None:
    path = jtl / name
    assert jmeter.sniff(path.read_bytes()[:4096], path)
    truth = xml_truth(path)
    req = jmeter.read(path).requests
    assert len(req) == len(truth)
    assert int((~req["ok"]).sum()) == sum(e.get("s") == "false" for e in truth)
    np.testing.assert_array_equal(np.sort(req["duration"]), np.sort([int(e.get("t")) / 1000 for e in truth]))
    assert Counter(req["label"]) == Counter(e.get("lb") for e in truth)


def test_xml_generate_parent_and_subresults(jtl: Path) -> None:
    # read by eye: 01_LoginPage → blazedemo, (Parallel Controller →) graphql, channelsearch; 02 → 3; 03_Health
    req = jmeter.read(jtl / "taurus/error-tc-generate-parent.jtl").requests
    assert len(req) == 7 and int((~req["ok"]).sum()) == 4
    assert "01_LoginPage" not in set(req["label"]) and "bzm - Parallel Controller" not in set(req["label"])
    # redirect hops are sub-results of one request: XML and CSV of the same run agree
    csv_req = jmeter.read(jtl / "generated-2.13/results.jtl").requests
    xml_req = jmeter.read(jtl / "generated-2.13/results.xml").requests
    assert len(xml_req) == len(csv_req) and Counter(xml_req["label"]) == Counter(csv_req["label"])
    assert int((~xml_req["ok"]).sum()) == int((~csv_req["ok"]).sum())
    assert sorted(xml_req["duration"]) == sorted(csv_req["duration"])


def test_sample_log1c_percentiles(jtl: Path) -> None:
    root = ET.parse(jtl / "apache-jmeter/sample_log1c.jtl").getroot()
    req = jmeter.read(jtl / "apache-jmeter/sample_log1c.jtl").requests
    for label in ("jakarta_home", "jmeter_home"):
        t = np.array([int(e.get("t")) for e in root if e.get("lb") == label]) / 1000
        got = req.loc[req["label"] == label, "duration"]
        assert len(got) == len(t) == 1000
        assert np.percentile(got, [95, 99]) == pytest.approx(np.percentile(t, [95, 99]))


@pytest.mark.parametrize("delimiter", [";", "|", "\t"])
def test_any_delimiter(jtl: Path, tmp_path: Path, delimiter: str) -> None:
    source = jtl / "apache-jmeter/HTMLReportTestFile.csv"
    with source.open(newline="") as fh:
        rows = list(csv.reader(fh))
    path = tmp_path / "other.jtl"
    with path.open("w", newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    assert jmeter.sniff(path.read_bytes()[:4096], path)
    got, want = jmeter.read(path).requests, jmeter.read(source).requests
    assert got[["label", "status", "ok", "duration", "timestamp"]].equals(
        want[["label", "status", "ok", "duration", "timestamp"]]
    )


def test_date_formatted_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "dates.jtl"
    path.write_text(
        "timeStamp,elapsed,label,responseCode,success\n"
        "2019/03/05 12:00:27.191,351,a,200,true\n"
        "2019/03/05 12:00:28.000,10,a,500,false\n"
    )
    req = jmeter.read(path).requests
    assert req["timestamp"].iloc[0] == pytest.approx(1551787227.191)
    assert list(req["ok"]) == [True, False]


def test_missing_column_is_an_error(jtl: Path, tmp_path: Path) -> None:
    with (jtl / "taurus/kpi1.jtl").open(newline="") as fh:
        rows = list(csv.reader(fh))
    drop = rows[0].index("elapsed")
    path = tmp_path / "noelapsed.jtl"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([r[:drop] + r[drop + 1 :] for r in rows])
    with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(path))}:1: .*elapsed"):
        jmeter.read(path)
    success_less = tmp_path / "nosuccess.jtl"
    success_less.write_text("timeStamp,elapsed,label\n1,2,a\n")
    with pytest.raises(LoadtestFormatError, match=r":1: .*success"):
        jmeter.read(success_less)


def test_bad_rows_name_the_line(jtl: Path, tmp_path: Path) -> None:
    lines = (jtl / "taurus/kpi1.jtl").read_text().splitlines()
    cut = tmp_path / "cut.jtl"
    cut.write_text("\n".join([*lines[:-1], lines[-1][:20]]) + "\n")  # last row cut mid-write
    with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(cut))}:{len(lines)}:"):
        jmeter.read(cut)
    bad = tmp_path / "bad.jtl"
    bad.write_text("\n".join([lines[0], lines[1], lines[2].replace(",3,", ",x3,", 1), *lines[3:]]) + "\n")
    with pytest.raises(LoadtestFormatError, match=r":3: elapsed is not a number"):
        jmeter.read(bad)


def test_empty_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jtl"
    empty.write_bytes(b"")
    with pytest.raises(LoadtestFormatError, match="empty file"):
        jmeter.read(empty)
    header = tmp_path / "header.jtl"
    header.write_text("timeStamp,elapsed,label,responseCode,success\n")
    result = jmeter.read(header)
    assert result.requests is not None and result.requests.empty and result.notes


def test_malformed_xml(jtl: Path, tmp_path: Path) -> None:
    text = (jtl / "taurus/simple.error.jtl").read_text()
    path = tmp_path / "cut.jtl"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(path))}:\d+: malformed JMeter XML"):
        jmeter.read(path)
