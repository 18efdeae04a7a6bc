"""Gatling reader against real simulation.log files (text and binary) and HTML-report stats.json.

Text logs are re-split here with str.split; binary logs are checked against the figures Gatling's own
LogFileReaderSpec asserts and the counts listed in the fixtures' SOURCES.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from collector.sources.loadtest import gatling
from collector.sources.loadtest.model import LoadtestFormatError


@pytest.fixture(scope="module")
def logs(contract_fixtures: Path) -> Path:
    return contract_fixtures / "loadtest" / "gatling"


def text_truth(path: Path) -> list[tuple[str, int, bool]]:
    """(name, duration ms, ok) of every REQUEST line: these layouts put name, start, end, status last-but-n."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split("\t")
        if f[0] == "REQUEST":
            status = next(i for i, v in enumerate(f) if v in ("OK", "KO"))
            out.append((f[status - 3], int(f[status - 1]) - int(f[status - 2]), f[status] == "OK"))
    return out


@pytest.mark.parametrize(
    "name",
    [
        "gatling-text-2.0-known_stats",
        "taurus-3.3.1-text",
        "taurus-3.5.1-text",
        "taurus-3.x-text-KO",
    ],
)
def test_text_logs_match_split(logs: Path, name: str) -> None:
    path = logs / name / "simulation.log"
    assert gatling.sniff(path.read_bytes()[:4096], path)
    truth = text_truth(path)
    result = gatling.read(path)
    req = result.requests
    assert result.format == "gatling-log" and len(req) == len(truth) > 0
    assert int((~req["ok"]).sum()) == sum(not ok for _, _, ok in truth)
    np.testing.assert_allclose(np.sort(req["duration"]), np.sort([ms / 1000 for _, ms, _ in truth]))
    assert sorted(req["label"]) == sorted(n for n, _, _ in truth)


def test_text_ko_keeps_check_message(logs: Path) -> None:
    req = gatling.read(logs / "taurus-3.x-text-KO/simulation.log").requests
    assert not req["ok"].any()
    assert any("but actually found 400" in m for m in req["message"])


def test_text_2_0_known_stats(logs: Path) -> None:
    req = gatling.read(logs / "gatling-text-2.0-known_stats/simulation.log").requests
    assert len(req) == 8 and req["ok"].all()
    assert req["duration"].min() == 2.0 and req["duration"].max() == 9.0


def test_binary_known_stats(logs: Path) -> None:
    """Gatling's LogFileReaderSpec: 105 REQUEST records, 1 KO, min 87, max 368, p70 113, p99 = max."""
    path = logs / "gatling-binary-known_stats/simulation.log"
    assert gatling.sniff(path.read_bytes()[:4096], path)
    result = gatling.read(path)
    req = result.requests
    ms = np.rint(req["duration"].to_numpy() * 1000)
    assert result.format == "gatling-log-binary" and len(req) == 105
    assert int((~req["ok"]).sum()) == 1
    assert ms.min() == 87 and ms.max() == 368
    assert np.percentile(ms, 70) == 113
    assert np.percentile(ms, 99, method="inverted_cdf") == 368  # Gatling ranks: nearest-rank percentile
    ko = req[~req["ok"]]
    assert ko["label"].iloc[0] == "Post Redirect 1" and "found 200" in ko["message"].iloc[0]
    assert "3.12.1" in (result.precision or "")
    # timestamps are absolute: run start from the header + relative offsets
    assert 1.7e9 < req["timestamp"].min() < req["timestamp"].max() < 1.8e9


def test_binary_3_14(logs: Path) -> None:
    req = gatling.read(logs / "taurus-3.14.3-binary/simulation.log").requests
    ms = np.rint(req["duration"].to_numpy() * 1000)
    assert len(req) == 39 and req["ok"].all()
    assert ms.min() == 51 and ms.max() == 494
    assert "request_0 Redirect 1" in set(req["label"])


def test_binary_groups_not_counted(logs: Path) -> None:
    result = gatling.read(logs / "taurus-3.14.3-binary-groups/simulation.log")
    req = result.requests
    assert len(req) == 25 and req["ok"].all()
    assert set(req["group"]) == {"HttpBin Group"}
    assert any(n.startswith("7 GROUP") for n in result.notes)


@pytest.mark.parametrize("name", ["stats.json", "global_stats.json"])
def test_stats_json(logs: Path, name: str) -> None:
    path = logs / "gatling-check-plugin/js" / name
    doc = json.loads(path.read_text())
    stats = doc.get("stats", doc)
    assert gatling.sniff(path.read_bytes()[:4096], path)
    result = gatling.read(path)
    assert result.requests is None and result.precision and "pre-aggregated" in result.precision
    dur = result.metrics["http_req_duration"].values
    assert dur["count"] == stats["numberOfRequests"]["total"]
    assert dur["p(95)"] == stats["percentiles3"]["total"] and dur["p(99)"] == stats["percentiles4"]["total"]
    assert dur["max"] == stats["maxResponseTime"]["total"]
    failed = result.metrics["http_req_failed"].values
    assert failed["rate"] == stats["numberOfRequests"]["ko"] / stats["numberOfRequests"]["total"]
    for child in (doc.get("contents") or {}).values():
        sub = result.metrics[f"http_req_duration{{name:{child['path']}}}"].values
        assert sub["count"] == child["stats"]["numberOfRequests"]["total"]
        assert sub["p(95)"] == child["stats"]["percentiles3"]["total"]


def test_bad_input(logs: Path, tmp_path: Path) -> None:
    empty = tmp_path / "simulation.log"
    empty.write_bytes(b"")
    with pytest.raises(LoadtestFormatError, match="empty file"):
        gatling.read(empty)

    data = (logs / "gatling-binary-known_stats/simulation.log").read_bytes()
    cut = tmp_path / "cut.log"
    cut.write_bytes(data[: len(data) - 7])
    with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(cut))}: binary log cut short"):
        gatling.read(cut)

    lines = (logs / "taurus-3.5.1-text/simulation.log").read_text().splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("REQUEST"))
    lines[where] = lines[where].split("\tOK")[0][:-5]
    text = tmp_path / "text.log"
    text.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(text))}:{where + 1}: REQUEST record"):
        gatling.read(text)

    junk = tmp_path / "junk.log"
    junk.write_text("hello\n")
    with pytest.raises(LoadtestFormatError, match="not a Gatling"):
        gatling.read(junk)
