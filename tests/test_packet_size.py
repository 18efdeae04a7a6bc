"""Sealing a large packet piece by piece must give exactly the bytes and digest of the whole-tree form.

``seal`` encodes checks one at a time to keep peak memory down at 1000 checks; any drift from
``canonical_bytes(model_dump())`` would make every packet fail ``gatepack verify``, so the two are compared
on the golden packet, on a packet with no checks and on one with many.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from slo.evidence import EvidencePacket, canonical_bytes, seal, to_canonical_json, verify_bytes

GOLDEN = Path(__file__).parent / "golden" / "packet.json"


def _unsealed(copies: int) -> EvidencePacket:
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))
    document.pop("digest")
    checks = document["checks"]
    document["checks"] = [{**check, "id": f"{check['id']}-{n}"} for n in range(copies) for check in checks]
    return EvidencePacket.model_validate(document)


@pytest.mark.parametrize("copies", [0, 1, 50])
def test_sealed_bytes_equal_the_whole_tree_canonical_form(copies: int) -> None:
    sealed = seal(_unsealed(copies))
    data = to_canonical_json(sealed)
    assert data == canonical_bytes(sealed.model_dump(mode="json"))
    body = {k: v for k, v in json.loads(data).items() if k != "digest"}
    assert sealed.digest is not None
    assert sealed.digest.value == hashlib.sha256(canonical_bytes(body)).hexdigest()
    assert verify_bytes(data).ok
