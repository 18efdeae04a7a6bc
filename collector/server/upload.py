"""A packet posted together with the raw backend responses it was computed from (``--keep-responses``).

``POST /api/v1/packets`` takes a packet or a DSSE envelope as the whole body; a packet written with
``--keep-responses`` also has ``responses/<sha256>.json.gz`` files beside it that ``verify --deep``
re-derives its values from. Those travel in an upload object instead::

    {"packet": "<the packet file's exact text>", "responses": {"<sha256>": "<base64 of the .json.gz file>"}}

The packet is carried as text so a signed envelope keeps its exact bytes. Every response must be gzip
whose content hashes to its name, and must be one the packet names (a ``response_sha256`` of its queries);
anything else rejects the whole upload, so the store never holds a body no packet accounts for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

from collector.server.intake import Rejected
from slo.wire import response_digests

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest decompressed response accepted (the Prometheus client refuses bodies above its own limit first)."""


def unwrap(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """(packet bytes, kept responses sha256 → gzip bytes); a body that is not an upload is returned as is."""
    try:
        parsed: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return data, {}  # check_packet names the problem
    if not isinstance(parsed, dict) or "packet" not in parsed:
        return data, {}
    unknown = sorted(set(parsed) - {"packet", "responses"})
    if unknown:
        raise Rejected(400, "upload", f"upload: unknown field {unknown[0]!r} (have: packet, responses)")
    packet, responses = parsed["packet"], parsed.get("responses") or {}
    if not isinstance(packet, str):
        raise Rejected(400, "upload", "upload: packet must be the packet file's text (a string)")
    if not isinstance(responses, dict):
        raise Rejected(400, "upload", "upload: responses must map sha256 to base64 gzip")
    kept: dict[str, bytes] = {}
    for sha, encoded in responses.items():
        if not SHA_RE.fullmatch(sha) or not isinstance(encoded, str):
            raise Rejected(400, "upload", "upload: responses must map 64 lowercase hex digits to base64 text")
        try:
            compressed = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(400, "upload", f"upload: response {sha[:12]}…: not base64") from None
        if hashlib.sha256(_gunzip(compressed, sha)).hexdigest() != sha:
            raise Rejected(
                422, "response_digest", f"upload: response {sha[:12]}…: its content does not hash to its name"
            )
        kept[sha] = compressed
    return packet.encode("utf-8"), kept


def _gunzip(data: bytes, sha: str) -> bytes:
    """Decompress at most :data:`MAX_RESPONSE_BYTES` (a small gzip can expand without bound)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_RESPONSE_BYTES)
        if inflater.unconsumed_tail:
            raise Rejected(413, "size", f"upload: response {sha[:12]}… is larger than {MAX_RESPONSE_BYTES} bytes")
        if not inflater.eof or inflater.unused_data:
            raise Rejected(422, "response_digest", f"upload: response {sha[:12]}…: not one complete gzip stream")
    except zlib.error:
        raise Rejected(422, "response_digest", f"upload: response {sha[:12]}…: not gzip") from None
    return out


def unnamed(packet: dict[str, Any], kept: dict[str, bytes]) -> list[str]:
    """Kept responses the packet does not name."""
    named = set(response_digests(packet))  # 2.0.0: in the query table; 1.0.0: in each outcome
    return sorted(sha for sha in kept if sha not in named)


def upload_body(packet_path: Path) -> bytes:
    """The upload for a packet file and the kept responses beside it (``<dir>/responses/<sha>.json.gz``)."""
    from collector.sinks.responses import RESPONSES_DIR
    from slo.dsse import verify_file_bytes

    data = packet_path.read_bytes()
    document = verify_file_bytes(data).packet or {}
    return build_upload(data, kept_responses(document, packet_path.parent / RESPONSES_DIR))


def kept_responses(document: dict[str, Any], directory: Path) -> dict[str, bytes]:
    """The kept responses (``<sha256>.json.gz`` in ``directory``) that ``document`` names; absent ones are skipped.

    Only named bodies are read, so a shared responses folder (many runs, one ``-o`` directory) never sends a
    body the server would refuse as unnamed.
    """
    found: dict[str, bytes] = {}
    for sha in response_digests(document):
        path = directory / f"{sha}.json.gz"
        if path.is_file():
            found[sha] = path.read_bytes()
    return found


def build_upload(data: bytes, responses: dict[str, bytes]) -> bytes:
    """The upload object for a packet file's exact bytes (UTF-8 text) and kept responses (sha256 → gzip bytes)."""
    encoded = {sha: base64.b64encode(blob).decode("ascii") for sha, blob in responses.items()}
    return json.dumps({"packet": data.decode("utf-8"), "responses": encoded}).encode("utf-8")
