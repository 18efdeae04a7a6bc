"""Load-test inputs that must never pass: impossible durations, the same file twice, bucketed percentiles
reported below the tool's own, and hostile files that would exhaust memory.

Each test starts from a real tool's output (``contract_fixtures``) and breaks one thing in it; the expected
line numbers are counted in the test from the file it wrote.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collector.sources.loadtest import gatling, hey, jmeter, k6_csv, k6_ndjson, k6_summary, locust
from collector.sources.loadtest.detect import read_file
from collector.sources.loadtest.evaluator import evaluate, load
from collector.sources.loadtest.model import LoadtestFormatError
from slo.spec import LoadtestCheck
from tests.reliability_limits import python_limited, run_limited

GIB = 1024**3
MEMORY_MB = 1000  # the files below are 1.5 GiB: a reader that holds the file cannot stay under this


@pytest.fixture(scope="module")
def lt(contract_fixtures: Path) -> Path:
    return contract_fixtures / "loadtest"


def where(path: Path, line: int) -> str:
    return rf"^{re.escape(str(path))}:{line}: "


def check(**fields: object) -> LoadtestCheck:
    return LoadtestCheck.model_validate({"id": "c", "kind": "loadtest", **fields})


# ------------------------------------------------------------------------------ impossible durations


def _nth_duration_line(lines: list[str], n: int) -> int:
    """0-based index of the n-th http_req_duration Point line."""
    found = [i for i, line in enumerate(lines) if '"metric":"http_req_duration","type":"Point"' in line]
    return found[n]


@pytest.mark.parametrize("value", ["-5000", "-0.001"])
def test_k6_ndjson_negative_duration_names_file_and_line(lt: Path, tmp_path: Path, value: str) -> None:
    lines = (lt / "k6/generated-v1.1.0/metrics.ndjson").read_text().splitlines()
    at = _nth_duration_line(lines, 3)
    lines[at] = re.sub(r'"value":[0-9.e+-]+', f'"value":{value}', lines[at], count=1)
    path = tmp_path / "neg.ndjson"
    path.write_text("\n".join(lines) + "\n")
    for reader in (k6_ndjson.read, k6_ndjson.aggregate):
        with pytest.raises(LoadtestFormatError, match=where(path, at + 1) + r".*negative"):
            reader(path)


def test_k6_ndjson_negative_duration_on_the_last_line_is_not_forgiven_as_cut(lt: Path, tmp_path: Path) -> None:
    # re-serialised (other key order: the line-by-line path) and the bad point last, where a cut line is forgiven
    lines = [json.loads(x) for x in (lt / "k6/generated-v1.1.0/metrics.ndjson").read_text().splitlines()]
    durations = [d for d in lines if d.get("metric") == "http_req_duration" and d["type"] == "Point"]
    bad = json.loads(json.dumps(durations[0]))
    bad["data"]["value"] = -1
    path = tmp_path / "last.ndjson"
    path.write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in [*lines, bad]))
    with pytest.raises(LoadtestFormatError, match=where(path, len(lines) + 1) + r".*negative"):
        k6_ndjson.read(path)


def test_k6_ndjson_negative_duration_fails_the_ingest_with_exit_2(lt: Path, tmp_path: Path) -> None:
    lines = (lt / "k6/generated-v1.1.0/metrics.ndjson").read_text().splitlines()
    at = _nth_duration_line(lines, 0)
    lines[at] = re.sub(r'"value":[0-9.e+-]+', '"value":-5000', lines[at], count=1)
    path = tmp_path / "neg.ndjson"
    path.write_text("\n".join(lines) + "\n")
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: p\nchecks:\n"
        '  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<1000"}\n'
    )
    args = ["ingest", str(path), "--gate", "perf", "--spec", str(spec), "--out", str(tmp_path / "ev")]
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:{at + 1}:" in "".join(done.stderr.split())  # rich may wrap the long path
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ev").exists()


def test_jmeter_csv_negative_elapsed_on_half_the_rows(lt: Path, tmp_path: Path) -> None:
    lines = (lt / "jmeter/generated-2.13/results.jtl").read_text().splitlines()
    first_bad = None
    for i in range(1, len(lines)):
        if i % 2 == 0:
            fields = lines[i].split(",")
            fields[1] = f"-{fields[1]}"
            lines[i] = ",".join(fields)
            first_bad = first_bad or i + 1
    path = tmp_path / "neg.jtl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=where(path, first_bad) + r"elapsed is negative"):
        jmeter.read(path)


@pytest.mark.parametrize("value", ["-5", "Infinity", "NaN", "1e400"])
def test_jmeter_xml_impossible_elapsed_names_the_line(lt: Path, tmp_path: Path, value: str) -> None:
    lines = (lt / "jmeter/generated-2.13/results.xml").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.lstrip().startswith("<httpSample ")][2]
    lines[at] = re.sub(r' t="\d+"', f' t="{value}"', lines[at], count=1)
    path = tmp_path / "neg.xml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=where(path, at + 1)):
        jmeter.read(path)


@pytest.mark.parametrize("value", ["-15.3", "NaN", "inf", "-inf"])
def test_k6_csv_impossible_duration_names_the_line(lt: Path, tmp_path: Path, value: str) -> None:
    lines = (lt / "k6/generated-v1.1.0/metrics.csv").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("http_req_duration,")][4]
    fields = lines[at].split(",")
    fields[2] = value
    lines[at] = ",".join(fields)
    path = tmp_path / "neg.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=where(path, at + 1)):
        k6_csv.read(path)


@pytest.mark.parametrize("value", ["-0.0072", "inf", "nan"])
def test_hey_impossible_response_time_names_the_line(lt: Path, tmp_path: Path, value: str) -> None:
    lines = (lt / "hey/generated-0.1.4/hey.csv").read_text().splitlines()
    lines[7] = value + lines[7][lines[7].index(",") :]
    path = tmp_path / "neg.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=where(path, 8)):
        hey.read(path)


def test_gatling_text_response_before_request_names_the_line(lt: Path, tmp_path: Path) -> None:
    lines = (lt / "gatling/taurus-3.5.1-text/simulation.log").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("REQUEST")][1]
    fields = lines[at].split("\t")
    status = next(i for i, f in enumerate(fields) if f in ("OK", "KO"))
    fields[status - 2], fields[status - 1] = fields[status - 1], str(int(fields[status - 2]) - 1000)
    lines[at] = "\t".join(fields)
    path = tmp_path / "simulation.log"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadtestFormatError, match=where(path, at + 1) + r".*negative duration"):
        gatling.read(path)


def test_locust_negative_histogram_bucket_is_refused(lt: Path, tmp_path: Path) -> None:
    report = json.loads((lt / "locust/generated-2.47.0/report.json").read_text())
    histogram = report[0]["response_times"]
    key = next(iter(histogram))
    histogram[f"-{key}"] = histogram.pop(key)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    with pytest.raises(LoadtestFormatError, match=r"entry 1 .*negative or not finite"):
        locust.read(path)


def test_k6_summary_negative_trend_is_refused(lt: Path, tmp_path: Path) -> None:
    summary = json.loads((lt / "k6/generated-v1.1.0/summary_export.json").read_text())
    summary["metrics"]["http_req_duration"]["p(95)"] = -5000
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    with pytest.raises(LoadtestFormatError, match=r"'http_req_duration': p\(95\) is negative"):
        k6_summary.read(path)


# ------------------------------------------------------------------------------ the same file twice


def test_the_same_file_twice_is_refused(lt: Path, tmp_path: Path) -> None:
    source = lt / "hey/generated-0.1.4/hey.csv"
    copy = tmp_path / "renamed.csv"
    shutil.copyfile(source, copy)
    for paths in ([source, source], [source, copy]):
        with pytest.raises(LoadtestFormatError, match=r"same content as .*given twice"):
            load(paths)
    assert load([source]).requests is not None  # one copy is fine


def test_the_same_file_twice_exits_2_through_the_cli(lt: Path, tmp_path: Path) -> None:
    source = lt / "k6/generated-v1.1.0/metrics.ndjson"
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: p\nchecks:\n"
        '  - {id: volume, kind: loadtest, metric: requests, threshold: "count>0"}\n'
    )
    args = ["ingest", str(source), str(source), "--gate", "perf", "--spec", str(spec), "--out", str(tmp_path / "ev")]
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "given twice" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ Locust's own percentiles

FRACTIONS = {50.0: 0.5, 66.0: 0.66, 75.0: 0.75, 80.0: 0.8, 90.0: 0.9, 95.0: 0.95, 98.0: 0.98, 99.0: 0.99}


def _locusts_own(histograms: list[dict[str, int]], totals: list[int]) -> list[list[int]]:
    """Locust's percentile function over its own report's histograms (child process: locust patches gevent)."""
    code = (
        "import json, sys\n"
        "from locust.stats import calculate_response_time_percentile as p\n"
        "hs, ns, fs = json.load(sys.stdin)\n"
        "print(json.dumps([[p({int(k): v for k, v in h.items()}, n, f) for f in fs] for h, n in zip(hs, ns)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([histograms, totals, list(FRACTIONS.values())]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_locust_json_reports_locusts_own_percentiles(lt: Path) -> None:
    path = lt / "locust/generated-2.47.0/report.json"
    report = json.loads(path.read_text())
    entries = [e for e in report if e["num_requests"] - e.get("num_none_requests", 0) > 0]
    own = _locusts_own([e["response_times"] for e in entries], [e["num_requests"] for e in entries])
    data = load([path])
    for entry, expected in zip(entries, own, strict=True):
        for p, value in zip(FRACTIONS, expected, strict=True):
            result = evaluate(data, check(metric="latency", label=entry["name"], threshold=f"p({p:g})<1e9"), "t")
            assert result.value == value, (entry["name"], p, result.value, value)
            assert "holds response times in" in result.details["source"]
    precision = evaluate(data, check(metric="latency", threshold="p(95)<1e9"), "t").details["precision"]
    assert "[v-5, v+5)" in precision and "Locust's own" in precision


def test_locust_percentile_is_never_interpolated_below_the_bucket() -> None:
    # 100 requests: 90 at 100 ms, 10 at 120 ms. Locust reports p(95) = 120 ms; k6's interpolation over
    # the same buckets gives 120 too only at ranks >= 90, but p(90) interpolates to 100 + 0.1 * 20 = 102.
    import numpy as np

    values, weights = np.array([100.0, 120.0]), np.array([90, 10])
    assert locust.locust_percentile(values, weights, 95) == 120.0
    assert locust.locust_percentile(values, weights, 90) == 120.0  # rank int(100 * 0.9) = 90: the 91st request
    assert locust.locust_percentile(values, weights, 89) == 100.0
    assert locust.locust_percentile(values, weights, 100) == 120.0


# ------------------------------------------------------------------------------ bounded memory


def _sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """``head``, then zero bytes (sparse: no disk, no time) up to ``size``, then ``tail``."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
        fh.seek(size)
        fh.write(tail)
    return path


def _read_limited(path: Path, forced: str | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from collector.sources.loadtest.detect import read_file\n"
        "from slo.errors import GatepackError\n"
        "try:\n"
        f"    read_file(Path({str(path)!r}), {forced!r})\n"
        "except GatepackError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('read')\n"
    )
    return python_limited(code, MEMORY_MB, timeout=60)


def test_one_huge_line_in_k6_ndjson_is_refused_in_bounded_memory(lt: Path, tmp_path: Path) -> None:
    first = (lt / "k6/generated-v1.1.0/metrics.ndjson").read_text().splitlines()[0].encode() + b"\n"
    path = _sparse(tmp_path / "huge.ndjson", first, int(1.5 * GIB), b"}\n")
    done = _read_limited(path)
    assert done.returncode == 0, done.stderr[-800:]
    assert f"refused: {path}:2: line longer than" in done.stdout


def test_one_huge_line_in_jmeter_csv_is_refused_in_bounded_memory(lt: Path, tmp_path: Path) -> None:
    header = (lt / "jmeter/generated-2.13/results.jtl").read_text().splitlines()[0].encode() + b"\n"
    path = _sparse(tmp_path / "huge.jtl", header + b"1795483994013,64,", int(1.5 * GIB), b"\n")
    done = _read_limited(path)
    assert done.returncode == 0, done.stderr[-800:]
    assert f"refused: {path}:2: line longer than" in done.stdout


def test_jmeter_header_then_garbage_is_refused_in_bounded_memory(lt: Path, tmp_path: Path) -> None:
    lines = (lt / "jmeter/generated-2.13/results.jtl").read_text().splitlines()
    good = ("\n".join(lines[:20]) + "\n").encode()
    # 1.5 GiB of garbage rows: zero bytes with a newline every 64 KiB (sparse apart from the newlines)
    path = tmp_path / "garbage.jtl"
    size = int(1.5 * GIB)
    with path.open("wb") as fh:
        fh.write(good)
        fh.truncate(size)
        for offset in range(len(good) + (64 << 10), size, 64 << 10):
            fh.seek(offset)
            fh.write(b"\n")
    done = _read_limited(path)
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.startswith(f"refused: {path}:"), done.stdout


def test_jmeter_xml_garbage_is_refused_in_bounded_memory(lt: Path, tmp_path: Path) -> None:
    head = (lt / "jmeter/generated-2.13/results.xml").read_bytes()[:4000]
    head = head[: head.rindex(b"</httpSample>") + len(b"</httpSample>\n")]
    path = _sparse(tmp_path / "garbage.xml", head + b"<httpSample ", int(1.5 * GIB))
    done = _read_limited(path)
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.startswith(f"refused: {path}:"), done.stdout


@pytest.mark.parametrize(
    ("name", "head", "forced"),
    [
        (
            "hey.csv",
            b"response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset\n",
            None,
        ),
        ("k6.csv", b"metric_name,timestamp,metric_value\n", None),
        ("sim.log", b"RUN\tsim\tsim\t1617110480000\t \t3.5.1\n", None),
        ("report.json", b'[{"name": "x", "response_times": {', None),
        ("summary.json", b'{"metrics": {', None),
        ("bin.log", b"\x00", "gatling"),
    ],
)
def test_every_reader_refuses_a_huge_bad_file_in_bounded_memory(
    tmp_path: Path, name: str, head: bytes, forced: str | None
) -> None:
    path = _sparse(tmp_path / name, head, int(1.5 * GIB))
    done = _read_limited(path, forced)
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.startswith("refused: "), done.stdout


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_even_with_a_forced_format(device: str) -> None:
    for forced in (None, "k6-ndjson", "jmeter", "hey", "gatling", "locust"):
        with pytest.raises(LoadtestFormatError, match="not a regular file"):
            read_file(Path(device), forced)


def test_ingest_of_a_huge_line_exits_2_within_the_limit(lt: Path, tmp_path: Path) -> None:
    header = (lt / "hey/generated-0.1.4/hey.csv").read_text().splitlines()[0].encode() + b"\n"
    path = _sparse(tmp_path / "huge.csv", header, int(1.5 * GIB), b"\n")
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: p\nchecks:\n"
        '  - {id: volume, kind: loadtest, metric: requests, threshold: "count>0"}\n'
    )
    done = run_limited(["ingest", str(path), "--gate", "perf", "--spec", str(spec)], MEMORY_MB, timeout=60)
    assert done.returncode == 2, done.stderr[-800:]
    assert "line longer than" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
