"""Write OpenMetrics text for backfilling a TSDB (``promtool tsdb create-blocks-from openmetrics``).

Used by the demo world, the benchmarks and the tests to load history with a known truth into a real
Prometheus. Samples of one metric family are written together, each series in time order, as promtool
requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from slo.templating import escape_promql_string


@dataclass
class Series:
    """One time series: a sample name (with ``_total``/``_bucket`` suffix), labels and samples."""

    name: str
    labels: Mapping[str, str]
    timestamps: np.ndarray  # Unix seconds
    values: np.ndarray


@dataclass
class Family:
    """A metric family: its ``# TYPE`` and every series that belongs to it."""

    name: str
    type: str  # counter, gauge, histogram
    help: str = ""
    series: list[Series] = field(default_factory=list)


def _label_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_promql_string(str(v))}"' for k, v in labels.items()) + "}"


def _format_values(values: np.ndarray) -> list[str]:
    return [repr(float(v)) if not float(v).is_integer() else str(int(v)) for v in values]


def iter_lines(families: Iterable[Family]) -> Iterator[str]:
    for family in families:
        yield f"# TYPE {family.name} {family.type}\n"
        if family.help:
            yield f"# HELP {family.name} {family.help}\n"
        for series in family.series:
            prefix = series.name + _label_text(series.labels) + " "
            stamps = series.timestamps.astype(np.int64).astype(str)
            values = _format_values(series.values)
            yield "".join(f"{prefix}{v} {t}\n" for v, t in zip(values, stamps, strict=True))
    yield "# EOF\n"


def write_openmetrics(families: Iterable[Family], handle) -> None:
    for chunk in iter_lines(families):
        handle.write(chunk)
