"""Sealing straight into a file (issue 16): the same bytes and digest as sealing in memory, without the copy.

``collect`` used to seal each packet into one ``bytes`` (its pieces joined) and then write it; at 1000 SLOs
that was the last 5 MiB of the run's peak. :func:`slo.evidence.seal_into` sends the pieces to a writer as
they are encoded and hashes the same bytes without the ``digest`` member. What must not change is every
byte: the streamed bytes are compared with :func:`slo.evidence.seal` (which keeps them) and with the
whole-tree canonical form computed independently with ``json.dumps``, for both schema versions.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path

import pytest

from collector.sinks.files import NewFile, Placement
from slo.evidence import EvidencePacket, packet_document, seal, seal_into, to_canonical_json, verify_bytes

GOLDEN = Path(__file__).parent / "golden" / "packet.json"
V1 = Path(__file__).parent / "fixtures" / "packets-1.0.0" / "golden-packet.json"


def unsealed(path: Path, copies: int) -> EvidencePacket:
    """The golden packet read back without its digest, its checks repeated ``copies`` times (renamed)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("digest")
    packet = EvidencePacket.model_validate(document)
    checks = [c.model_copy(update={"id": f"{c.id}-{n}"}) for n in range(copies) for c in packet.checks]
    return packet.model_copy(update={"checks": checks or packet.checks})


def whole_tree(packet: EvidencePacket) -> bytes:
    """The canonical form computed here in one go with the standard library, not by the sealing code."""
    return json.dumps(
        packet_document(packet), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@pytest.mark.parametrize("source", [GOLDEN, V1], ids=["2.0.0", "1.0.0"])
@pytest.mark.parametrize("copies", [1, 40])
def test_streamed_bytes_and_digest_equal_the_in_memory_seal(source: Path, copies: int) -> None:
    packet = unsealed(source, copies)
    pieces: list[bytes] = []
    streamed = seal_into(packet, pieces.append)
    data = b"".join(pieces)
    kept = seal(packet)
    assert data == to_canonical_json(kept)
    assert streamed.digest == kept.digest
    assert data == whole_tree(streamed)
    body = {k: v for k, v in json.loads(data).items() if k != "digest"}
    expected = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert streamed.digest is not None and streamed.digest.value == expected.hexdigest()
    assert verify_bytes(data).ok
    assert to_canonical_json(streamed) == data  # encoded again on demand: the streamed packet keeps no copy


def test_the_golden_packet_streams_to_its_own_bytes() -> None:
    """Read back and re-sealed, the golden packet streams to exactly its canonical bytes, with its digest."""
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))  # the golden file is pretty-printed for review
    data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    pieces: list[bytes] = []
    sealed = seal_into(unsealed(GOLDEN, 0), pieces.append)
    assert b"".join(pieces) == data
    assert sealed.digest is not None and sealed.digest.value == document["digest"]["value"]


def test_streaming_into_a_file_never_holds_the_whole_packet(tmp_path: Path) -> None:
    """Peak memory while sealing into a file stays far below the packet's size; sealing in memory needs twice it."""
    packet = unsealed(GOLDEN, 400)
    size = len(to_canonical_json(seal(packet)))
    assert size > 1_000_000  # large enough that one copy would dominate the peak

    def peak(run: object) -> int:
        tracemalloc.start()
        try:
            run()  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    target = tmp_path / "big.json"

    def streamed() -> None:
        with NewFile(target) as new:
            sealed = seal_into(packet, new.write)
            assert new.place().placement is Placement.WRITTEN
        assert sealed.digest is not None

    streamed_peak = peak(streamed)
    in_memory_peak = peak(lambda: seal(packet))
    assert target.read_bytes() == to_canonical_json(seal(packet))
    assert verify_bytes(target.read_bytes()).ok
    assert streamed_peak < size / 2, (streamed_peak, size)
    assert in_memory_peak >= 2 * size  # the pieces and their joined copy


def test_a_streamed_file_with_the_bytes_already_there_is_left_alone(tmp_path: Path) -> None:
    packet = unsealed(GOLDEN, 3)
    target = tmp_path / "g.json"
    fallback = tmp_path / "g-alt.json"
    results = []
    for _ in range(2):
        with NewFile(target) as new:
            seal_into(packet, new.write)
            results.append(new.place([fallback]))
    assert [r.placement for r in results] == [Placement.WRITTEN, Placement.UNCHANGED]
    with NewFile(target) as new:
        new.write(b"other bytes")
        assert new.place([fallback]).placement is Placement.RENAMED
    assert fallback.read_bytes() == b"other bytes" and target.read_bytes() == to_canonical_json(seal(packet))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g-alt.json", "g.json"]  # no temporary file left


def test_a_failed_stream_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "g.json"
    with pytest.raises(RuntimeError), NewFile(target) as new:
        new.write(b"{half")
        raise RuntimeError("encoding failed")
    assert list(tmp_path.iterdir()) == []
