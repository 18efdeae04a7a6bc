"""JMeter JTL reader: CSV (any delimiter JMeter can be set to) and XML.

Two JMeter habits make naive counting wrong, and both are handled here:

* Transaction Controllers write an extra sample per transaction ("Number of samples in transaction : N,
  number of failing samples : M" in responseMessage). JMeter's own summariser counts it as a request, so
  its totals double-count. Those rows are dropped (and counted in ``notes``); in XML's "generate parent
  sample" mode the parent is dropped and its children are the requests.
* An HTTP sample may carry sub-results (redirect hops, embedded resources). They are part of the one
  request the user asked for and are not counted separately.

``success`` decides failure, never the status code: an assertion can fail a 200 and pass a 500.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd

from collector.sources.loadtest.common import bounded_lines, check_durations, ensure_regular
from collector.sources.loadtest.common import read_csv as read_table
from collector.sources.loadtest.model import REQUEST_COLUMNS, LoadtestFormatError, LoadtestResult

TC_MESSAGE = re.compile(r"Number of samples in transaction\s*:\s*\d+\s*,\s*number of failing samples\s*:\s*\d+")
"""What JMeter writes as responseMessage of a Transaction Controller sample."""

REQUIRED = ("timeStamp", "elapsed", "label", "success")
DELIMITERS = (",", "\t", ";", "|", "^", ":", "!", "~")
XML_SAMPLE_TAGS = ("httpSample", "sample")


def sniff(head: bytes, path: Path) -> bool:
    """A JTL: XML ``<testResults`` or a CSV header line naming timeStamp and elapsed."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<?xml") or text.startswith(b"<testResults"):
        return b"<testResults" in text[:2000]
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    return _delimiter(first) is not None


def read(path: Path) -> LoadtestResult:
    """Read a JTL file in either form; raises :class:`LoadtestFormatError` naming file and line."""
    path = Path(path)
    ensure_regular(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror}") from None
    if not head.strip():
        raise LoadtestFormatError(f"{path}: empty file, no JMeter samples")
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return read_xml(path)
    return read_csv(path)


def _delimiter(header: str) -> str | None:
    """The delimiter that splits the header into JMeter's column names (JMeter writes no quoting there)."""
    for delim in DELIMITERS:
        names = [n.strip() for n in header.strip("\r\n").split(delim)]
        if "timeStamp" in names and "elapsed" in names:
            return delim
    return None


def read_csv(path: Path) -> LoadtestResult:
    """CSV JTL with header, streamed in chunks that are checked as they arrive (see ``common.read_csv``)."""
    with bounded_lines(path) as fh:
        header = fh.readline().decode("utf-8-sig", "replace")
    delim = _delimiter(header)
    if delim is None:
        raise LoadtestFormatError(
            f"{path}:1: not a JMeter CSV header (needs timeStamp and elapsed columns; headerless JTL is not supported)"
        )
    names = [n.strip() for n in header.strip("\r\n").split(delim)]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise LoadtestFormatError(f"{path}:1: JMeter CSV header lacks column(s) {', '.join(missing)}")
    frame = read_table(path, REQUIRED, sep=delim, numeric=("elapsed",))
    return _from_frame(path, frame, names, "jmeter-csv")


def _line_of(position: int) -> int:
    """1-based file line of a data row (header is line 1; exact unless quoted fields span lines)."""
    return position + 2


def _numbers(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & (raw != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise LoadtestFormatError(f"{path}:{_line_of(pos)}: {column} is not a number: {raw.iloc[pos]!r}")
    return values.to_numpy(dtype=float)


def _timestamps(path: Path, frame: pd.DataFrame) -> np.ndarray:
    """Epoch milliseconds (JMeter's default) or a date format (jmeter.save.saveservice.timestamp_format)."""
    raw = frame["timeStamp"].str.strip()
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=float) / 1000.0
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
    bad = parsed.isna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise LoadtestFormatError(f"{path}:{_line_of(pos)}: timeStamp not understood: {raw.iloc[pos]!r}")
    # A JMeter date format carries no zone: it is the load generator's local time, read here as UTC.
    return ((parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


def _success(path: Path, frame: pd.DataFrame) -> np.ndarray:
    raw = frame["success"].str.strip().str.lower()
    bad = ~raw.isin(["true", "false"])
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise LoadtestFormatError(f"{path}:{_line_of(pos)}: success is not true/false: {raw.iloc[pos]!r}")
    return (raw == "true").to_numpy()


def _from_frame(path: Path, frame: pd.DataFrame, names: list[str], fmt: str) -> LoadtestResult:
    notes: list[str] = []
    if len(frame) == 0:
        return LoadtestResult(
            tool="jmeter", format=fmt, source=path, requests=_empty(), notes=["no samples after the header"]
        )
    elapsed = _numbers(path, frame, "elapsed")
    if np.isnan(elapsed).any():
        pos = int(np.flatnonzero(np.isnan(elapsed))[0])
        raise LoadtestFormatError(f"{path}:{_line_of(pos)}: elapsed is empty (row cut short?)")
    check_durations(path, elapsed, None, "elapsed")
    ok = _success(path, frame)
    message = frame["responseMessage"] if "responseMessage" in frame else pd.Series("", index=frame.index)
    is_tc = message.str.contains(TC_MESSAGE, na=False).to_numpy()
    status = frame["responseCode"].str.strip() if "responseCode" in frame else pd.Series("", index=frame.index)
    size = _numbers(path, frame, "bytes") if "bytes" in frame else np.full(len(frame), np.nan)
    requests = pd.DataFrame(
        {
            "timestamp": _timestamps(path, frame),
            "label": frame["label"].astype(str).to_numpy(),
            "method": "",
            "status": status.to_numpy(),
            "ok": ok,
            "duration": elapsed / 1000.0,
            "bytes": size,
            "count": np.ones(len(frame), dtype="int64"),
        }
    )
    for extra in ("threadName", "Hostname", "URL"):
        if extra in frame:
            requests[extra] = frame[extra].astype(str).to_numpy()
    if is_tc.all():
        # "Generate parent sample" mode in CSV: JMeter wrote only the transactions, there is nothing else.
        notes.append("only Transaction Controller samples in the file: each transaction counted as one request")
    elif is_tc.any():
        notes.append(f"{int(is_tc.sum())} Transaction Controller sample(s) not counted as requests")
        requests = requests[~is_tc].reset_index(drop=True)
    if "responseCode" not in names:
        notes.append("no responseCode column: status is empty")
    return LoadtestResult(
        tool="jmeter", format=fmt, source=path, requests=requests, notes=notes, duration_seconds=_span(requests)
    )


def _span(requests: pd.DataFrame) -> float | None:
    if requests.empty:
        return None
    end = (requests["timestamp"] + requests["duration"]).max()
    return float(end - requests["timestamp"].min())


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(REQUEST_COLUMNS, _DTYPES, strict=True)})


_DTYPES = ("float64", "object", "object", "object", "bool", "float64", "float64", "int64")


class _Sample:
    """An open sample element while the XML streams past: its attributes and what is known of its children."""

    __slots__ = ("attrs", "counted", "has_samples", "line", "tag", "url")

    def __init__(self, tag: str, attrs: dict[str, str], line: int, counted: bool) -> None:
        self.tag, self.attrs, self.line, self.counted = tag, attrs, line, counted
        self.has_samples = False
        self.url: list[str] | None = None

    @property
    def is_tc(self) -> bool:
        """A Transaction Controller sample: by its message, or a ``<sample>`` parent of samples."""
        return bool(TC_MESSAGE.search(self.attrs.get("rm", ""))) or (self.tag == "sample" and self.has_samples)


class _XmlReader:
    """Streaming JTL XML: expat events, one open-element stack, rows appended as samples close.

    A top-level sample is counted; a Transaction Controller's children are counted instead of it, and
    any other sample's children are sub-results (redirect hops, embedded resources), not requests. Only
    the stack of open elements is kept, never the tree, so memory follows the rows, not the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[tuple[float, str, str, bool, float, float, str, str]] = []
        self.tc_count = 0
        self.root: str | None = None
        self.stack: list[_Sample | None] = []  # None: a non-sample element
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if self.root is None:
            self.root = tag
            if tag != "testResults":
                raise LoadtestFormatError(f"{self.path}:{line}: root element is <{tag}>, not <testResults>")
            return
        parent = self.stack[-1] if self.stack else None
        if tag in XML_SAMPLE_TAGS:
            if parent is not None:
                parent.has_samples = True
            at_top = not self.stack
            counted = at_top or (parent is not None and parent.counted and parent.is_tc)
            self.stack.append(_Sample(tag, attrs, line, counted))
        elif tag == "java.net.URL" and parent is not None and parent.url is None:
            parent.url = []
            self.stack.append(None)
        else:
            self.stack.append(None)

    def text(self, data: str) -> None:
        if len(self.stack) >= 2 and self.stack[-1] is None:
            owner = self.stack[-2]
            if owner is not None and owner.url is not None and not isinstance(owner.url, str):
                owner.url.append(data)

    def end(self, tag: str) -> None:
        if not self.stack:
            return  # the root closes
        element = self.stack.pop()
        if element is None:
            owner = self.stack[-1] if self.stack else None
            if tag == "java.net.URL" and owner is not None and isinstance(owner.url, list):
                owner.url = "".join(owner.url)  # type: ignore[assignment]
            return
        if not element.counted:
            return
        if element.is_tc:
            self.tc_count += 1
            return
        self.rows.append(_xml_row(self.path, element))

    def feed(self) -> None:
        with bounded_lines(self.path) as handle:
            try:
                while block := handle.read(1 << 20):
                    self.parser.Parse(block, False)
                self.parser.Parse(b"", True)
            except expat.ExpatError as exc:
                raise LoadtestFormatError(
                    f"{self.path}:{exc.lineno}: malformed JMeter XML: {expat.ErrorString(exc.code)}"
                ) from None
            except LoadtestFormatError:
                raise  # raised by a handler: it already names the line (and is a ValueError too)
            except (LookupError, UnicodeError, ValueError) as exc:  # e.g. an unknown encoding="…" declaration
                line = self.parser.CurrentLineNumber
                raise LoadtestFormatError(f"{self.path}:{line}: malformed JMeter XML: {str(exc)[:120]}") from None
        if self.root is None:
            raise LoadtestFormatError(f"{self.path}:1: no <testResults> element")


def read_xml(path: Path) -> LoadtestResult:
    """XML JTL: top-level samples are requests; TC samples are unwrapped, sub-results are not counted."""
    reader = _XmlReader(path)
    reader.feed()
    rows, tc_count = reader.rows, reader.tc_count
    notes = [f"{tc_count} Transaction Controller sample(s) not counted as requests"] if tc_count else []
    if not rows:
        return LoadtestResult(
            tool="jmeter", format="jmeter-xml", source=path, requests=_empty(), notes=[*notes, "no samples"]
        )
    ts, label, status, ok, duration, size, thread, url = zip(*rows, strict=True)
    requests = pd.DataFrame(
        {
            "timestamp": np.asarray(ts, dtype=float),
            "label": list(label),
            "method": "",
            "status": list(status),
            "ok": np.asarray(ok, dtype=bool),
            "duration": np.asarray(duration, dtype=float),
            "bytes": np.asarray(size, dtype=float),
            "count": np.ones(len(rows), dtype="int64"),
            "threadName": list(thread),
            "URL": list(url),
        }
    )
    return LoadtestResult(
        tool="jmeter",
        format="jmeter-xml",
        source=path,
        requests=requests,
        notes=notes,
        duration_seconds=_span(requests),
    )


def _xml_row(path: Path, element: _Sample) -> tuple[float, str, str, bool, float, float, str, str]:
    attrs = element.attrs
    where = f"{path}:{element.line}: <{element.tag} lb={attrs.get('lb', '')[:80]!r}>"
    try:
        ts = float(attrs["ts"]) / 1000.0
        elapsed = float(attrs["t"])
    except (KeyError, ValueError):
        raise LoadtestFormatError(f"{where} lacks a numeric t/ts attribute") from None
    if not math.isfinite(ts):
        raise LoadtestFormatError(f"{where}: ts is not finite")
    check_durations(path, np.array([elapsed]), np.array([element.line]), "t (elapsed)")
    success = attrs.get("s", "").lower()
    if success not in ("true", "false"):
        raise LoadtestFormatError(f"{where} has s={success[:20]!r}")
    url = element.url if isinstance(element.url, str) else ""
    size = float(attrs["by"]) if attrs.get("by", "").isdigit() else float("nan")
    return (
        ts,
        attrs.get("lb", ""),
        attrs.get("rc", ""),
        success == "true",
        elapsed / 1000.0,
        size,
        attrs.get("tn", ""),
        url,
    )


__all__ = ["read", "read_csv", "read_xml", "sniff"]
