"""A check's span filter written as TraceQL, the text Tempo is sent and the packet records.

Every user value is a quoted TraceQL string (backslash and quote escaped) or a number, so a filter
value can never change the query's structure. Regexes are wrapped as ``.*(?:…).*`` because TraceQL's
``=~`` must match the whole value while gatepack's filters search (as they do on files and Jaeger).
"""

from __future__ import annotations

import re

from slo.spec import SpanFilter

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class UnsupportedFilter(ValueError):
    """A filter condition TraceQL cannot express (the check becomes an error, never a wider query)."""


def string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def attribute(key: str, scope: str = "") -> str:
    """``.gen_ai.tool.name`` (span, then resource), or ``span.gen_ai…`` with a scope; odd names quoted."""
    return f"{scope}.{key}" if _PLAIN_KEY.match(key) else f"{scope}.{string(key)}"


def literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return string(value)


def _search(regex: str) -> str:
    return string(f".*(?:{regex}).*")


def conditions(spec: SpanFilter) -> list[str]:
    if spec.root is not None:
        raise UnsupportedFilter("the 'root' filter is not supported on Tempo (use span_name or a TraceQL attribute)")
    out: list[str] = []
    if spec.service is not None:
        out.append(f"resource.service.name = {string(spec.service)}")
    if spec.span_name is not None:
        out.append(f"name = {string(spec.span_name)}")
    if spec.span_name_regex is not None:
        out.append(f"name =~ {_search(spec.span_name_regex)}")
    if spec.span_kind is not None:
        out.append(f"kind = {spec.span_kind}")
    if spec.status is not None:
        out.append(f"status = {spec.status}")
    for key, value in spec.attributes.items():
        out.append(f"{attribute(key)} = {literal(value)}")
    for key, regex in spec.attributes_regex.items():
        out.append(f"{attribute(key)} =~ {_search(regex)}")
    if spec.min_duration is not None:
        out.append(f"duration >= {spec.min_duration.replace('µs', 'us')}")
    return out


def spanset(spec: SpanFilter, *extra: str) -> str:
    """``{ a && b }``; ``{ }`` matches every span."""
    parts = [*conditions(spec), *extra]
    return "{ " + " && ".join(parts) + " }" if parts else "{ }"


def by_clause(keys: list[str]) -> str:
    return f" by ({', '.join(attribute(k) for k in keys)})" if keys else ""
