"""The evidence packet: a self-describing, canonical, digest-sealed record of one gate evaluation.

Canonical form is JSON with sorted keys, no insignificant whitespace and UTF-8 text; the sha256 of
the canonical packet *without* its ``digest`` member is stored in ``digest.value``. Anyone can recompute
it (``gatepack verify``) to show the packet was not edited after it was written.

Schema 2.0.0 writes each query sent once, in a top-level ``queries`` table, and each check's outcomes as
references into it (:mod:`slo.querytable`); members equal to their schema default are left out of the
checks. In memory an :class:`EvidencePacket` always holds full outcomes, whichever version it was read
from; :func:`seal` writes the version the packet says (a 1.0.0 packet read back is written as before, byte
for byte). Readers of packet documents use :func:`slo.querytable.outcomes_of`, which reads both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from slo.querytable import FormError, QueryTable, table_problem
from slo.results import CheckResult, Verdict
from slo.wire import CheckRecord, QueryEntry, compact_check, expand_check, is_tabled

SCHEMA_VERSION = "2.0.0"
READABLE_MAJORS = frozenset({"1", "2"})
"""Schema major versions this gatepack reads: 1.0.0 packets (full outcomes in every check) still verify."""
DIGEST_ALGORITHM = "sha256"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateRef(_Model):
    id: str
    title: str
    sprint: str | None = None
    owner: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Subject(_Model):
    """What was evaluated: the release under review."""

    environment: str | None = None
    service: str | None = None
    release: str | None = None
    commit: str | None = None
    ci: dict[str, str] = Field(default_factory=dict, description="CI run facts (provider, run id, URL)")


class Evaluation(_Model):
    time: str = Field(description="Evaluation time every query was pinned to (RFC 3339, UTC)")
    started_at: str
    finished_at: str
    windows: list[str] = Field(default_factory=list, description="Every range window that was queried")
    variables: dict[str, str] = Field(default_factory=dict)


class Collector(_Model):
    name: str = "gatepack"
    version: str
    python: str | None = None


class SpecRef(_Model):
    path: str
    sha256: str


class InputFile(_Model):
    """A file the evidence was computed from (load-test results, attestations)."""

    path: str
    sha256: str
    size: int
    role: str
    format: str | None = None


class Backend(_Model):
    kind: str
    url: str = Field(description="Credentials removed")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Non-secret headers sent with every request (a tenant id such as X-Scope-OrgID): they "
        "decide what data was read. Credentials (Authorization, cookies, token/secret/key/password) are never "
        "recorded",
    )


class Override(_Model):
    """A spec field changed for one run with ``--set CHECK.FIELD=VALUE``: the packet says what was decided against."""

    check: str
    field: str = Field(description="target, warn or objective")
    value: float
    spec_value: float | None = Field(None, description="The value the spec file holds")


class Digest(_Model):
    algorithm: str = DIGEST_ALGORITHM
    value: str


class _PacketBase(_Model):
    schema_version: str = SCHEMA_VERSION
    kind: str = "gatepack/evidence"
    gate: GateRef
    subject: Subject
    evaluation: Evaluation
    collector: Collector
    spec: SpecRef
    backends: list[Backend] = Field(default_factory=list)
    inputs: list[InputFile] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list, description="Spec fields overridden for this run")
    verdict: Verdict
    counts: dict[str, int]
    digest: Digest | None = None


class EvidencePacket(_PacketBase):
    """A packet in memory: every check's outcomes in full, whichever schema version it was read from."""

    checks: list[CheckResult]
    _canonical: bytes | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _spelled_out(cls, data: Any) -> Any:
        """A 2.0.0 document's compact checks are expanded (:func:`slo.wire.expand_check`) before they are read."""
        if not isinstance(data, dict) or "queries" not in data or not is_tabled(data):
            return data
        table = data["queries"]
        if not isinstance(table, dict):
            raise ValueError("queries: the table must be an object")
        checks = [expand_check(c, table) if isinstance(c, dict) else c for c in data.get("checks") or []]
        return {**{k: v for k, v in data.items() if k != "queries"}, "checks": checks}


class PacketDocument(_PacketBase):
    """The 2.0.0 packet as written (what ``evidence.schema.json`` describes and ``verify`` checks first)."""

    model_config = ConfigDict(extra="forbid", title="EvidencePacket")

    schema_version: Literal["2.0.0"] = "2.0.0"
    checks: list[CheckRecord]
    queries: dict[str, QueryEntry] = Field(
        description="Every query sent, once, keyed by the first 16 hex digits of the sha256 of the canonical JSON "
        "of [backend, time, query] (all 64 if two keys of one packet would collide); outcomes refer to it by ``ref``"
    )


def canonical_bytes(document: Any) -> bytes:
    """Canonical JSON: sorted keys, compact separators, UTF-8, no NaN/Infinity."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def compute_digest(document: dict[str, Any]) -> str:
    """sha256 over the canonical form of ``document`` without its ``digest`` member."""
    body = {k: v for k, v in document.items() if k != "digest"}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def _pieces(members: dict[str, list[bytes]]) -> list[bytes]:
    """The canonical top-level object as pieces: ``b"".join`` of them equals :func:`canonical_bytes` of the whole."""
    pieces = [b"{"]
    for index, key in enumerate(sorted(members)):
        pieces.append((b"," if index else b"") + canonical_bytes(key) + b":")
        pieces.extend(members[key])
    pieces.append(b"}")
    return pieces


def _encoded_checks(packet: EvidencePacket, table: QueryTable | None) -> Iterator[bytes]:
    """Each check's canonical bytes, one at a time (2.0.0: compact, against ``table``; 1.0.0: in full)."""
    for check in packet.checks:
        yield canonical_bytes(compact_check(check, table) if table is not None else check.model_dump(mode="json"))


def _members(packet: EvidencePacket) -> tuple[dict[str, list[bytes]], Iterator[bytes]]:
    """Every top-level member but ``digest`` and ``checks``, encoded; and the checks, encoded lazily.

    Peak memory matters at 1000 checks: the checks are dumped and encoded one at a time instead of as one
    tree (for 2.0.0 after the query table is planned from the in-memory outcomes), and a caller that
    streams them (:func:`seal_into`) never holds more than one.
    """
    document = packet.model_dump(mode="json", exclude={"digest", "checks"})
    members = {key: [canonical_bytes(value)] for key, value in document.items()}
    table = None
    if is_tabled(document):
        table = QueryTable(packet.checks)
        members["queries"] = [canonical_bytes(table.entries)]
    return members, _encoded_checks(packet, table)


def _listed(items: Iterator[bytes]) -> Iterator[bytes]:
    """canonical_bytes of a list as pieces: its items' canonical bytes between brackets, separated by commas."""
    yield b"["
    for index, item in enumerate(items):
        yield (b"," if index else b"") + item
    yield b"]"


def _joined(members: dict[str, list[bytes]], checks: Iterator[bytes]) -> bytes:
    return b"".join(_pieces({**members, "checks": list(_listed(checks))}))


def packet_document(packet: EvidencePacket) -> dict[str, Any]:
    """The packet as its file holds it, as one JSON tree (for 2.0.0: the query table and references).

    :func:`seal` builds the same document piece by piece; ``packet.model_dump()`` is the in-memory form,
    every outcome in full.
    """
    document = packet.model_dump(mode="json", exclude={"checks"})
    if is_tabled(document):
        table = QueryTable(packet.checks)
        document["checks"] = [compact_check(c, table) for c in packet.checks]
        document["queries"] = table.entries
    else:
        document["checks"] = [c.model_dump(mode="json") for c in packet.checks]
    return document


Write = Callable[[bytes], object]
"""Where :func:`seal_into` sends the packet's bytes (a file's ``write``, ``list.append``)."""


def seal_into(packet: EvidencePacket, write: Write) -> EvidencePacket:
    """Seal ``packet`` and send its canonical bytes to ``write`` as they are encoded, in order; return it sealed.

    The bytes sent are exactly :func:`to_canonical_json` of the returned packet, and its digest is the sha256
    of the same bytes without the ``digest`` member, so nothing needs the whole packet in memory: members
    that sort before ``digest`` (``checks``, the bulk of a large packet, among them) are hashed and sent
    check by check, and the small members after it are encoded and hashed, then sent once the digest is
    known. The returned packet keeps no copy of the bytes (:func:`to_canonical_json` encodes it again).
    """
    members, checks = _members(packet)
    members["checks"] = []  # a placeholder for its place in the key order; its pieces are streamed
    keys = sorted([*members, "digest"])
    place = keys.index("digest")
    hasher = hashlib.sha256()

    def send(piece: bytes) -> None:
        hasher.update(piece)
        write(piece)

    send(b"{")
    for index, key in enumerate(keys[:place]):
        send((b"," if index else b"") + canonical_bytes(key) + b":")
        for piece in _listed(checks) if key == "checks" else members[key]:
            send(piece)
    # after the digest: hashed as the digest-less document has them, sent once the digest is known
    tail = [(key, canonical_bytes(key) + b":", members[key]) for key in keys[place + 1 :]]
    for index, (_, name, pieces) in enumerate(tail):
        hasher.update((b"," if index or place else b"") + name)
        for piece in pieces:
            hasher.update(piece)
    hasher.update(b"}")
    digest = Digest(value=hasher.hexdigest())
    write((b"," if place else b"") + canonical_bytes("digest") + b":" + canonical_bytes(digest.model_dump(mode="json")))
    for _, name, pieces in tail:
        write(b"," + name)
        for piece in pieces:
            write(piece)
    write(b"}")
    return packet.model_copy(update={"digest": digest})


def seal(packet: EvidencePacket) -> EvidencePacket:
    """The packet with its digest filled in (its canonical bytes are kept for :func:`to_canonical_json`).

    :func:`seal_into` a list of pieces, joined once: the packet's bytes exist as pieces plus one joined copy.
    Writers that only need the bytes in a file stream them there instead (``collector.run.collect``).
    """
    pieces: list[bytes] = []
    sealed = seal_into(packet, pieces.append)
    sealed._canonical = b"".join(pieces)
    return sealed


def to_canonical_json(packet: EvidencePacket) -> bytes:
    """The bytes to write for a sealed packet (an unsealed one has no ``digest`` member)."""
    if packet._canonical is not None:
        return packet._canonical
    members, checks = _members(packet)
    if packet.digest is not None:
        members["digest"] = [canonical_bytes(packet.digest.model_dump(mode="json"))]
    return _joined(members, checks)


class VerifyResult(BaseModel):
    ok: bool
    reason: str
    expected: str | None = None
    actual: str | None = None


MAX_PACKET_BYTES = 64 * 1024 * 1024
"""Largest packet :func:`verify_bytes` reads by default (a 1000-check packet is a few MB); callers may raise it."""
MAX_PACKET_DEPTH = 64
"""Deepest nesting a packet may have; a real one is under ten levels deep."""


class _PacketSyntaxError(ValueError):
    """The bytes are JSON but not a packet gatepack could have written (duplicate key, NaN, too deep)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a second member with the same name is an error, never "the last one wins".

    Parsers disagree on duplicates (some keep the first), so a packet with two ``verdict`` members
    could show a reviewer a different verdict from the one that was sealed.
    """
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _PacketSyntaxError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise _PacketSyntaxError(f"{name} is not JSON")


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


def _first_difference(a: bytes, b: bytes) -> int:
    limit = min(len(a), len(b))
    return next((i for i in range(limit) if a[i] != b[i]), limit)


def verify_bytes(data: bytes, max_bytes: int = MAX_PACKET_BYTES) -> VerifyResult:
    """Check that ``data`` is exactly a sealed packet's canonical bytes and that its digest matches.

    The bytes themselves are verified, not a re-serialisation of what a parser made of them: they must
    be the canonical form (optionally followed by one newline, as ``--out -`` prints it). Anything a
    lenient parser would smooth over — a duplicate key, reformatting, ``NaN``, ``1.50`` for ``1.5`` —
    is therefore reported instead of verified. Size and nesting depth are bounded before and while
    parsing, so a hostile file cannot exhaust memory or the stack.
    """
    if len(data) > max_bytes:
        return VerifyResult(
            ok=False, reason=f"the file is {len(data)} bytes, more than the {max_bytes}-byte limit for a packet"
        )
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _PacketSyntaxError as exc:
        return VerifyResult(ok=False, reason=f"not an evidence packet: {exc}")
    except RecursionError:
        return VerifyResult(ok=False, reason=f"not an evidence packet: nested deeper than {MAX_PACKET_DEPTH} levels")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return VerifyResult(ok=False, reason=f"not a JSON document: {exc}")
    if _depth_exceeds(document, MAX_PACKET_DEPTH):
        return VerifyResult(ok=False, reason=f"not an evidence packet: nested deeper than {MAX_PACKET_DEPTH} levels")
    if not isinstance(document, dict):
        return VerifyResult(ok=False, reason="not an evidence packet (top level is not an object)")
    try:
        canonical = canonical_bytes(document)
    except ValueError as exc:
        return VerifyResult(ok=False, reason=f"packet cannot be canonicalised: {exc}")
    if canonical != body:
        at = _first_difference(canonical, body)
        return VerifyResult(
            ok=False,
            reason=f"not in canonical form (differs at byte {at}): the packet was re-serialised or edited after "
            "it was sealed",
        )
    digest = document.get("digest")
    if not isinstance(digest, dict) or not isinstance(digest.get("value"), str):
        return VerifyResult(ok=False, reason="the packet has no digest")
    if digest.get("algorithm") != DIGEST_ALGORITHM:
        return VerifyResult(ok=False, reason=f"unsupported digest algorithm {digest.get('algorithm')!r}")
    try:
        actual = compute_digest(document)
    except ValueError as exc:
        return VerifyResult(ok=False, reason=f"packet cannot be canonicalised: {exc}")
    if actual != digest["value"]:
        return VerifyResult(
            ok=False,
            reason="digest mismatch: the packet was changed after it was sealed",
            expected=digest["value"],
            actual=actual,
        )
    problem = schema_problem(document)
    if problem is not None:
        return VerifyResult(ok=False, reason=f"digest matches but {problem}", expected=digest["value"], actual=actual)
    return VerifyResult(ok=True, reason="digest matches", expected=digest["value"], actual=actual)


def _one_line(exc: ValueError) -> str:
    """A validation error in one line: its count and the first problem with where it is."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found = errors()
    first = found[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"


def schema_problem(document: dict[str, Any]) -> str | None:
    """Why a digest-checked document is not a packet this gatepack reads, in one line; None when it is.

    A 2.0.0 document is checked as written first (:class:`PacketDocument`), then its query table
    (:func:`slo.querytable.table_problem`: dangling or restating references, entries whose key is not
    their own query's), then the expanded packet, so every outcome is a whole :class:`QueryOutcome`.
    """
    version = document.get("schema_version")
    if not isinstance(version, str) or version.split(".", 1)[0] not in READABLE_MAJORS:
        return f"schema_version {version!r} is not one this gatepack reads (1.x or {SCHEMA_VERSION})"
    try:
        if is_tabled(document):
            PacketDocument.model_validate(document)
            problem = table_problem(document["queries"], document["checks"])
            if problem is not None:
                return f"the packet's query table is inconsistent: {problem}"
            for check in document["checks"]:
                expand_check(check, document["queries"])  # ragged columns, alerts without a window: one line
        EvidencePacket.model_validate(document)
    except FormError as exc:
        return f"the packet's compact form is inconsistent: {exc}"
    except ValueError as exc:
        return f"the packet does not fit the schema ({version}): {_one_line(exc)}"
    return None
