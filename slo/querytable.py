"""The ``queries`` table of a 2.0.0 evidence packet: each query sent recorded once, each outcome a reference.

A gate of a thousand SLOs sends grouped queries (``sum by (service) (…{service=~"a|b|…"}…)``) that answer
up to a thousand checks each; a 1.0.0 packet wrote that text, its backend, time, digest and attempts into
every one of those checks' outcomes. A 2.0.0 packet writes them once, in ``queries`` keyed by
:func:`query_key` (a sha256 prefix of the query's text, backend and time, so a key cannot be edited apart
from what it names), and each outcome becomes ``{"ref": KEY, "value": …}`` plus whatever else is its own.
Nothing is lost: a member goes into the entry only when every outcome of that query has the same value for
it, and the full outcome is the entry with the reference laid over it (:func:`expand_reference`). Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from slo.results import CheckResult, QueryOutcome

KEY_FIELDS = ("query", "backend", "time")
"""What a table key is computed from: the same text sent to the same backend for the same instant."""
OWN_FIELDS = frozenset({"value"})
"""Always each outcome's own, even when equal across outcomes: the number the check read from the answer."""
SHAREABLE = tuple(name for name in QueryOutcome.model_fields if name not in OWN_FIELDS)
KEY_LENGTH = 16
"""Hex digits of a key (64 bits): all 64 are used only if two queries of one packet share a prefix."""
_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in QueryOutcome.model_fields.items()
    if not field.is_required()
}

Identity = tuple[str, str | None, str | None]


class FormError(ValueError):
    """A 2.0.0 packet whose compact parts do not fit together (a dangling reference, ragged columns)."""


def query_key(query: str, backend: str | None, time: str | None) -> str:
    """The full sha256 (hex) a table key is a prefix of: over the canonical JSON of [backend, time, query]."""
    text = json.dumps([backend, time, query], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class QueryTable:
    """The table for a list of checks, decided from the in-memory outcomes before any check is written.

    Sealing encodes checks one at a time to keep peak memory down, so which members every outcome of a
    query agrees on is found first from the objects; :meth:`reference` then writes each outcome on its own.
    """

    def __init__(self, checks: Sequence[CheckResult]) -> None:
        uses: dict[Identity, list[QueryOutcome]] = {}
        for check in checks:
            for outcome in check.queries:
                uses.setdefault((outcome.query, outcome.backend, outcome.time), []).append(outcome)
        self.entries: dict[str, dict[str, Any]] = {}
        self._keys: dict[Identity, str] = {}
        self._own: dict[Identity, set[str]] = {}
        for identity, outcomes in uses.items():
            digest = query_key(*identity)
            key = digest[:KEY_LENGTH] if digest[:KEY_LENGTH] not in self.entries else digest
            first = outcomes[0]
            shared = {n for n in SHAREABLE if all(getattr(o, n) == getattr(first, n) for o in outcomes[1:])}
            self.entries[key] = first.model_dump(mode="json", include=shared, exclude_defaults=True)
            self._keys[identity] = key
            self._own[identity] = set(QueryOutcome.model_fields) - shared

    def reference(self, outcome: QueryOutcome) -> dict[str, Any]:
        """``outcome`` as a reference: its key and the members that are its own (defaults left out)."""
        identity = (outcome.query, outcome.backend, outcome.time)
        own = outcome.model_dump(mode="json", include=self._own[identity], exclude_defaults=True)
        return {"ref": self._keys[identity], **own}


def expand_reference(
    reference: Mapping[str, Any], table: Mapping[str, Any], where: str, inherited: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The full outcome (every :class:`QueryOutcome` member, as a 1.0.0 packet wrote it) of one reference.

    ``inherited`` holds members the check states once for all its outcomes (``selected``).
    """
    key = reference.get("ref")
    entry = table.get(key) if isinstance(key, str) else None
    if not isinstance(entry, Mapping):
        raise FormError(f"{where} refers to {key!r}, which is not in the packet's queries table")
    full = {name: list(value) if isinstance(value, list) else value for name, value in _DEFAULTS.items()}
    full.update(entry)
    if inherited:
        full.update(inherited)
    full.update((name, value) for name, value in reference.items() if name != "ref")
    return full


def where(check: Mapping[str, Any], index: int) -> str:
    """How messages name one outcome: ``check 'availability' query 3``."""
    return f"check {check.get('id')!r} query {index + 1}"


def table_problem(table: Mapping[str, Any], checks: Sequence[Any]) -> str | None:
    """The first way references and table do not fit together, in one line; None when they fit.

    Run on a packet whose digest matched: a table edited and re-sealed still has to name each entry by
    the sha256 of its own query, backend and time; every reference has to find its entry and add only
    members neither the entry nor its check states; every entry has to be used by some check.
    """
    for key, entry in table.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("query"), str):
            return f"queries table entry {key!r} has no query text"
        digest = query_key(entry["query"], entry.get("backend"), entry.get("time"))
        if key not in {digest[:KEY_LENGTH], digest}:
            return (
                f"queries table entry {key!r} is not the key of its own query, backend and time "
                f"({digest[:KEY_LENGTH]!r}): the entry was edited"
            )
    used: set[str] = set()
    for check in checks:
        if not isinstance(check, Mapping):
            continue
        hoisted = {"selected"} & set(check)
        for index, reference in enumerate(check.get("queries") or []):
            if not isinstance(reference, Mapping):
                continue
            ref = reference.get("ref")
            entry = table.get(ref) if isinstance(ref, str) else None
            if not isinstance(ref, str) or not isinstance(entry, Mapping):
                return f"{where(check, index)} refers to {ref!r}, which is not in the packet's queries table"
            own = set(reference) - {"ref"}
            both = sorted((set(entry) & (own | hoisted)) | (own & hoisted))
            if both:
                return f"{where(check, index)} restates {', '.join(both)}, which its check or table entry records"
            used.add(ref)
    unused = sorted(set(table) - used)
    if unused:
        return f"queries table entry {unused[0]!r} is referenced by no check"
    return None
